"""recording.dir fills up (issue 12, test 5): a small tmpfs mounted on the
recording directory, filled by the test until the kernel says ENOSPC.

With `recording.required: true` a session running when the disk fills ends
with FATAL 53100 (its recording cannot go on; a result cut inside one of
its messages ends with the connection closed there) and new sessions are refused
with 53100; the engine lives on, `status` and /metrics say it is refusing;
once space is freed, new sessions are accepted again without a restart.
With `required: false` sessions go on unrecorded and `status` and /metrics
show the failure. (The read-only directory is in test_recording.py.)
"""

import errno
import json
import os
import subprocess
import time

import psycopg
import pytest

from harness import binary_path
from harness.operator_http import parse_metrics, unix_request
from test_recording import DB, db, recording_pgwarden, verify  # noqa: F401 (db is a fixture)

BIG = "SELECT repeat('x', 200000) FROM generate_series(1, 4)"


class Tmpfs:
    """A tmpfs of `size` on `path`, unmounted however the test ends."""

    def __init__(self, path, size="4m"):
        self.path = path
        self.size = size

    def __enter__(self):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0700", "tmpfs", self.path],
                       check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path], check=False)

    def fill(self):
        """Writes a filler file until the filesystem is full (unbuffered:
        the kernel's ENOSPC is the end)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (65536, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
        finally:
            os.close(fd)

    def free(self):
        os.unlink(self.filler)

    @property
    def filler(self):
        return os.path.join(self.path, "filler")


def status(pw):
    r = subprocess.run([binary_path(), "status", "-j", "--admin-socket", pw.config["admin_socket"]],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["recording"]


def metrics(pw):
    return parse_metrics(unix_request(pw.config["admin_socket"], "GET", "/metrics").body.decode())


def sqlstate(error):
    return getattr(getattr(error, "diag", None), "sqlstate", None) or ("53100" if "53100" in str(error) else None)


def refused(pw):
    """The error a new session gets, or None if it ran."""
    try:
        with pw.connect(dbname=DB, autocommit=True) as conn:
            conn.execute("SELECT 1").fetchall()
    except psycopg.OperationalError as e:
        return e
    return None


def test_a_full_directory_ends_sessions_refuses_new_ones_and_recovers(make_pgwarden, db):
    pw, rec_dir, public = recording_pgwarden(make_pgwarden, required=True)
    with Tmpfs(rec_dir) as fs:
        pw.start()
        running = pw.connect(dbname=DB, autocommit=True)
        assert running.execute("SELECT ssn FROM people").fetchone() == ("***-**-6789",)
        fs.fill()
        # The running session's next records do not fit: it ends with 53100,
        # at the latest a statement after the recording thread noticed.
        # (Small results: each answer is whole before the next statement,
        # so the session ends where an ErrorResponse can go. A result cut
        # mid-message is the next test.)
        ended = None
        deadline = time.monotonic() + 10
        while ended is None and time.monotonic() < deadline:
            try:
                running.execute("SELECT ssn FROM people").fetchall()
                time.sleep(0.05)
            except psycopg.OperationalError as e:
                ended = e
        assert ended is not None, "the session went on unrecorded\n" + pw.log_tail()
        assert sqlstate(ended) == "53100" or "no longer be recorded" in str(ended), str(ended)
        running.close()

        e = refused(pw)
        assert e is not None and (sqlstate(e) == "53100" or "cannot be recorded" in str(e)), e
        assert pw.alive(), pw.log_tail()
        rec = status(pw)
        assert rec["refusing"] and rec["failures"] >= 1 and rec["failed_sessions"] >= 1, rec
        assert "No space left on device" in rec["last_error"], rec
        m = metrics(pw)
        assert m.value("pgwarden_recording_refusing") == 1, m.text
        assert m.value("pgwarden_recording_failures_total") >= 1, m.text
        st = subprocess.run([binary_path(), "status", "--admin-socket", pw.config["admin_socket"]],
                            capture_output=True, text=True, timeout=20).stdout
        assert "REFUSING new sessions" in st and "No space left on device" in st, st

        # Space again: new sessions are accepted (the directory is tried
        # every second), and their recordings verify.
        fs.free()
        deadline = time.monotonic() + 10
        while refused(pw) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert refused(pw) is None, pw.log_tail()
        assert not status(pw)["refusing"]
        assert metrics(pw).value("pgwarden_recording_refusing") == 0
        deadline = time.monotonic() + 10
        oks = []
        while len(oks) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            r = verify(rec_dir, public)
            oks = [line for line in r.stdout.splitlines() if line.startswith("ok")]
        assert len(oks) >= 2, r.stdout  # the sessions after recovery, closed and signed
        pw.stop()


def test_a_result_streaming_when_the_directory_fills_stops_mid_result(make_pgwarden, db):
    """A client that only reads gets no more rows once its recording
    failed. Where the failure is noticed inside a message (one of these
    rows is 100 kB, many receives), no ErrorResponse can go into the
    stream: the connection is closed there, the rest of the result is never
    sent, and pgwarden's log says why."""
    pw, rec_dir, _ = recording_pgwarden(make_pgwarden, required=True)
    rows_in_result = 2000  # 200 MB: far more than the run below can read
    with Tmpfs(rec_dir) as fs:
        pw.start()
        with pw.connect(dbname=DB, autocommit=True) as streaming:
            rows = streaming.cursor().stream(
                f"SELECT repeat('x', 100000) FROM generate_series(1, {rows_in_result})")
            received = 0
            with pytest.raises(psycopg.OperationalError) as ended:
                for _ in rows:
                    received += 1
                    if received == 5:
                        fs.fill()
            assert received < rows_in_result, received
            # Cut mid-row, the client sees the connection close; cut between
            # rows, it reads the FATAL.
            assert (sqlstate(ended.value) == "53100"
                    or "server closed the connection unexpectedly" in str(ended.value)), str(ended.value)
        deadline = time.monotonic() + 5
        while "it can no longer be recorded" not in pw.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "it can no longer be recorded" in pw.log_text(), pw.log_tail()
        assert pw.alive(), pw.log_tail()
        assert status(pw)["failed_sessions"] >= 1
        pw.stop()


def test_without_required_a_full_directory_is_reported_and_sessions_go_on(make_pgwarden, db):
    pw, rec_dir, public = recording_pgwarden(make_pgwarden, required=False)
    with Tmpfs(rec_dir) as fs:
        pw.start()
        running = pw.connect(dbname=DB, autocommit=True)
        running.execute("SELECT 1").fetchall()
        fs.fill()
        for _ in range(20):
            assert len(running.execute(BIG).fetchall()) == 4
            time.sleep(0.05)
        with pw.connect(dbname=DB, autocommit=True) as other:
            assert other.execute("SELECT ssn FROM people").fetchone() == ("***-**-6789",)
        assert running.execute("SELECT 2").fetchone() == (2,)
        running.close()
        deadline = time.monotonic() + 5
        while status(pw)["failures"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        rec = status(pw)
        assert rec["failures"] >= 1 and rec["failed_sessions"] >= 1 and not rec["refusing"], rec
        assert "No space left on device" in rec["last_error"], rec
        m = metrics(pw)
        assert m.value("pgwarden_recording_failures_total") >= 1, m.text
        assert m.value("pgwarden_recording_failed_sessions_total") >= 1, m.text
        assert m.value("pgwarden_recording_refusing") == 0, m.text
        assert "No space left on device" in pw.log_text()
        assert pw.alive()
        pw.stop()
