"""A statement pgwarden's parser cannot read gets the server's own error.

pgwarden refuses a text its parser (libpg_query) cannot read. When that text
comes as a simple Query, pgwarden has the server parse it without running it
(Parse of the unnamed statement, then Sync): if the server refuses it too,
the client reads the server's error exactly as a direct client would (code,
message, position, detail and hint: the lexer's errors have codes of their
own, 22025 or 0A000, not only 42601). If the server can read it, the text is
one pgwarden cannot judge, and it is refused as unparseable (42501; the
engine's unit tests show that answer, since it needs a server whose grammar
is newer than pgwarden's parser).
"""

import os

import pytest

from harness import Pgwarden
from harness.cluster import SUPERUSER
from harness.extended_wire import SYNC, bind, execute, parse
from harness.rawpg import Session, parse_fields

IDENTITY = "reader"
FIELDS = "SCMPDH"  # severity, code, message, position, detail, hint

# Each case: statements run first (allowed), then the one whose error counts.
CASES = {
    "a syntax error": ([], "SELEC 1"),
    "trailing junk after a number": ([], "SELECT 123abc"),
    "an invalid Unicode escape (22025, with a hint)": ([], "SELECT E'wrong: \\u061'"),
    "an invalid Unicode escape, upper case": ([], "SELECT E'wrong: \\U0061'"),
    "an invalid surrogate pair": ([], "SELECT E'wrong: \\udb99'"),
    "U& strings without standard_conforming_strings (0A000, with a detail)":
        (["SET standard_conforming_strings = off"], "SELECT U&'d\\0061t\\+000061'"),
    "a syntax error in the second statement of a string": ([], "SELECT 1; SELEC 2"),
    "an unterminated quoted string": ([], "SELECT 'abc"),
    "a syntax error inside a transaction": (["BEGIN"], "SELECT FROM WHERE"),
    "a syntax error in an aborted transaction": (["BEGIN", "SELECT 1/0"], "SELEC 1"),
}


@pytest.fixture(scope="module")
def reader(cluster):
    pw = Pgwarden(upstream=cluster, overrides={
        "default": "deny",
        "identities": [{"name": IDENTITY, "match": {"uid": [os.geteuid()]}}],
        "policies": [{"identity": IDENTITY, "allow": ["select", "set", "transaction"], "unparseable": "deny"}],
    }).start()
    try:
        yield pw
    finally:
        pw.stop()


def direct(cluster):
    return Session(f"{cluster.socket_dir}/.s.PGSQL.{cluster.port}", cluster.port, user=SUPERUSER,
                   database="postgres")


def through(pw):
    return Session(pw.config["unix_socket"], pw.port, user="alice", database="postgres")  # uid by SO_PEERCRED


def last_error(session, setup, sql):
    for statement in setup:
        session.simple_query(statement)
    _, error = session.simple_query(sql)
    assert error is not None, f"{sql!r} did not fail"
    return {k: error.get(k) for k in FIELDS}


@pytest.mark.parametrize("case", list(CASES))
def test_the_client_reads_the_servers_own_error(cluster, reader, case):
    setup, sql = CASES[case]
    with direct(cluster) as s:
        expected = last_error(s, setup, sql)
    with through(reader) as s:
        got = last_error(s, setup, sql)
        # The session goes on, and nothing of the text was left behind.
        rows, error = s.simple_query("SELECT 1" if "BEGIN" not in setup else "ROLLBACK")
        assert error is None
    assert got == expected
    assert reader.alive()


def test_the_probe_is_used(reader):
    """Self-check: pgwarden's parser refuses at least the lexer's cases, so
    the answers above came through the probe rather than a plain forward."""
    with through(reader) as s:
        s.simple_query("SELECT E'wrong: \\u061'")
    assert "denied: invalid Unicode escape" in reader.log_text()


def extended(session, messages):
    session.send(b"".join(messages))
    received = []
    while not received or received[-1][0] != b"Z":
        received.append(session.read_message())
    return received


def test_a_refused_text_leaves_no_unnamed_statement_behind(cluster, reader):
    """A Query drops the unnamed statement; the probe's Parse of the unnamed
    statement, refused, must leave it dropped too: a later Bind of it fails
    and runs nothing. (Directly the server says 26000; pgwarden refuses a
    Bind of a statement it never saw confirmed before the server is asked,
    42501, since a function may prepare statements it cannot see.)"""
    answers = []
    for connect in (lambda: direct(cluster), lambda: through(reader)):
        with connect() as s:
            extended(s, [parse("", "SELECT 42"), SYNC])
            _, error = s.simple_query("SELEC 1")
            assert error["C"] == "42601"
            received = extended(s, [bind("", ""), execute(""), SYNC])
            kinds = [k for k, _ in received]
            assert b"D" not in kinds and b"C" not in kinds, received
            answers.append(parse_fields(received[kinds.index(b"E")][1])["C"])
    assert answers[0] == "26000"
    assert answers[1] in ("26000", "42501")
