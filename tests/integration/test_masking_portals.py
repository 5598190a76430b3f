"""Masking follows the extended protocol's portals, whatever order the
messages come in: rows fetched a few at a time (PortalSuspended), portals
interleaved, a statement closed and re-parsed under the same name while a
portal bound to the old one is still open, Execute without any Describe,
binary and mixed result formats, a SQL cursor fetched through Parse/Bind.
Drivers send only some of these orders; a client that hand-writes messages
can send them all. Every message received is searched as in the leak corpus.
"""

import pytest

from harness import Pgwarden
from harness import masking
from harness.extended_wire import (FLUSH, SYNC, bind, close, data_rows, describe, errors, exchange,
                                   execute, parse)
from harness.cluster import SUPERUSER
from harness.rawpg import Session

MASKED = "SELECT ssn, email FROM customers WHERE id <= 25 ORDER BY id"
CLEAN = "SELECT name, id::text FROM customers WHERE id <= 25 ORDER BY id"

# name -> (messages, rows of MASKED expected, rows of CLEAN expected)
CASES = {
    "portal fetched 5 rows at a time, binary": (
        [parse("", MASKED), bind("p", "", result_formats=(1,)), describe(b"P", "p"),
         execute("p", 5), execute("p", 5), execute("p"), SYNC], 25, 0),
    "no Describe at all": ([parse("s0", MASKED), bind("", "s0"), execute(""), SYNC], 25, 0),
    "no Describe, binary": ([parse("s0", MASKED), bind("", "s0", result_formats=(1,)), execute(""), SYNC], 25, 0),
    "mixed result formats": (
        [parse("", MASKED), bind("", "", result_formats=(0, 1)), describe(b"P", ""), execute(""), SYNC], 25, 0),
    "statement replaced under an open portal": (
        [parse("s1", MASKED), bind("p1", "s1"), describe(b"P", "p1"), close(b"S", "s1"), parse("s1", CLEAN),
         execute("p1", 3), describe(b"S", "s1"), execute("p1"), SYNC], 25, 0),
    "statement replaced under an open portal, no Describe": (
        [parse("s2", MASKED), bind("p2", "s2"), close(b"S", "s2"), parse("s2", CLEAN), execute("p2"), SYNC],
        25, 0),
    "unnamed statement replaced between Bind and Execute": (
        [parse("", MASKED), bind("p3", ""), parse("", CLEAN), describe(b"S", ""), execute("p3"), SYNC], 25, 0),
    "two portals interleaved": (
        [parse("a", MASKED), parse("b", CLEAN), bind("pa", "a"), bind("pb", "b"), execute("pb", 2),
         execute("pa", 2), execute("pb", 2), execute("pa"), execute("pb"), SYNC], 25, 25),
    "two portals interleaved, no Describe, binary": (
        [parse("a", CLEAN), parse("b", MASKED), bind("pa", "a", result_formats=(1,)),
         bind("pb", "b", result_formats=(1,)), execute("pa", 1), execute("pb", 1), execute("pa", 1),
         execute("pb"), execute("pa"), SYNC], 25, 25),
    "Flush between partial Executes": (
        [parse("", MASKED), bind("", ""), describe(b"P", ""), FLUSH, execute("", 2), FLUSH, execute(""), SYNC],
        25, 0),
    "parameters": (
        [parse("", "SELECT ssn, email FROM customers WHERE id <= $1 ORDER BY id", (23,)),
         bind("", "", params=(b"25",)), execute(""), SYNC], 25, 0),
    "SQL cursor fetched through Parse/Bind, text and binary": (
        [parse("", "BEGIN"), bind("", ""), execute(""), parse("", "DECLARE cx CURSOR FOR " + MASKED),
         bind("", ""), execute(""), parse("f", "FETCH 10 FROM cx"), bind("", "f", result_formats=(1,)),
         execute(""), bind("", "f"), execute(""), bind("", "f"), execute(""), parse("", "COMMIT"),
         bind("", ""), execute(""), SYNC], 25, 0),
}


@pytest.fixture(scope="module")
def masked(cluster, tmp_path_factory):
    masking.create_database(cluster)
    with Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path_factory.mktemp("portals")))) as pw:
        yield pw


def session(pw):
    return Session("127.0.0.1", pw.port, user="alice", database=masking.DB)


@pytest.mark.parametrize("case", list(CASES))
def test_portals_are_masked_in_any_order(masked, case):
    messages, masked_rows, clean_rows = CASES[case]
    with session(masked) as s:
        received = exchange(s, messages)
    assert not errors(received), errors(received)
    hits = masking.leaks(b"".join(kind + payload for kind, payload in received), masking.needles())
    assert not hits, "\n".join(hits[:10])
    rows = data_rows(received)
    ssns = [r[0] for r in rows if r[0].startswith(b"***-**-")]
    names = {r["name"].encode() for r in masking.checked_rows()}
    assert len(ssns) == masked_rows, rows[:5]
    # The clean portal's rows are the stored names, untouched.
    assert len([r for r in rows if r[0] in names]) == clean_rows
    assert len(rows) == masked_rows + clean_rows
    assert masked.alive()


def test_an_error_in_a_pipeline_is_scrubbed_and_the_rest_skipped(masked):
    with session(masked) as s:
        received = exchange(s, [parse("", "SELECT ssn::int FROM customers WHERE id = 1"), bind("", ""),
                                execute(""), parse("", MASKED), bind("", ""), execute(""), SYNC])
        assert [e["C"] for e in errors(received)] == ["22P02"]
        assert not data_rows(received)
        assert not masking.leaks(b"".join(k + p for k, p in received), masking.needles())
        # The session goes on after Sync.
        again = exchange(s, [parse("", MASKED), bind("", ""), execute(""), SYNC])
        assert len(data_rows(again)) == 25 and not errors(again)


def test_the_same_messages_leak_directly(cluster):
    """Self-check: sent straight to PostgreSQL (its unix socket, as the
    superuser), every case puts raw values on the wire."""
    masking.create_database(cluster)
    socket_path = f"{cluster.socket_dir}/.s.PGSQL.{cluster.port}"
    for case, (messages, masked_rows, _) in CASES.items():
        with Session(socket_path, cluster.port, user=SUPERUSER, database=masking.DB) as s:
            received = exchange(s, messages)
        assert not errors(received), (case, errors(received))
        assert masking.leaks(b"".join(k + p for k, p in received), masking.needles()), case
