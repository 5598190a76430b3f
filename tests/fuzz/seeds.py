#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/seed-*: small real
inputs in each target's input format (see the header of fuzz_<target>.cpp).
The wire messages are what psql and pgbench send and receive (simple Query;
pgbench -M extended's Parse/Bind/Describe/Execute/Sync with its own
statements); the SQL is the policy corpus (tests/unit/policy/corpus); the
configs are policies/*.yaml. Run it again after changing an input format:
it rewrites only seed-* files, never a regression-* input.

    tests/fuzz/seeds.py
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fuzz/corpus"


def msg(t, body=b""):
    return t + struct.pack(">I", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


# ---- frontend messages
def query(sql):
    return msg(b"Q", cstr(sql))


def parse(name, sql, oids=()):
    return msg(b"P", cstr(name) + cstr(sql) + i16(len(oids)) + b"".join(struct.pack(">I", o) for o in oids))


def bind(portal, stmt, values=(), result_formats=()):
    body = cstr(portal) + cstr(stmt) + i16(0) + i16(len(values))
    for v in values:
        body += i32(-1) if v is None else i32(len(v)) + v
    body += i16(len(result_formats)) + b"".join(i16(f) for f in result_formats)
    return msg(b"B", body)


def describe(kind, name):
    return msg(b"D", kind + cstr(name))


def execute(portal, rows=0):
    return msg(b"E", cstr(portal) + i32(rows))


SYNC = msg(b"S")
FLUSH = msg(b"H")
TERMINATE = msg(b"X")

PGBENCH = [
    "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
    "SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
    "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;",
    "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
]


def pgbench_extended():
    out = query("BEGIN;")
    for i, sql in enumerate(PGBENCH):
        n = sql.count("$")
        out += parse("", sql) + bind("", "", [str(i + 1).encode()] * n) + describe(b"P", "") + execute("") + SYNC
    return out + query("END;")


def frontend_seeds():
    return {
        "psql-select": query("SELECT id, name, ssn, email FROM customers;"),
        "psql-describe": query("SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c "
                               "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE c.relname OPERATOR(pg_catalog.~) '^(customers)$' COLLATE pg_catalog.default;"),
        "pgbench-extended": pgbench_extended(),
        "pgbench-prepared": parse("P0_1", PGBENCH[1], [23]) + describe(b"S", "P0_1") + SYNC +
                            bind("", "P0_1", [b"7"], [1]) + execute("") + SYNC,
        "multi-statement": query("SET search_path = hr, public; SELECT * FROM salaries"),
        "copy-in": query("COPY orders FROM STDIN") + msg(b"d", b"1\t2\t3.5\n") + msg(b"c"),
        "copy-fail": query("COPY orders FROM STDIN") + msg(b"d", b"1\t2") + msg(b"f", cstr("client gave up")),
        "function-call": msg(b"F", struct.pack(">I", 1299) + i16(0) + i16(0) + i16(0)) + SYNC,
        "close-flush": parse("s1", "SELECT 1") + msg(b"C", b"S" + cstr("s1")) + FLUSH + SYNC + TERMINATE,
        "cursor": query("BEGIN") + query("DECLARE c CURSOR FOR SELECT * FROM customers") + query("FETCH 10 c") +
                  query("CLOSE c") + query("COMMIT"),
    }


# ---- backend messages
def row_description(fields):
    body = i16(len(fields))
    for name, table, col, typ in fields:
        body += cstr(name) + struct.pack(">IhIhih", table, col, typ, -1, -1, 0)
    return msg(b"T", body)


def data_row_body(values):
    body = i16(len(values))
    for v in values:
        body += i32(-1) if v is None else i32(len(v)) + v
    return body


def data_row(values):
    return msg(b"D", data_row_body(values))


def complete(tag):
    return msg(b"C", cstr(tag))


def ready(s=b"I"):
    return msg(b"Z", s)


def error(code, text, kind=b"E"):
    return msg(kind, b"SERROR\0VERROR\0C" + cstr(code) + b"M" + cstr(text) + b"\0")


def backend_seeds():
    rows = (row_description([("id", 16386, 1, 23), ("name", 16386, 2, 25)]) +
            data_row([b"7", b"Ann Lee"]) + data_row([b"8", None]) + complete("SELECT 2"))
    return {
        "simple-rows": b"\0" + rows + row_description([("?column?", 0, 0, 23)]) + data_row([b"2"]) +
                       complete("SELECT 1") + ready(),
        "extended": b"\1" + msg(b"1") + msg(b"2") + row_description([("int4", 0, 0, 23)]) + data_row([b"1"]) +
                    complete("SELECT 1") + ready(),
        "error-notice": b"\0" + error(b"42P01", b'relation "x" does not exist') +
                        error(b"00000", b"note", b"N") + ready(),
        "status": b"\2" + msg(b"S", cstr("search_path") + cstr("hr")) + msg(b"A", i32(4242) + cstr("ch") + cstr("hi")) +
                  rows + ready(b"T"),
        "copy-out": b"\0" + msg(b"H", b"\0" + i16(2) + i16(0) + i16(0)) + msg(b"d", b"7\tAnn\n") + msg(b"c") +
                    complete("COPY 1") + ready(),
        "empty": b"\0" + msg(b"I") + ready(),
        "suspended": b"\1" + msg(b"1") + msg(b"2") + msg(b"t", i16(1) + struct.pack(">I", 23)) +
                     row_description([("a", 0, 0, 23)]) + data_row([b"1"]) + msg(b"s") + ready(),
    }


# ---- startup packets
def startup(params, version=196608):
    body = i32(version) + b"".join(cstr(k) + cstr(v) for k, v in params) + b"\0"
    return i32(len(body) + 4) + body


def startup_seeds():
    return {
        "psql": startup([("user", "alice"), ("database", "app"), ("application_name", "psql"),
                         ("client_encoding", "UTF8")]),
        "options": startup([("user", "app"), ("options", "-c search_path=hr\\ public --statement-timeout=5s")]),
        "protocol-3.2": startup([("user", "app"), ("_pq_.test", "1")], 196610),
        "ssl-then-startup": i32(8) + i32(80877103) + startup([("user", "app")]),
        "gssenc": i32(8) + i32(80877104),
        "cancel": i32(16) + i32(80877102) + i32(4242) + i32(12345678),
        "replication": startup([("user", "app"), ("replication", "database"), ("role", "admin")]),
    }


# ---- authentication exchange (fuzz_auth.cpp's format)
def auth_body(code, data=b""):
    return i32(code) + data


def framed(bodies):
    return b"".join(struct.pack(">H", len(b)) + b for b in bodies)


SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def auth_tail(user=b"app_owner", salt=b"\x01\x02\x03\x04"):
    return SERVER_FIRST + b"\n" + SERVER_FINAL + b"\n" + user + b"\0" + salt


def auth_seeds():
    return {
        "trust": b"\x01" + framed([auth_body(0)]),
        "cleartext": b"\x03" + framed([auth_body(3), auth_body(0)]),
        "md5": b"\x03" + framed([auth_body(5, b"\xde\xad\xbe\xef"), auth_body(0)]) + auth_tail(),
        "scram": b"\x03" + framed([auth_body(10, b"SCRAM-SHA-256\0\0"), auth_body(11, SERVER_FIRST),
                                   auth_body(12, SERVER_FINAL), auth_body(0)]) + auth_tail(),
        "scram-plus-offered": b"\x01" + framed([auth_body(10, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")]),
        "no-password": b"\x00" + framed([auth_body(5, b"abcd")]),
        "gss": b"\x01" + framed([auth_body(7), auth_body(8, b"token")]),
    }


# ---- SQL
def corpus_sql():
    out = []
    for line in (ROOT / "tests/unit/policy/corpus/readonly_agent.tsv").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        sql = line.split("\t")[0]
        sql = sql.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
        out.append(sql)
    return out


CHANGES = [
    "SET search_path = hr, public", "RESET ALL", "SET standard_conforming_strings = off",
    "SELECT 'a\\'; DELETE FROM customers; --'", "SET ROLE app_reader", "RESET ROLE",
    "SET client_encoding = 'SQL_ASCII'", "PREPARE p AS SELECT * FROM salaries", "EXECUTE p",
    "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM salaries", "FETCH c", "BEGIN", "COMMIT",
    "SELECT set_config('search_path', 'hr', false)",
]


def sql_seeds():
    return {f"corpus-{i:03d}": bytes([i % 4]) + s.encode() for i, s in enumerate(corpus_sql())}


def decision_cache_seeds():
    sqls = corpus_sql()
    out = {}
    for i in range(0, len(sqls), 5):
        group = sqls[i:i + 5] + [CHANGES[(i // 5) % len(CHANGES)], CHANGES[(i // 5 + 3) % len(CHANGES)]]
        group = group[:3] + group[5:] + group[3:5] + group[:1]
        out[f"corpus-{i // 5:03d}"] = bytes([(i // 5) % 2]) + b"\0".join(s.encode() for s in group)
    return out


# ---- masking (fuzz_mask.cpp's format)
def rows(bodies):
    return framed(bodies)


def mask_seeds():
    ann = data_row_body([b"7", b"Ann Lee", b"123-45-6789", b"ann@example.com"])
    hidden = data_row_body([b"8", b"card 4111 1111 1111 1111 ssn 123-45-6789", None, b"x@y.org"])
    return {
        "select": b"\0" + rows([ann, hidden]),
        "select-typed": b"\1" + bytes([4, 2, 0, 28]) + rows([ann]),
        "select-binary": b"\1" + bytes([5, 3, 1, 0]) + rows([data_row_body([b"\0\0\0\7", b"Ann", b"x", b"y"])]),
        "copy-text": b"\2" + rows([b"7\t123-45-6789\tAnn Lee\n", b"8\t\\N\tcard 4111111111111111\n"]),
        "copy-escapes": b"\2" + rows([b"7\t123\\-45\\-6789\tA\\tB\\n\n"]),
        "copy-csv": b"\3" + rows([b'7,123-45-6789,"Lee, Ann"\n', b'8,,"say ""hi"""\n']),
    }


# ---- configs
def config_seeds():
    out = {p.stem: p.read_bytes() for p in (ROOT / "policies").glob("*.yaml")}
    out["minimal"] = (b"upstreams:\n  - name: app\n    match: [\"127.0.0.1:5432\"]\n    address: 127.0.0.1:5432\n"
                      b"    user: app_owner\nidentities:\n  - name: agent\n    match: { uid: [1000] }\n"
                      b"policies:\n  - identity: agent\n    upstream: app\n    allow: [select]\n"
                      b"    mask:\n      - { column: \"public.customers.ssn\", with: \"partial(last=4)\" }\n")
    return out


# ---- admin HTTP (fuzz_admin_http.cpp's format): mode, path, query, headers, body
def http(mode, path, query=b"", headers=(), body=b""):
    return bytes([mode]) + path + b"\n" + query + b"\n" + b"".join(h + b"\n" for h in headers) + b"\n" + body


GET, POST = 0, 1  # method index, shifted left by 2
ADMIN, CONSOLE, METRICS = 0, 1, 2
ROOT_PEER = 0x80


def admin_http_seeds():
    return {
        "status": http(ADMIN | GET << 2, b"/v1/status"),
        "sessions": http(ADMIN | GET << 2, b"/v1/sessions"),
        "approvals": http(ADMIN | GET << 2, b"/v1/approvals", b"all=1"),
        "approval": http(ADMIN | GET << 2, b"/v1/approvals/a1b2"),
        "approve": http(ADMIN | POST << 2 | ROOT_PEER, b"/v1/approvals/a1b2/approve", b"",
                        [b"Content-Type: application/json"], b'{"for": "10m"}'),
        "deny": http(ADMIN | POST << 2, b"/v1/approvals/a1b2/deny", b"", [], b'{"reason": "no"}'),
        "decisions": http(ADMIN | GET << 2, b"/v1/decisions", b"limit=5"),
        "recordings": http(ADMIN | GET << 2, b"/v1/recordings"),
        "recording": http(ADMIN | GET << 2, b"/v1/recordings/42", b"max_rows=3"),
        "metrics": http(ADMIN | GET << 2, b"/metrics"),
        "token": http(ADMIN | POST << 2 | ROOT_PEER, b"/v1/console/token", b"", [], b'{"user": "alice"}'),
        "whoami": http(CONSOLE | GET << 2, b"/v1/whoami", b"", [b"Authorization: Bearer abc"]),
        "console": http(CONSOLE | GET << 2, b"/"),
        "console-approve": http(CONSOLE | POST << 2, b"/v1/approvals/x/approve", b"",
                                [b"Authorization: Bearer abc", b"Origin: http://127.0.0.1"], b"{}"),
        "scrape": http(METRICS | GET << 2, b"/metrics"),
    }


def main():
    targets = {
        "frontend": frontend_seeds(), "backend": backend_seeds(), "startup": startup_seeds(), "auth": auth_seeds(),
        "sql": sql_seeds(), "decision_cache": decision_cache_seeds(), "mask": mask_seeds(),
        "config": config_seeds(), "admin_http": admin_http_seeds(),
    }
    for target, seeds in targets.items():
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("seed-*"):
            old.unlink()
        for name, data in seeds.items():
            (d / f"seed-{name}").write_bytes(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
