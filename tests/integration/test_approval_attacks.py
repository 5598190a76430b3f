"""Attacks on approvals: ways a statement the policy marks `approve` might
run without an approval, more than once per approval, with other content
than people saw, or under a standing grant meant for another statement.
Each test is named for the attack and asserts the safe outcome.

The agent connects over loopback TCP (identity `agent`, no kernel uid, so
root decides its requests). The policy: select, insert, transaction and set
run; ddl, truncate, update and procedural wait for people; delete is
refused.
"""

import json
import struct
import threading
import time

import psycopg
import pytest

from harness import rawpg
from harness import extended_wire as ew
from approvals.helpers import approval_config, cli, pending, wait_for_request, wait_no_request

DB = "pgw_approval_attacks"

ALLOW = ["select", "insert", "transaction", "set", "prepare", "execute", "deallocate"]
APPROVE = ["ddl", "truncate", "update", "procedural", "role"]


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    yield cluster
    cluster.drop_database(DB)


@pytest.fixture
def pw(make_pgwarden, db):
    p = approval_config(make_pgwarden(start=False), timeout="30s",
                        extra_policy={"allow": ALLOW, "approve": APPROVE})
    return p.start()


def counter(db, name, n=0):
    db.execute_app(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name}(n int); INSERT INTO {name} VALUES ({n})",
                   dbname=DB)


def value(db, name):
    return db.execute_app(f"SELECT n FROM {name}", dbname=DB)[0][0]


def exists(db, name):
    return db.execute_app("SELECT to_regclass(%s) IS NOT NULL", (name,), dbname=DB)[0][0]


def session(pw):
    return rawpg.Session(pw.host, pw.port, database=DB, timeout=30)


def read_until_ready(s, count=1):
    received = []
    while count:
        kind, payload = s.read_message()
        received.append((kind, payload))
        if kind == b"Z":
            count -= 1
    return received


def deny_all(pw, reason="attack test"):
    for a in pending(pw):
        cli(pw, "approvals", "deny", a["id"], "--reason", reason, check=False)


def no_request_within(pw, seconds=1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pending(pw):
            return False
        time.sleep(0.05)
    return True


def function_call(oid, *text_args, result_format=0):
    body = struct.pack("!IH", oid, 1) + struct.pack("!H", 0) + struct.pack("!H", len(text_args))
    for a in text_args:
        body += struct.pack("!i", len(a)) + a
    body += struct.pack("!H", result_format)
    return rawpg.message(b"F", body)


# ---- statements that hide an approve class ---------------------------------------------

HIDDEN = {
    "cte": "WITH u AS (UPDATE {t} SET n = n + 1 RETURNING n) SELECT * FROM u",
    "explain_analyze": "EXPLAIN ANALYZE UPDATE {t} SET n = n + 1",
    "multi_statement": "SELECT 1; UPDATE {t} SET n = n + 1; SELECT 2",
    "copy_query": "COPY (WITH u AS (UPDATE {t} SET n = n + 1 RETURNING n) SELECT * FROM u) TO STDOUT",
    "create_table_as": "CREATE TABLE {t}_copy AS SELECT n + 1 AS n FROM {t}",
    "do_block": "DO $$BEGIN UPDATE {t} SET n = n + 1; END$$",
}


@pytest.mark.parametrize("how", sorted(HIDDEN))
def test_approve_class_hidden_in_a_query_is_held_or_refused(pw, db, how):
    t = f"t_hidden_{how}"
    counter(db, t)
    db.execute_app(f"DROP TABLE IF EXISTS {t}_copy", dbname=DB)
    sql = HIDDEN[how].format(t=t)
    outcome = {}

    def run():
        try:
            with pw.connect(dbname=DB, autocommit=True) as conn:
                conn.execute(sql)
                outcome["ran"] = True
        except psycopg.Error as e:
            outcome["error"] = e.sqlstate

    th = threading.Thread(target=run)
    th.start()
    deadline = time.monotonic() + 10
    while th.is_alive() and not pending(pw) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value(db, t) == 0 and not exists(db, f"{t}_copy")  # nothing ran while it waits
    deny_all(pw)
    th.join(20)
    assert "ran" not in outcome, outcome
    assert value(db, t) == 0 and not exists(db, f"{t}_copy")


# ---- the extended protocol ----------------------------------------------------------------

def test_bind_of_a_stale_unnamed_statement_behind_a_skipped_parse_waits(pw, db):
    """Batch 1 parses the unnamed statement as an UPDATE (nothing runs at
    Parse). Batch 2 fails before its Parse of the unnamed statement as a
    SELECT, so the server skips that Parse. Batch 3 binds and executes the
    unnamed statement: the server runs the UPDATE. Sent at once, pgwarden
    must not take the skipped SELECT for what the Bind runs."""
    counter(db, "t_stale")
    with session(pw) as s:
        s.send(b"".join([
            ew.parse("", "UPDATE t_stale SET n = n + 1"), ew.SYNC,
            ew.parse("boom", "SELECT 1/0"), ew.bind("", "boom"), ew.execute(""),
            ew.parse("", "SELECT 1"), ew.SYNC,
            ew.bind("", ""), ew.execute(""), ew.SYNC]))
        first = read_until_ready(s, 2)
        assert ew.errors(first)[0]["C"] == "22012"
        if no_request_within(pw, 2.0):
            # Not held: it must not have run.
            rest = read_until_ready(s)
            assert value(db, "t_stale") == 0, rest
        [req] = pending(pw)
        assert req["sql"] == "UPDATE t_stale SET n = n + 1"  # what the server would run
        deny_all(pw)
        rest = read_until_ready(s)
        assert ew.errors(rest) and ew.errors(rest)[0]["C"] == "42501"
    assert value(db, "t_stale") == 0


def test_protocol_bind_of_a_sql_prepared_update_asks_every_time(pw, db):
    """PREPARE (SQL) an UPDATE, then Bind/Execute it with the extended
    protocol: each execution asks, as SQL EXECUTE does."""
    counter(db, "t_sqlprep")
    with session(pw) as s:
        s.send(rawpg.query("PREPARE up AS UPDATE t_sqlprep SET n = n + 1"))
        if not no_request_within(pw, 1.5):
            [req] = pending(pw)
            cli(pw, "approvals", "approve", req["id"])
        read_until_ready(s)
        assert value(db, "t_sqlprep") == 0
        s.send(b"".join([ew.bind("", "up"), ew.execute(""), ew.SYNC]))
        if no_request_within(pw, 2.0):
            read_until_ready(s)
            assert value(db, "t_sqlprep") == 0
        deny_all(pw)
        read_until_ready(s)
    assert value(db, "t_sqlprep") == 0


def test_sql_execute_of_a_prepared_update_asks_every_time(pw, db):
    counter(db, "t_sqlexec")
    with session(pw) as s:
        s.send(rawpg.query("PREPARE up AS UPDATE t_sqlexec SET n = n + 1"))
        if not no_request_within(pw, 1.5):
            cli(pw, "approvals", "approve", pending(pw)[0]["id"])
        read_until_ready(s)
        for _ in range(2):
            s.send(rawpg.query("EXECUTE up"))
            [req] = wait_for_request(pw)
            cli(pw, "approvals", "approve", req["id"])
            read_until_ready(s)
    assert value(db, "t_sqlexec") == 2


def test_one_approval_runs_one_of_several_pipelined_binds(pw, db):
    """A named statement Parsed once, Bound three times in one batch: each
    approval runs one execution; every Bind asks again."""
    counter(db, "t_binds")
    with session(pw) as s:
        s.send(b"".join([ew.parse("s", "UPDATE t_binds SET n = n + 1")]
                        + [ew.bind("", "s"), ew.execute("")] * 3 + [ew.SYNC]))
        seen = []
        for _ in range(3):
            deadline = time.monotonic() + 10
            fresh = []
            while not fresh and time.monotonic() < deadline:
                fresh = [a for a in pending(pw) if a["id"] not in seen]
                time.sleep(0.05)
            [req] = fresh
            seen.append(req["id"])
            cli(pw, "approvals", "approve", req["id"])
        received = read_until_ready(s)
        assert no_request_within(pw, 0.5)
    assert [p.rstrip(b"\0") for k, p in received if k == b"C"] == [b"UPDATE 1"] * 3
    assert value(db, "t_binds") == 3


def test_row_limited_executes_of_an_approved_portal_run_it_once(pw, db):
    counter(db, "t_rows")
    db.execute_app("INSERT INTO t_rows SELECT 0 FROM generate_series(1, 4)", dbname=DB)
    with session(pw) as s:
        s.send(b"".join([ew.parse("s", "UPDATE t_rows SET n = n + 1 RETURNING n"), ew.bind("p", "s")]
                        + [ew.execute("p", 1)] * 6 + [ew.SYNC]))
        [req] = wait_for_request(pw)
        cli(pw, "approvals", "approve", req["id"])
        received = read_until_ready(s)
        assert no_request_within(pw, 0.5)
    assert len(ew.data_rows(received)) == 5 and not ew.errors(received)
    assert db.execute_app("SELECT sum(n) FROM t_rows", dbname=DB)[0][0] == 5


def test_close_and_reparse_behind_a_held_bind_do_not_change_what_runs(pw, db):
    counter(db, "t_reparse")
    with session(pw) as s:
        s.send(b"".join([ew.parse("s", "UPDATE t_reparse SET n = n + 1"), ew.bind("", "s"), ew.execute(""),
                         ew.close(b"S", "s"), ew.parse("s", "UPDATE t_reparse SET n = n + 100"),
                         ew.bind("", "s"), ew.execute(""), ew.SYNC]))
        [req] = wait_for_request(pw)
        assert req["sql"] == "UPDATE t_reparse SET n = n + 1"
        cli(pw, "approvals", "approve", req["id"])
        [second] = wait_for_request(pw, sql_part="n + 100")
        cli(pw, "approvals", "approve", second["id"])
        read_until_ready(s)
    assert value(db, "t_reparse") == 101


def test_describe_only_runs_nothing_and_asks_nothing(pw, db):
    counter(db, "t_describe")
    with session(pw) as s:
        s.send(b"".join([ew.parse("s", "UPDATE t_describe SET n = n + 1 RETURNING n"), ew.describe(b"S", "s"),
                         ew.SYNC]))
        received = read_until_ready(s)
    assert not ew.errors(received)
    assert no_request_within(pw, 0.5)
    assert value(db, "t_describe") == 0


def test_two_sessions_with_interleaved_holds_each_run_only_their_own(pw, db):
    counter(db, "t_two_a")
    counter(db, "t_two_b")
    with session(pw) as a, session(pw) as b:
        a.send(rawpg.query("UPDATE t_two_a SET n = n + 1"))
        [ra] = wait_for_request(pw)
        b.send(rawpg.query("UPDATE t_two_b SET n = n + 1"))
        [rb] = wait_for_request(pw, sql_part="t_two_b")
        cli(pw, "approvals", "approve", rb["id"])
        assert not ew.errors(read_until_ready(b))
        assert (value(db, "t_two_a"), value(db, "t_two_b")) == (0, 1)
        assert [x["id"] for x in pending(pw)] == [ra["id"]]
        cli(pw, "approvals", "deny", ra["id"], "--reason", "no")
        assert ew.errors(read_until_ready(a))[0]["C"] == "42501"
    assert (value(db, "t_two_a"), value(db, "t_two_b")) == (0, 1)


def test_approve_right_after_disconnect_runs_nothing(pw, db):
    counter(db, "t_gone")
    s = session(pw)
    s.send(rawpg.query("UPDATE t_gone SET n = n + 1"))
    [req] = wait_for_request(pw)
    s.close()
    r = cli(pw, "approvals", "approve", req["id"], check=False)
    wait_no_request(pw)
    time.sleep(0.3)
    assert value(db, "t_gone") == 0, r.stdout + r.stderr


# ---- FunctionCall --------------------------------------------------------------------------

@pytest.fixture
def fc(make_pgwarden, db):
    """pg_cancel_backend (oid 2171) and pg_terminate_backend (oid 2096) wait
    for people."""
    p = approval_config(make_pgwarden(start=False), timeout="30s",
                        extra_policy={"approve": ["ddl", "function:pg_cancel_backend",
                                                  "function:pg_terminate_backend"]})
    return p.start()


def test_function_call_shows_its_arguments_to_approvers(fc, db):
    with session(fc) as s:
        s.send(function_call(2171, b"424242"))
        [req] = wait_for_request(fc)
        assert req.get("parameters") == ["424242"], req
        deny_all(fc)
        read_until_ready(s)


def test_standing_grant_for_one_function_call_does_not_cover_another_function(fc, db):
    with session(fc) as s:
        s.send(function_call(2171, b"424242"))  # pg_cancel_backend
        [req] = wait_for_request(fc)
        cli(fc, "approvals", "approve", req["id"], "--for", "10m")
        read_until_ready(s)
        s.send(function_call(2096, b"424242"))  # pg_terminate_backend
        got = not no_request_within(fc, 2.0)
        deny_all(fc)
        read_until_ready(s)
    assert got, "pg_terminate_backend ran under a standing grant for pg_cancel_backend"


# ---- standing grants: one shape, not another statement --------------------------------

SHAPE_PAIRS = {
    "do_block_body": ("DO $$BEGIN PERFORM 1; END$$", "DO $$BEGIN DROP TABLE t_victim; END$$"),
    "function_body": ("CREATE OR REPLACE FUNCTION f_shape() RETURNS int LANGUAGE sql AS $$SELECT 1$$",
                      "CREATE OR REPLACE FUNCTION f_shape() RETURNS int LANGUAGE sql AS $$DROP TABLE t_victim; SELECT 1$$"),
    "table_name": ("TRUNCATE t_shape", "TRUNCATE t_victim"),
    "cascade": ("DROP TABLE IF EXISTS t_shape", "DROP TABLE IF EXISTS t_victim CASCADE"),
    "truncate_list": ("TRUNCATE t_shape", "TRUNCATE t_shape, t_victim"),
    "schema": ("TRUNCATE public.t_shape", "TRUNCATE other.t_shape"),
    "execute_name": ("EXECUTE p_shape", "EXECUTE p_victim"),
}
SET_ROLE_XFAIL = pytest.mark.xfail(
    strict=True,
    reason="a shape leaves constants out, and SET ROLE's role name is a constant to the parser "
           "('SET ROLE nobody' and 'SET ROLE admin' share a shape; so do set_config('role', ...) and "
           "set_config('search_path', ...), setval('a', 1) and setval('b', 1)): needs a rule for which "
           "constants name things")
SHAPE_PAIRS["set_role_name"] = ("SET ROLE alice", "SET ROLE pg_write_all_data")


@pytest.mark.parametrize("pair", [pytest.param(p, marks=SET_ROLE_XFAIL) if p == "set_role_name" else p
                                  for p in sorted(SHAPE_PAIRS)])
def test_standing_grant_does_not_cover_a_statement_with_another_effect(pw, db, pair):
    first, second = SHAPE_PAIRS[pair]
    counter(db, "t_shape")
    counter(db, "t_victim")
    db.execute_app("CREATE SCHEMA IF NOT EXISTS other; DROP TABLE IF EXISTS other.t_shape; "
                   "CREATE TABLE other.t_shape(n int); GRANT USAGE ON SCHEMA other TO PUBLIC", dbname=DB)
    with session(pw) as s:
        if pair == "execute_name":
            s.send(rawpg.query("PREPARE p_shape AS UPDATE t_shape SET n = n + 1"))
            if not no_request_within(pw, 1.0):
                cli(pw, "approvals", "approve", pending(pw)[0]["id"])
            read_until_ready(s)
            s.send(rawpg.query("PREPARE p_victim AS UPDATE t_victim SET n = n + 1000"))
            if not no_request_within(pw, 1.0):
                cli(pw, "approvals", "approve", pending(pw)[0]["id"])
            read_until_ready(s)
        s.send(rawpg.query(first))
        [req] = wait_for_request(pw)
        cli(pw, "approvals", "approve", req["id"], "--for", "10m")
        read_until_ready(s)
        s.send(rawpg.query(second))
        asked = not no_request_within(pw, 2.0)
        deny_all(pw)
        read_until_ready(s)
    assert asked, f"{second!r} ran under a standing grant for {first!r}"
    assert exists(db, "t_victim") and value(db, "t_victim") == 0
