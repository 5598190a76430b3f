"""Faults: what a client sees when the upstream restarts or stalls, when
clients stall, when the engine runs out of file descriptors or gets a
broken config, and when thousands of clients arrive at once. After each,
the engine must serve a new session with its descriptors and resident
memory back near where they were before (harness/faults.py: Footprint).

One cluster for the module (max_connections 400: the buffer test holds 300
sessions); pgwarden with `workers: 1` wherever sessions must share a loop
thread for the test to mean anything."""

import asyncio
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from harness import PgCluster, binary_path, rawpg
from harness.faults import (Footprint, Stopped, cpu_seconds, metrics, postgres_pids,
                            raise_own_fd_limit, restore_fd_limit, serve_one, silent_connections,
                            startup_and_query, wait_closed_by_peer)


@pytest.fixture(scope="module")
def db():
    with PgCluster(sample_data=False, settings={"max_connections": 400}) as pg:
        yield pg


def one_loop(**extra):
    overrides = {"workers": 1}
    overrides.update(extra)
    return overrides


def timed_query(session, sql="SELECT 1"):
    started = time.monotonic()
    rows, error = session.simple_query(sql)
    assert error is None, error
    return time.monotonic() - started


# ---- the upstream ------------------------------------------------------------------------

def test_upstream_restart_mid_session(make_pgwarden, db):
    """A fast shutdown ends every backend with 57P01 (or the connection just
    ends: 08006 from the client's side); pgwarden passes that on, refuses
    new sessions with 08006 while the server is down, and serves again as
    soon as it is back."""
    pw = make_pgwarden(upstream=db, overrides=one_loop())
    base = Footprint(pw)
    idle = [rawpg.Session(pw.host, pw.port, timeout=30) for _ in range(5)]
    busy = rawpg.Session(pw.host, pw.port, timeout=30)
    busy.send(rawpg.query("SELECT pg_sleep(60)"))
    time.sleep(0.5)

    db.stop()
    try:
        outcomes = []
        for s in idle + [busy]:
            assert s.closed_within(10), "pgwarden kept a session open whose server went away"
            codes = [e.get("C") for e in s.buffered_errors()]
            # What the server said last reaches the client, or nothing (a
            # client then reports 08006, connection lost).
            assert set(codes) <= {"57P01", "08006"}, codes
            outcomes.append(codes)
            s.close()
        assert ["57P01"] in outcomes, outcomes  # the busy one was told why
        kind, fields = rawpg.try_startup(pw.host, pw.port)
        assert kind == "error" and fields["C"] == "08006", fields
        assert "main" in fields["M"], fields
        assert pw.alive()
    finally:
        db.start()
    serve_one(pw)
    base.assert_recovered(what="an upstream restart")


def test_upstream_stalls_during_login(make_pgwarden, db):
    """A server that accepts (the kernel completes the handshake) but never
    answers: timeouts.upstream_login ends the login with 08006 naming the
    upstream; SIGCONT and the next session is served."""
    pw = make_pgwarden(upstream=db, overrides=one_loop(timeouts={"upstream_login": "2s"}))
    base = Footprint(pw)
    with Stopped(postgres_pids(db)):
        started = time.monotonic()
        kind, fields = rawpg.try_startup(pw.host, pw.port, timeout=15)
        elapsed = time.monotonic() - started
        assert kind == "error", fields
        assert fields["C"] == "08006", fields
        assert fields["M"] == ('pgwarden: upstream "main" did not complete the login within 2s '
                               "(timeouts.upstream_login)"), fields
        assert 1.9 <= elapsed < 5, f"the login timeout fired after {elapsed:.1f}s"
    serve_one(pw)
    base.assert_recovered(what="a stalled upstream login")


def test_upstream_stalls_during_a_query_and_cancel_works(make_pgwarden, db):
    """The server stops mid-query: the session waits (no timeout ends a
    running statement), other clients' connects are not blocked by it, the
    client's CancelRequest is taken by pgwarden and delivered; on SIGCONT
    the statement ends with 57014 and the session goes on."""
    pw = make_pgwarden(upstream=db, overrides=one_loop())
    base = Footprint(pw)
    s = rawpg.Session(pw.host, pw.port, timeout=30)
    pid, key = struct.unpack("!iI", s.backend_key)
    s.send(rawpg.query("SELECT pg_sleep(60)"))
    time.sleep(0.3)
    with Stopped(postgres_pids(db)):
        # The cancel goes to the stopped postmaster: accepted by its kernel,
        # read when it runs again.
        with socket.create_connection((pw.host, pw.port), timeout=5) as c:
            c.sendall(struct.pack("!iiiI", 16, 80877102, pid, key))
            assert c.recv(1) == b""  # pgwarden closes a cancel connection once taken
        time.sleep(1.0)
        assert not s.closed_within(0.5), "the session ended while its server was stopped"
        assert pw.alive()
    messages = s.read_until([b"Z"])
    errors = [rawpg.parse_fields(p) for k, p in messages if k == b"E"]
    assert [e["C"] for e in errors] == ["57014"], errors
    assert timed_query(s) < 2
    s.close()
    base.assert_recovered(what="a stalled upstream")


# ---- clients that stall -------------------------------------------------------------------

def test_client_stalls_mid_message_and_at_startup(make_pgwarden, db):
    """Half a Query holds only its own session; the same loop thread keeps
    serving others. Half a startup packet, or nothing at all, is closed by
    timeouts.client_startup."""
    pw = make_pgwarden(upstream=db, overrides=one_loop(timeouts={"client_startup": "2s"}))
    base = Footprint(pw)
    stalled = rawpg.Session(pw.host, pw.port, timeout=10)
    whole = rawpg.query("SELECT 'finished late'")
    stalled.send(whole[:7])
    half_startup = rawpg.RawConnection(pw.host, pw.port)
    half_startup.send(rawpg.startup_message("alice", "app")[:6])
    silent = rawpg.RawConnection(pw.host, pw.port)
    started = time.monotonic()

    with rawpg.Session(pw.host, pw.port) as other:
        worst = max(timed_query(other, "SELECT count(*) FROM generate_series(1, 1000)") for _ in range(50))
    assert worst < 1.0, f"a query took {worst:.2f}s next to a stalled client"

    for conn, what in ((half_startup, "half a startup packet"), (silent, "no startup packet")):
        assert conn.closed_within(6), f"a client that sent {what} was not closed"
        assert conn.buffered_errors() == []  # no protocol was agreed: just closed
        conn.close()
    waited = time.monotonic() - started
    assert 1.5 <= waited < 6, f"closed after {waited:.1f}s with client_startup 2s"
    # Logged when the session is destroyed, a moment after its socket was
    # shut down (which the client saw first).
    deadline = time.monotonic() + 5
    while "(timeouts.client_startup)" not in pw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "(timeouts.client_startup)" in pw.log_text()

    stalled.send(whole[7:])  # the rest of the message, seconds later
    answer = stalled.read_until([b"Z"])
    assert [p for k, p in answer if k == b"D"] == [b"\x00\x01\x00\x00\x00\x0dfinished late"], answer
    rows, error = stalled.simple_query("SELECT 'and again'")
    assert error is None and rows == [["and again"]], (rows, error)
    stalled.close()
    base.assert_recovered(what="stalled clients")


def test_client_idle_timeout(make_pgwarden, db):
    """timeouts.client_idle ends a session idle between transactions (57P05)
    but never one inside a transaction."""
    pw = make_pgwarden(upstream=db, overrides=one_loop(timeouts={"client_idle": "2s"}))
    idle = rawpg.Session(pw.host, pw.port, timeout=10)
    in_tx = rawpg.Session(pw.host, pw.port, timeout=10)
    assert in_tx.simple_query("BEGIN")[1] is None
    busy = rawpg.Session(pw.host, pw.port, timeout=10)
    for _ in range(8):  # a query every half second keeps it alive
        timed_query(busy)
        time.sleep(0.5)
    assert idle.closed_within(4)
    assert [e["C"] for e in idle.buffered_errors()] == ["57P05"]
    assert in_tx.simple_query("SELECT 1")[1] is None, "a session in a transaction was ended"
    assert in_tx.simple_query("COMMIT")[1] is None
    assert busy.simple_query("SELECT 1")[1] is None
    for s in (idle, in_tx, busy):
        s.close()


def test_clients_that_stop_reading_do_not_stall_the_loop(make_pgwarden, db):
    """300 clients run a large SELECT and never read: each holds receive
    buffers of the one loop thread until its ring is empty. Another
    client's receives then fall back to spare buffers: its queries complete
    at once instead of waiting for a buffer that never comes back.

    The stalled clients use the unix socket, whose buffers do not grow (a
    TCP socket on loopback would buffer megabytes per client in the
    kernel before pgwarden's sends stop completing)."""
    pw = make_pgwarden(upstream=db, overrides=one_loop())
    base = Footprint(pw)
    stalled = []
    sql = rawpg.query("SELECT repeat('x', 8000) FROM generate_series(1, 800)")  # 6.4 MB each
    try:
        for _ in range(300):
            conn = rawpg.RawConnection(pw.config["unix_socket"], None, timeout=10)
            conn.send(rawpg.startup_message("alice", "app"))
            conn.read_until([b"Z"])
            conn.send(sql)  # and never read again
            stalled.append(conn)
        deadline = time.monotonic() + 60
        while metrics(pw).value("pgwarden_receive_buffers_in_use") < 256:
            assert time.monotonic() < deadline, metrics(pw).text
            time.sleep(0.5)
        with rawpg.Session(pw.host, pw.port, timeout=10) as other:
            worst = max(timed_query(other, "SELECT repeat('y', 100000)") for _ in range(20))
        assert worst < 2.0, f"a query took {worst:.2f}s while the ring was empty"
        m = metrics(pw)
        spares = m.value("pgwarden_receive_spare_buffers_in_use")
        print("with 300 stalled clients:", m.value("pgwarden_receive_buffers_in_use"), "buffers,",
              spares, "spares in use")
    finally:
        for conn in stalled:
            conn.close()
    base.assert_recovered(rss_slack_kb=32 * 1024, what="300 clients that stopped reading")
    deadline = time.monotonic() + 5  # the gauges are set on the one-second tick
    while metrics(pw).value("pgwarden_receive_buffers_in_use") + \
            metrics(pw).value("pgwarden_receive_spare_buffers_in_use") > 0:
        assert time.monotonic() < deadline, "receive buffers were not given back"
        time.sleep(0.25)


# ---- descriptors --------------------------------------------------------------------------

def test_file_descriptors_run_out(make_pgwarden, db):
    """RLIMIT_NOFILE of the engine set to a few more than it uses, then more
    clients than that: accept fails with EMFILE, pgwarden pauses accepting
    (no spinning: little CPU), logs it once, counts it, and accepts the
    waiting clients as sessions end.

    The limit is set when the engine starts (prlimit runs it): an io_uring
    accept takes the limit in force when it was armed, so lowering it on a
    running engine would only show at the next re-arm."""
    limit = 40
    pw = make_pgwarden(upstream=db, overrides=one_loop(), start=False)
    wrapper = os.path.join(pw.dir, "pgwarden-limited")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec prlimit --nofile={limit}:{limit} -- '{binary_path()}' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    pw.binary = wrapper
    pw.start()
    base = Footprint(pw)
    assert base.fds < limit - 10, base.fds
    holders = [socket.create_connection((pw.host, pw.port)) for _ in range(limit)]
    try:
        time.sleep(0.5)
        assert pw.fd_count() <= limit
        cpu_before = cpu_seconds(pw.pid)
        time.sleep(3)
        cpu = cpu_seconds(pw.pid) - cpu_before
        assert cpu < 0.5, f"the engine used {cpu:.2f}s of CPU in 3s while out of descriptors"
        assert pw.log_text().count("pausing accepts") == 1, pw.log_tail()
        # Clients in the listen queue are served as sessions end.
        for sock in holders[:limit - 10]:
            sock.close()
        waiting = []
        for _ in range(5):
            s = socket.create_connection((pw.host, pw.port))
            s.sendall(rawpg.startup_message("alice", "app"))
            waiting.append(s)
        for s in waiting:
            conn = rawpg.RawConnection.__new__(rawpg.RawConnection)
            conn.sock, conn.buf = s, b""
            s.settimeout(20)
            conn.read_until([b"Z"])
            s.close()
    finally:
        for sock in holders:
            sock.close()
    time.sleep(1.5)  # the silent holders' sessions end; a tick re-arms accept
    assert "accepting connections again" in pw.log_text()
    assert metrics(pw).value("pgwarden_accept_pauses_total") >= 1
    base.assert_recovered(what="running out of descriptors")


# ---- config ------------------------------------------------------------------------------

def status_json(pw):
    out = subprocess.run([binary_path(), "status", "-j", "--admin-socket", pw.config["admin_socket"]],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def status_text(pw):
    return subprocess.run([binary_path(), "status", "--admin-socket", pw.config["admin_socket"]],
                          capture_output=True, text=True, timeout=10).stdout


def test_sighup_with_a_broken_config(make_pgwarden, db):
    """A config that does not load is refused: the old one keeps serving
    (its policy still applies), the log and `status` say why, /metrics
    counts it; the next good reload clears it."""
    pw = make_pgwarden(upstream=db, overrides={
        "identities": [{"name": "local", "match": {"source": ["127.0.0.0/8"]}}],
        "policies": [{"identity": "local", "allow": ["select"]}],
        "default": "deny"})
    base = Footprint(pw)
    assert status_json(pw)["daemon"]["last_reload"] is None
    good = open(pw.config_path).read()
    pw.reload(text=good.replace("allow:", "allow: [select]\n    bogus_key:", 1))
    deadline = time.monotonic() + 10
    while "reload refused" not in pw.log_text():
        assert time.monotonic() < deadline, pw.log_tail()
        time.sleep(0.1)
    last = status_json(pw)["daemon"]["last_reload"]
    assert last["ok"] is False and last["failures"] == 1, last
    assert "bogus_key" in last["error"], last
    assert "reload: FAILED, running the previous config" in status_text(pw)
    assert metrics(pw).value("pgwarden_config_reload_failures_total") == 1
    with rawpg.Session(pw.host, pw.port) as s:  # the old policy still holds
        assert s.simple_query("SELECT 1")[1] is None
        error = s.simple_query("CREATE TABLE t (x int)")[1]
        assert error is not None and error["C"] == "42501", error
    pw.reload(text=good)
    while status_json(pw)["daemon"]["last_reload"]["ok"] is not True:
        assert time.monotonic() < deadline + 10, pw.log_tail()
        time.sleep(0.1)
    assert "FAILED" not in status_text(pw)
    base.assert_recovered(what="a broken config")


# ---- many clients -------------------------------------------------------------------------

def test_5000_clients_connecting_at_once(make_pgwarden, db):
    """5,000 connects at once on one loop thread. 4,900 come from 127.0.0.2,
    which no identity matches: each gets FATAL 28000 at startup without
    touching the database. 100 from 127.0.0.1 are served a query. Nobody
    is left without an answer; the engine's fds and RSS come back."""
    pw = make_pgwarden(upstream=db, overrides=one_loop(
        identities=[{"name": "local", "match": {"source": ["127.0.0.1/32"]}}],
        policies=[{"identity": "local", "allow": ["select"]}],
        default="deny"))
    base = Footprint(pw)
    old = raise_own_fd_limit(12000)
    try:
        async def everyone():
            refused = [startup_and_query(pw.host, pw.port, source="127.0.0.2", timeout=120)
                       for _ in range(4900)]
            served = [startup_and_query(pw.host, pw.port, sql="SELECT 42", source="127.0.0.1", timeout=120)
                      for _ in range(100)]
            return await asyncio.gather(*refused, *served)

        started = time.monotonic()
        results = asyncio.run(everyone())
        elapsed = time.monotonic() - started
    finally:
        restore_fd_limit(old)
    refused, served = results[:4900], results[4900:]
    kinds = {}
    for kind, detail in refused:
        code = detail.get("C") if kind == "error" else kind
        kinds[code] = kinds.get(code, 0) + 1
    assert kinds == {"28000": 4900}, kinds
    assert all("127.0.0.2" in detail["M"] for _, detail in refused[:10]), refused[0]
    assert [k for k, _ in served] == ["ready"] * 100, [r for r in served if r[0] != "ready"][:3]
    assert all(len(rows) == 1 for _, rows in served)
    print(f"5,000 clients at once: answered in {elapsed:.1f}s, peak RSS {pw.peak_rss_kb()} kB")
    assert elapsed < 60
    base.assert_recovered(what="5,000 clients at once")


def test_1000_silent_clients(make_pgwarden, db):
    """1,000 TCP connections that send nothing: each holds one descriptor
    until timeouts.client_startup closes it; meanwhile another session on
    the same loop thread is served as usual."""
    pw = make_pgwarden(upstream=db, overrides=one_loop(timeouts={"client_startup": "3s"}))
    base = Footprint(pw)
    old = raise_own_fd_limit(4000)
    worst = []
    try:
        async def scenario():
            conns = await silent_connections(pw.host, pw.port, 1000)
            opened = time.monotonic()

            def meanwhile():
                with rawpg.Session(pw.host, pw.port, timeout=10) as s:
                    worst.append(max(timed_query(s) for _ in range(20)))

            thread = threading.Thread(target=meanwhile)
            thread.start()
            await asyncio.sleep(1.0)
            held = pw.fd_count()
            closed = await asyncio.gather(*(wait_closed_by_peer(r, 10) for r, _ in conns))
            waited = time.monotonic() - opened
            for _, w in conns:
                w.close()
            await asyncio.to_thread(thread.join)
            return held, closed, waited

        held, closed, waited = asyncio.run(scenario())
    finally:
        restore_fd_limit(old)
    assert held >= base.fds + 1000, f"the engine held {held} fds with 1,000 clients"
    assert all(closed), f"{closed.count(False)} silent clients were not closed"
    assert waited < 8, f"the last silent client was closed after {waited:.1f}s"
    assert worst and worst[0] < 1.0, worst
    base.assert_recovered(what="1,000 silent clients")
