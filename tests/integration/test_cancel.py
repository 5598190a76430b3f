"""Query cancellation through pgwarden: the client sends a
CancelRequest with the BackendKeyData pgwarden gave it, pgwarden maps it to
the upstream's key."""

import secrets
import signal
import struct
import subprocess
import threading
import time

import psycopg
import pytest

from harness import client_env
from harness.rawpg import CANCEL_REQUEST_CODE, RawConnection

SLEEP_SQL = "SELECT pg_sleep(30)"


def wait_active(cluster, app, timeout=10):
    """Wait until the upstream backend of application `app` runs a statement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = cluster.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND state = 'active' AND query = %s", [app, SLEEP_SQL])
        if rows[0][0] == 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"no active {SLEEP_SQL!r} for {app} within {timeout}s")


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_psycopg_cancel_returns_57014_within_a_second(pgwarden, cluster, transport):
    app = "pgw-cancel-" + secrets.token_hex(4)
    with pgwarden.connect(unix=transport == "unix", application_name=app,
                          autocommit=True) as conn:
        sent_at = []

        def cancel_when_running():
            wait_active(cluster, app)
            sent_at.append(time.monotonic())
            conn.cancel()

        canceller = threading.Thread(target=cancel_when_running)
        canceller.start()
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            conn.execute(SLEEP_SQL)
        returned_at = time.monotonic()
        canceller.join()
        assert info.value.sqlstate == "57014"
        assert returned_at - sent_at[0] < 1.0
        assert conn.execute("SELECT 'still usable'").fetchone()[0] == "still usable"


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_psql_sigint_cancels_within_a_second(pgwarden, cluster, transport):
    app = "pgw-psql-cancel-" + secrets.token_hex(4)
    proc = subprocess.Popen(
        ["psql", "-X", *pgwarden.psql_args(unix=transport == "unix"),
         "-v", "VERBOSITY=verbose", "-c", SLEEP_SQL],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=client_env({"PGAPPNAME": app}))
    try:
        wait_active(cluster, app)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "57014" in err and "canceling statement due to user request" in err, err
    assert elapsed < 1.0, f"cancel took {elapsed:.2f}s"


def test_forged_cancel_key_cancels_nothing(pgwarden, cluster):
    """A CancelRequest with the right pid but a wrong secret must be ignored."""
    app = "pgw-forged-" + secrets.token_hex(4)
    with pgwarden.connect(application_name=app, autocommit=True) as conn:
        pid = conn.info.backend_pid
        result = []
        worker = threading.Thread(
            target=lambda: result.append(conn.execute("SELECT pg_sleep(1.5), 'done'").fetchone()))
        worker.start()
        time.sleep(0.3)
        for _ in range(3):
            with RawConnection(pgwarden.host, pgwarden.port) as raw:
                raw.send(struct.pack("!III", 16, CANCEL_REQUEST_CODE, pid)
                         + secrets.token_bytes(4))
                assert raw.closed_within(2)
        worker.join(timeout=10)
        assert result and result[0][1] == "done"
