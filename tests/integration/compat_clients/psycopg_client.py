"""psycopg 3 as an application uses it, for test_compat_psycopg.py: run once
directly and once through pgwarden, it prints one JSON document of what it
saw; the test compares the two.

    python3 psycopg_client.py HOST PORT USER DATABASE

The password, if any, comes from PGPASSWORD (libpq): through pgwarden
there is none.
"""

import json
import sys

import psycopg

CUSTOMERS = ("SELECT id, name, email, ssn, card_number, phone, notes, profile "
             "FROM customers ORDER BY id")


def error(exc):
    return {"error": exc.sqlstate, "class": type(exc).__name__, "message": exc.diag.message_primary}


def described(cur):
    return [[d.name, d.type_code] for d in cur.description]


def named_cursors(conn):
    """Server-side cursors: DECLARE, then FETCH FORWARD itersize until done,
    CLOSE (psycopg's ServerCursor); text and binary results."""
    out = {}
    with conn.transaction():
        with conn.cursor(name="compat_customers") as cur:
            cur.itersize = 400
            cur.execute(CUSTOMERS)
            out["description"] = described(cur)
            first = cur.fetchone()
            some = cur.fetchmany(9)
            rest = list(cur)
            out["rows"] = [list(first)] + [list(r) for r in some + rest]
        with conn.cursor(name="compat_customers_binary", binary=True) as cur:
            cur.execute(CUSTOMERS + " LIMIT %s", [60])
            out["binary_description"] = described(cur)
            out["binary_rows"] = [list(r) for r in cur.fetchall()]
        with conn.cursor(name="compat_orders", scrollable=True) as cur:
            cur.execute("SELECT id, customer_id, amount FROM orders ORDER BY id")
            cur.scroll(100, mode="absolute")
            out["scrolled"] = [list(r) for r in cur.fetchmany(5)]
    return out


def outside_transactions(conn):
    """In autocommit: a WITH HOLD cursor (it outlives the DECLARE's
    implicit transaction) and stream() (single-row mode)."""
    out = {}
    with conn.cursor(name="compat_held", withhold=True) as cur:
        cur.itersize = 7
        cur.execute("SELECT id, email, ssn FROM customers WHERE id <= %s ORDER BY id", [25])
        out["withhold"] = [list(r) for r in cur]
    with conn.cursor() as cur:
        out["stream"] = [list(r) for r in cur.stream(
            "SELECT id, email, ssn FROM customers WHERE id > %s ORDER BY id LIMIT 25", [2000])]
    return out


def copy_out(conn):
    """COPY ... TO STDOUT, the table form and the query form; after each,
    whether the session still answers and is idle."""
    out = {}
    for name, sql in (("table", "COPY customers (id, email, ssn) TO STDOUT"),
                      ("query", "COPY (SELECT id, email FROM customers WHERE id <= 5 ORDER BY id) TO STDOUT")):
        try:
            with conn.cursor() as cur:
                with cur.copy(sql) as copy:
                    data = b"".join(bytes(chunk) for chunk in copy)
            out[name] = {"lines": data.decode().count("\n")}
        except psycopg.Error as exc:
            out[name] = error(exc)
        out[name]["after"] = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        out[name]["status"] = conn.info.transaction_status.name
    return out


def pipeline(conn):
    """Several statements in one pipeline (one Sync at the end)."""
    with conn.pipeline():
        cursors = [
            conn.execute("SELECT count(*), max(id) FROM customers"),
            conn.execute("SELECT id, name, email, ssn, card_number FROM customers WHERE id = ANY(%s) ORDER BY id",
                         [[3, 1, 4, 15, 9, 26]]),
            conn.execute("SELECT customer_id, sum(amount), count(*) FROM orders WHERE customer_id <= %s "
                         "GROUP BY customer_id ORDER BY customer_id", [20]),
            conn.execute("SELECT name FROM customers WHERE id = %s", [7], prepare=True),
            conn.execute("SELECT name FROM customers WHERE id = %s", [8], prepare=True),
            conn.execute("SHOW search_path"),
        ]
    return [{"description": described(c), "rows": [list(r) for r in c.fetchall()]} for c in cursors]


def main():
    host, port, user, dbname = sys.argv[1:5]
    out = {}
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, connect_timeout=10) as conn:
        out["named_cursors"] = named_cursors(conn)
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, connect_timeout=10,
                         autocommit=True) as conn:
        out["autocommit"] = outside_transactions(conn)
        out["copy"] = copy_out(conn)
        out["pipeline"] = pipeline(conn)
        out["pipeline_status"] = conn.info.transaction_status.name
    json.dump(out, sys.stdout, default=str, ensure_ascii=False)


if __name__ == "__main__":
    main()
