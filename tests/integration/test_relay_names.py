"""Names bind when the server confirms them, and a reload re-decides them.

Prepared statements, portals and SQL cursors are names the server keeps for
the session. pgwarden follows them in one protocol tracker: a name takes the
statement it stands for when the server answers ParseComplete, BindComplete
or the CommandComplete of DECLARE / PREPARE, and keeps what it held when the
server refuses the new definition. Each case here leaked raw values or
passed a denied statement before the tracker (found by an adversarial
review); each is run directly too, to show it does leak there.
"""

import time

import pytest

from harness import Pgwarden, masking
from harness.cluster import SUPERUSER
from harness.extended_wire import SYNC, bind, data_rows, describe, errors, execute, parse
from harness.rawpg import Session, message

DIGITS = "SELECT replace(ssn, '-', '')::bigint AS n, email FROM customers WHERE id <= 25 ORDER BY id"
MASKED = "SELECT ssn, email FROM customers WHERE id <= 25 ORDER BY id"


def run(session, steps):
    """Each step: a simple Query (str) or a list of extended messages, sent
    at once (a pipeline: one ReadyForQuery per Sync). Every message
    received, in order."""
    received = []
    for step in steps:
        messages = [query_message(step)] if isinstance(step, str) else step
        session.send(b"".join(messages))
        for _ in range(max(1, sum(1 for m in messages if m == SYNC))):
            while True:
                kind, payload = session.read_message()
                received.append((kind, payload))
                if kind == b"Z":
                    break
    return received


def query_message(sql):
    return message(b"Q", sql.encode() + b"\0")


# name -> steps; every case ends with rows of the masked (or digit) query.
CASES = {
    "SQL cursor WITH HOLD read by a protocol Execute": [
        f"DECLARE c1 CURSOR WITH HOLD FOR {MASKED}",
        [execute("c1"), SYNC],
    ],
    "SQL cursor WITH HOLD read by a protocol Execute after Describe": [
        f"DECLARE c1 CURSOR WITH HOLD FOR {MASKED}",
        [describe(b"P", "c1"), execute("c1", 5), execute("c1"), SYNC],
    ],
    "SQL cursor in a transaction read by protocol Execute, binary": [
        f"BEGIN; DECLARE c2 BINARY CURSOR FOR {MASKED}",
        [execute("c2", 3), execute("c2"), SYNC],
        "COMMIT",
    ],
    "a refused duplicate DECLARE keeps the first cursor": [
        f"DECLARE c3 CURSOR WITH HOLD FOR {DIGITS}",
        "DECLARE c3 CURSOR WITH HOLD FOR SELECT 1::bigint, 'x'",
        "FETCH 25 FROM c3",
    ],
    "a refused duplicate DECLARE, then a protocol Execute": [
        f"DECLARE c3 CURSOR WITH HOLD FOR {DIGITS}",
        "DECLARE c3 CURSOR WITH HOLD FOR SELECT 1::bigint, 'x'",
        [execute("c3"), SYNC],
    ],
    "a refused duplicate PREPARE keeps the first statement": [
        f"PREPARE p AS {DIGITS}",
        "PREPARE p AS SELECT 1::bigint, 'x'",
        "EXECUTE p",
    ],
    "a refused duplicate PREPARE, then Bind of its name": [
        f"PREPARE p AS {DIGITS}",
        "PREPARE p AS SELECT 1::bigint, 'x'",
        [bind("", "p"), execute(""), SYNC],
    ],
    "a refused duplicate protocol Parse keeps the first statement": [
        [parse("s", DIGITS), SYNC],
        [parse("s", "SELECT 1::bigint, 'x'"), SYNC],
        [bind("", "s"), execute(""), SYNC],
    ],
    "a refused duplicate protocol Parse in one pipeline": [
        [parse("s", DIGITS), SYNC, parse("s", "SELECT 1::bigint, 'x'"), SYNC, bind("", "s"), describe(b"P", ""),
         execute(""), SYNC],
    ],
    "a protocol Parse, then EXECUTE of it by name": [
        [parse("s", DIGITS), SYNC],
        "PREPARE s AS SELECT 1::bigint, 'x'",
        "EXECUTE s",
    ],
    "a cursor redeclared after CLOSE in one string": [
        f"BEGIN; DECLARE c4 CURSOR FOR SELECT 1::bigint, 'x'; CLOSE c4; DECLARE c4 CURSOR FOR {DIGITS}",
        "FETCH ALL FROM c4",
        [execute("c4"), SYNC],
        "COMMIT",
    ],
    "an error at commit of a WITH HOLD cursor declared by a protocol Execute": [
        [parse("s2", "DECLARE h1 CURSOR WITH HOLD FOR SELECT chr(replace(ssn, '-', '')::int) AS x FROM customers "
                     "WHERE id = 2"), bind("", "s2"), execute(""), SYNC],
    ],
    "a cursor declared in a savepoint rolled back, then redeclared": [
        "BEGIN",
        f"SAVEPOINT s; DECLARE c5 CURSOR FOR SELECT 1::bigint, 'x'",
        "ROLLBACK TO s",
        f"DECLARE c5 CURSOR FOR {DIGITS}",
        [execute("c5"), SYNC],
        "COMMIT",
    ],
}


@pytest.fixture(scope="module")
def masked(cluster, tmp_path_factory):
    masking.create_database(cluster)
    with Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path_factory.mktemp("names")))) as pw:
        yield pw


def session(pw):
    return Session("127.0.0.1", pw.port, user="alice", database=masking.DB)


def leaks_in(received):
    return masking.leaks(b"".join(kind + payload for kind, payload in received), masking.needles())


@pytest.mark.parametrize("case", list(CASES))
def test_names_hold_what_the_server_confirmed(masked, case):
    with session(masked) as s:
        received = run(s, CASES[case])
    hits = leaks_in(received)
    assert not hits, "\n".join(hits[:10])
    assert masked.alive()


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_steps_leak_directly(cluster, case):
    """Self-check: straight to PostgreSQL every case returns the values."""
    masking.create_database(cluster)
    socket_path = f"{cluster.socket_dir}/.s.PGSQL.{cluster.port}"
    with Session(socket_path, cluster.port, user=SUPERUSER, database=masking.DB) as s:
        received = run(s, CASES[case])
    assert leaks_in(received), case


def test_rows_of_a_sql_cursor_through_execute_are_masked_not_dropped(masked):
    with session(masked) as s:
        received = run(s, [f"DECLARE c1 CURSOR WITH HOLD FOR {MASKED}", [execute("c1"), SYNC], "CLOSE c1"])
    assert not errors(received)
    rows = data_rows(received)
    assert len(rows) == 25
    assert all(r[0].startswith(b"***-**-") for r in rows)


def test_a_cursor_declared_by_execute_of_a_protocol_statement_is_described(masked):
    """Pipelined: a bound portal c1 ends with its transaction, SQL `EXECUTE
    c1` runs a protocol statement that declares a cursor c1, and an Execute
    of c1 follows before any answer. The cursor is a candidate of that
    Execute from the start, so pgwarden learns its row shape first (found by
    the random protocol test: the session used to end with XX000)."""
    messages = [parse("s1", MASKED), bind("c1", "s1"), execute("c1", 1),
                parse("c1", "DECLARE c1 BINARY SCROLL CURSOR WITH HOLD FOR SELECT c FROM customers c "
                            "WHERE id <= 3 ORDER BY id"),
                SYNC, query_message("EXECUTE c1"), execute("c1", 5), SYNC]
    received = []
    with session(masked) as s:
        s.send(b"".join(messages))
        while sum(1 for kind, _ in received if kind == b"Z") < 3:  # Sync, the Query, Sync
            received.append(s.read_message())
    assert not errors(received), errors(received)
    assert len(data_rows(received)) == 1 + 3
    assert not leaks_in(received)


# ---- reloads -----------------------------------------------------------------------------

def reloaded(pw, config):
    pw.reload(config)
    deadline = time.monotonic() + 5
    while pw.log_text().count("config reloaded") < reloaded.count.get(id(pw), 0) + 1:
        assert time.monotonic() < deadline, pw.log_tail()
        time.sleep(0.05)
    reloaded.count[id(pw)] = reloaded.count.get(id(pw), 0) + 1


reloaded.count = {}


def open_policy(tmpdir):
    """The masking identity with nothing masked and nothing denied."""
    overrides = masking.config_overrides(tmpdir)
    overrides["policies"][0]["mask"] = []
    return overrides


def test_statements_prepared_before_a_reload_are_decided_again(cluster, tmp_path):
    masking.create_database(cluster)
    overrides = open_policy(str(tmp_path))
    with Pgwarden(cluster, overrides=overrides) as pw:
        with session(pw) as s:
            before = run(s, [
                [parse("sal", "SELECT employee, amount FROM hr.salaries"), SYNC],
                [parse("pii", MASKED), SYNC],
                "DECLARE hc CURSOR WITH HOLD FOR SELECT employee, amount FROM hr.salaries",
                f"DECLARE pc CURSOR WITH HOLD FOR {MASKED}",
                "PREPARE sq AS SELECT employee, amount FROM hr.salaries",
            ])
            assert not errors(before), errors(before)
            config = dict(pw.config)
            tighter = masking.config_overrides(str(tmp_path))
            tighter["policies"][0]["tables"] = {"deny": ["hr.*"]}
            config.update(tighter)
            reloaded(pw, config)

            for steps in ([[bind("", "sal"), execute(""), SYNC]], ["FETCH 5 FROM hc"], [[execute("hc"), SYNC]],
                          ["EXECUTE sq"]):
                received = run(s, steps)
                assert [e["C"] for e in errors(received)] == ["42501"], (steps, errors(received))
                assert "hr.salaries" in errors(received)[0]["M"], errors(received)
                assert not data_rows(received)
            # What was prepared or declared with no mask rule in force is
            # masked by the rules in force now.
            for steps in ([[bind("", "pii"), execute(""), SYNC]], ["FETCH ALL FROM pc"]):
                received = run(s, steps)
                assert not errors(received), errors(received)
                assert len(data_rows(received)) == 25
                assert not leaks_in(received)
        assert pw.alive()
