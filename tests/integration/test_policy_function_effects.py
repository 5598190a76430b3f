"""Function calls are decided by what they do, not only by being in a SELECT.

Under a policy that allows reading and denies every write and lock:
`SELECT setval('orders_id_seq', 5000)` and `nextval(...)` passed as plain
selects and changed the sequence for good (no rollback undoes it), and
`pg_advisory_lock(1)` passed although `lock` is denied. SQL held in a string
that a function runs (query_to_xml) takes the classes of that SQL. Each
statement is refused with 42501 and the database shows no effect.
"""

import os

import psycopg
import pytest

DB = "app"


def overrides():
    return {
        "default": "deny",
        "identities": [{"name": "agent", "match": {"uid": [os.geteuid()]}}],
        "policies": [{"identity": "agent", "allow": ["select", "transaction", "function:query_to_xml"],
                      "deny": ["insert", "update", "delete", "lock"]}],
    }


def sequence_state(cluster):
    return cluster.execute("SELECT last_value, is_called FROM public.orders_id_seq", dbname=DB)


def denied(conn, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        conn.execute(sql)
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on
    return info.value.diag.message_primary


def test_sequence_functions_are_updates_of_the_sequence(make_pgwarden, cluster):
    pw = make_pgwarden(overrides=overrides())
    before = sequence_state(cluster)
    with pw.connect(unix=True, autocommit=True, dbname=DB) as conn:
        for sql in ["SELECT setval('orders_id_seq', 5000)",
                    "SELECT nextval('public.orders_id_seq')",
                    "SELECT * FROM nextval('orders_id_seq')",
                    "SELECT query_to_xml('SELECT setval(''orders_id_seq'', 5000)', true, false, '')"]:
            assert denied(conn, sql) == "pgwarden: update on public.orders_id_seq denied by policy for agent", sql
        assert denied(conn, "SELECT nextval(pg_get_serial_sequence('orders', 'id'))") == \
            "pgwarden: update on sequence denied by policy for agent"
        # Reading a sequence stays a read (the server's own error: nothing
        # was drawn from it in this session).
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            conn.execute("SELECT currval('orders_id_seq')")
    assert sequence_state(cluster) == before


def test_advisory_locks_are_locks(make_pgwarden, cluster):
    pw = make_pgwarden(overrides=overrides())
    with pw.connect(unix=True, autocommit=True, dbname=DB) as conn:
        for sql in ["SELECT pg_advisory_lock(1)", "SELECT pg_try_advisory_lock(2, 3)",
                    "SELECT pg_advisory_lock_shared(4)",
                    "SELECT query_to_xml('SELECT pg_try_advisory_lock(5)', true, false, '')"]:
            assert denied(conn, sql) == "pgwarden: lock on advisory lock denied by policy for agent", sql
        held = cluster.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", dbname=DB)
        assert held == [(0,)]


def test_sql_in_a_string_takes_the_classes_of_that_sql(make_pgwarden, cluster):
    pw = make_pgwarden(overrides=overrides())
    with pw.connect(unix=True, autocommit=True, dbname=DB) as conn:
        assert denied(conn, "SELECT query_to_xml('DELETE FROM orders WHERE id = 1 RETURNING 1', true, false, '')") \
            == "pgwarden: delete on public.orders denied by policy for agent"
        assert denied(conn, "SELECT query_to_xml(current_setting('application_name'), true, false, '')") == \
            "pgwarden: unknown on dynamic SQL denied by policy for agent"
        # What the policy allows still runs.
        xml = conn.execute("SELECT query_to_xml('SELECT id FROM orders WHERE id = 1', true, false, '')").fetchone()[0]
        assert "<id>1</id>" in xml
