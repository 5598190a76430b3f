"""What the fault and load tests share: the engine's footprint before and
after a fault, its /metrics, and many raw clients at once (asyncio, so a
test can hold thousands of connections without a thread each)."""

import asyncio
import os
import resource
import signal
import struct
import time

from . import rawpg
from .operator_http import parse_metrics, unix_request
from .pgwarden import SANITIZED


def metrics(pw):
    reply = unix_request(pw.config["admin_socket"], "GET", "/metrics")
    assert reply.status == 200, reply
    return parse_metrics(reply.body.decode())


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_own_fd_limit(wanted):
    """Raise this process's soft RLIMIT_NOFILE to at least `wanted` (up to
    the hard limit); returns the old limits for restore_fd_limit()."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = old
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return old


def restore_fd_limit(old):
    resource.setrlimit(resource.RLIMIT_NOFILE, old)


class Footprint:
    """The engine's descriptors and resident memory with no session open
    (after one session warmed it up), and the check that a fault left it
    there: new sessions are served and fds and RSS come back near it.
    A sanitized engine's RSS says nothing (ASan holds freed memory in its
    quarantine): there only fds are checked, and LeakSanitizer checks memory
    when the engine exits."""

    def __init__(self, pw, warm_up=True):
        self.pw = pw
        if warm_up:
            serve_one(pw)
        time.sleep(0.3)  # let the warm-up session's close finish
        self.fds = pw.fd_count()
        self.rss_kb = pw.rss_kb()

    def assert_recovered(self, rss_slack_kb=16 * 1024, timeout=20.0, what="the fault"):
        serve_one(self.pw)
        deadline = time.monotonic() + timeout
        while True:
            self.pw.check_not_exited()
            fds, rss = self.pw.fd_count(), self.pw.rss_kb()
            if fds <= self.fds + 2 and (SANITIZED or rss <= self.rss_kb + rss_slack_kb):
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"after {what} the engine holds {fds} fds (baseline {self.fds}) and "
                    f"{rss} kB RSS (baseline {self.rss_kb} kB, slack {rss_slack_kb} kB)")
            time.sleep(0.25)
        serve_one(self.pw)
        print(f"after {what}: fds {fds} (baseline {self.fds}), RSS {rss} kB (baseline {self.rss_kb} kB)")
        return fds, rss


def serve_one(pw, timeout=10.0):
    """A fresh session through pgwarden runs a query."""
    with rawpg.Session(pw.host, pw.port, timeout=timeout) as s:
        rows, error = s.simple_query("SELECT 'served'")
        assert error is None and rows == [["served"]], (rows, error)


def postgres_pids(pg):
    """The postmaster and its children (backends, auxiliary processes)."""
    with open(os.path.join(pg.data_dir, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    pids = [postmaster]
    with open(f"/proc/{postmaster}/task/{postmaster}/children") as f:
        pids += [int(p) for p in f.read().split()]
    return pids


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class Stopped:
    """SIGSTOP the given processes for a `with` block; SIGCONT after, always."""

    def __init__(self, pids):
        self.pids = list(pids)

    def __enter__(self):
        signal_all(self.pids, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        signal_all(self.pids, signal.SIGCONT)


# ---- many raw clients at once ---------------------------------------------------------

async def _read_message(reader):
    header = await reader.readexactly(5)
    (length,) = struct.unpack("!I", header[1:5])
    return header[:1], await reader.readexactly(length - 4)


async def startup_and_query(host, port, sql=None, source=None, timeout=60.0, user="alice"):
    """One client: ("error", fields) for an ErrorResponse at startup,
    ("ready", rows) after the query's ReadyForQuery, ("closed", why) if the
    connection ended without either."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, local_addr=(source, 0) if source else None)
            writer.write(rawpg.startup_message(user, "app"))
            while True:
                kind, payload = await _read_message(reader)
                if kind == b"E":
                    return "error", rawpg.parse_fields(payload)
                if kind == b"Z":
                    break
            rows = []
            if sql is not None:
                writer.write(rawpg.query(sql))
                while True:
                    kind, payload = await _read_message(reader)
                    if kind == b"D":
                        rows.append(payload)
                    elif kind == b"E":
                        return "error", rawpg.parse_fields(payload)
                    elif kind == b"Z":
                        break
            writer.write(rawpg.terminate())
            return "ready", rows
    except (asyncio.IncompleteReadError, ConnectionError, OSError, TimeoutError) as exc:
        return "closed", repr(exc)
    finally:
        if writer is not None:
            writer.close()


async def silent_connections(host, port, count):
    """Open `count` TCP connections that send nothing; returns the writers
    and readers (the caller closes them)."""
    conns = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        conns.append((reader, writer))
    return conns


async def wait_closed_by_peer(reader, timeout):
    """True when the peer closes the connection (EOF or reset) in time."""
    try:
        async with asyncio.timeout(timeout):
            data = await reader.read(65536)
            return data == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True
