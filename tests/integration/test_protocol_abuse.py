"""Malformed and hostile protocol input from raw sockets ends only the
offending connection; every other session keeps working."""

import struct

import pytest

from harness.rawpg import (RawConnection, Session, gssenc_request, message, query,
                           ssl_request, startup_message)

MAX_MESSAGE = 1 << 20  # max_message_size for this file's daemon


@pytest.fixture
def small_limit_pgwarden(make_pgwarden):
    return make_pgwarden(overrides={"max_message_size": "1MiB"})


def assert_others_unaffected(pw, bystander):
    assert bystander.execute("SELECT 'bystander ok'").fetchone()[0] == "bystander ok"
    with pw.connect() as fresh:
        assert fresh.execute("SELECT 2 + 2").fetchone()[0] == 4
    assert pw.alive()


def assert_only_errors_then_closed(conn):
    """The peer closes promptly; whatever it said first is an ErrorResponse
    (never a session: no AuthenticationOk, no ReadyForQuery)."""
    assert conn.closed_within(2.0), "connection still open 2 s after malformed input"
    data = conn.buf
    while len(data) >= 5:
        kind, (length,) = data[:1], struct.unpack("!I", data[1:5])
        assert kind == b"E", f"unexpected message {kind!r} after malformed input"
        data = data[1 + length:]
    for fields in conn.buffered_errors():
        assert fields["M"].startswith("pgwarden:") or fields["C"] == "08P01", fields


BAD_STARTUPS = {
    "length_ffffffff": b"\xff\xff\xff\xff" + b"garbage" * 10,
    "length_below_minimum": struct.pack("!I", 3),
    "length_zero": struct.pack("!I", 0) + b"\0" * 16,
    "startup_100MB_declared": struct.pack("!II", 100_000_000, 196608) + b"user\0x\0",
    "unknown_protocol": struct.pack("!II", 8, 0x12345678),
    "unterminated_params": struct.pack("!II", 18, 196608) + b"user\0alice",
}


@pytest.mark.parametrize("name", BAD_STARTUPS)
def test_malformed_startup_ends_only_that_connection(pgwarden, name):
    with pgwarden.connect(autocommit=True) as bystander:
        with RawConnection(pgwarden.host, pgwarden.port) as conn:
            conn.send(BAD_STARTUPS[name])
            assert_only_errors_then_closed(conn)
        assert_others_unaffected(pgwarden, bystander)


BAD_MESSAGES = {
    "length_below_four": b"Q" + struct.pack("!I", 2),
    "declared_2GB": b"Q" + struct.pack("!I", 0x7FFFFFF0) + b"SELECT 1",
    "oversized_real": message(b"Q", b"SELECT '" + b"x" * (2 * MAX_MESSAGE) + b"'\0"),
    "unknown_type": message(b"y", b"junk"),
}


@pytest.mark.parametrize("name", BAD_MESSAGES)
def test_malformed_message_after_startup_ends_only_that_session(small_limit_pgwarden, name):
    pw = small_limit_pgwarden
    with pw.connect(autocommit=True) as bystander:
        session = Session(pw.host, pw.port, user="mallory")
        with session:
            rows, error = session.simple_query("SELECT 1")
            assert error is None and rows == [["1"]]
            try:
                session.send(BAD_MESSAGES[name])
            except (BrokenPipeError, ConnectionResetError):
                pass  # already closed while we were still sending: fine
            else:
                assert_only_errors_then_closed(session)
        assert_others_unaffected(pw, bystander)


def test_message_just_under_the_limit_is_served(small_limit_pgwarden):
    pw = small_limit_pgwarden
    filler = "x" * (MAX_MESSAGE - 1000)
    with Session(pw.host, pw.port) as session:
        rows, error = session.simple_query(f"SELECT length('{filler}')")
        assert error is None, error
        assert rows == [[str(len(filler))]]


def test_ssl_and_gssenc_requests_answered_no(pgwarden):
    for request in (ssl_request(), gssenc_request()):
        with RawConnection(pgwarden.host, pgwarden.port) as conn:
            conn.send(request)
            assert conn.read_byte() == b"N"
            conn.send(startup_message("alice"))
            kinds = [kind for kind, _ in conn.read_until([b"Z", b"E"])]
            assert kinds[-1] == b"Z", kinds


def test_bytes_sent_before_ssl_answer_are_not_carried_over(pgwarden):
    """CVE-2021-23222: a StartupMessage pipelined behind the SSLRequest must
    not be taken as the next phase's first message."""
    with RawConnection(pgwarden.host, pgwarden.port) as conn:
        conn.send(ssl_request() + startup_message("alice"))
        first = conn.read_byte()
        if first != b"N":  # refusing before answering the request is fine too
            conn.buf = first + conn.buf
        assert_only_errors_then_closed(conn)


def test_newer_protocol_minor_is_negotiated_down(pgwarden):
    with RawConnection(pgwarden.host, pgwarden.port) as conn:
        conn.send(startup_message("alice", protocol=(3 << 16) | 9, **{"_pq_.made_up": "1"}))
        seen = conn.read_until([b"Z", b"E"])
        kinds = [k for k, _ in seen]
        assert kinds[-1] == b"Z", seen
        negotiations = [p for k, p in seen if k == b"v"]
        assert len(negotiations) == 1, kinds
        # PostgreSQL sends its whole newest version here (major << 16 | minor).
        (newest,) = struct.unpack("!I", negotiations[0][:4])
        assert newest >> 16 in (0, 3) and newest & 0xFFFF < 9, hex(newest)
        conn.send(query("SELECT 1"))
        assert [k for k, _ in conn.read_until([b"Z"])] == [b"T", b"D", b"C", b"Z"]
