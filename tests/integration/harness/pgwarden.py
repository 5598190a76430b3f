"""Pgwarden: runs `pgwarden run --config FILE` as a subprocess for a test.

The daemon gets its own temp dir (config, password file, unix socket, admin
socket, log). Clients connect without any password; pgwarden logs in
upstream with the password file's secret.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from . import cleanup, yamlgen
from .cluster import write_secret_file
from .system import fd_count, free_port, orphaned_run_dirs, port_accepts, proc_status_kb

REPO_ROOT = Path(__file__).resolve().parents[3]
RUN_PREFIX = "pgwarden-run-"
# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer write
# to stderr (the daemon's log here) when they find something, in a binary
# built by `scripts/build --sanitize` (scripts/test --sanitize).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")
# scripts/test --sanitize sets PGWARDEN_SANITIZE=1: a daemon the test leaves
# running is then stopped with SIGTERM before SIGKILL, so that it exits and
# LeakSanitizer checks it.
SANITIZED = os.environ.get("PGWARDEN_SANITIZE") == "1"
SANITIZED_EXIT_WAIT = 5.0
READY_TIMEOUT = 10.0
STOP_GRACE = 45.0  # above pgwarden's default shutdown_grace (30 s)


def binary_path():
    return os.environ.get("PGWARDEN_BIN", str(REPO_ROOT / "build" / "pgwarden"))


def plain_binary_path():
    """An uninstrumented pgwarden of this checkout, or None when the run is
    sanitized and has none. A sanitized binary cannot show two things: memory
    figures (ASan keeps freed memory in its quarantine and adds shadow memory)
    and the container image (its build sandbox has no /proc for
    LeakSanitizer). scripts/test --sanitize builds build-release/pgwarden for
    them and sets PGWARDEN_PLAIN_BIN."""
    explicit = os.environ.get("PGWARDEN_PLAIN_BIN")
    if explicit:
        return explicit
    return None if SANITIZED else binary_path()


def require_plain_binary(what):
    """plain_binary_path(), or skip (fail under CI) naming what needs it."""
    binary = plain_binary_path()
    if binary is None:
        import pytest
        reason = (f"{what} needs an uninstrumented pgwarden: set PGWARDEN_PLAIN_BIN "
                  "(scripts/test --sanitize does)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return binary


class PgwardenError(AssertionError):
    pass


class Pgwarden:
    """upstream: a PgCluster (or None with upstream_address/password given).
    password: overrides the secret written to the password file (e.g. a wrong
    one). overrides: keys merged into the top level of the config (value None
    removes a key); tests may also edit self.config before start()."""

    def __init__(self, upstream=None, upstream_address=None, password=None, overrides=None,
                 listen_host="127.0.0.1", binary=None):
        self.binary = binary or binary_path()
        self.run_args = []  # more `pgwarden run` options (e.g. --stay-after-handover)
        sweep_stale_daemons()
        self.dir = tempfile.mkdtemp(prefix=RUN_PREFIX)
        with open(os.path.join(self.dir, "owner.pid"), "w") as f:
            f.write(str(os.getpid()))
        self._cleanup_token = cleanup.register(self.close)
        self.host = listen_host
        self.port = free_port(listen_host)
        self.address = upstream_address or upstream.address
        secret = password if password is not None else upstream.app_password
        self.password_file = os.path.join(self.dir, "app_owner.pw")
        write_secret_file(self.password_file, secret)
        self.config_path = os.path.join(self.dir, "pgwarden.yaml")
        self.log_path = os.path.join(self.dir, "pgwarden.log")
        self.config = {
            "listen": f"{listen_host}:{self.port}",
            "unix_socket": os.path.join(self.dir, f".s.PGSQL.{self.port}"),
            "admin_socket": os.path.join(self.dir, "admin.sock"),
            "log_level": "info",
            "explicit_upstream": "main",
            "default": "allow",
            "upstreams": [{
                "name": "main",
                "match": [self.address],
                "address": self.address,
                "user": upstream.app_user if upstream else "app_owner",
                "password_file": self.password_file,
                "tls": "disable",
            }],
        }
        for key, value in (overrides or {}).items():
            if value is None:
                self.config.pop(key, None)
            else:
                self.config[key] = value
        self.proc = None
        self._log_file = None
        self.returncode = None
        self.exit_expected = False  # set when the test asks it to stop or die

    # ---- lifecycle -------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def write_config(self, config=None, text=None):
        """Write self.config (or config, or raw text) to the config file."""
        if text is None:
            text = yamlgen.dump(config if config is not None else self.config) + "\n"
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)  # the daemon never reads half a file

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise PgwardenError(f"pgwarden binary not found or not executable: {self.binary} "
                                "(build it, or set PGWARDEN_BIN)")
        self.write_config()
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "run", "--config", self.config_path, *self.run_args],
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        self.returncode = None
        self.exit_expected = False
        with open(os.path.join(self.dir, "daemon.pid"), "w") as f:
            f.write(str(self.proc.pid))
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        unix = self.config.get("unix_socket")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PgwardenError(f"pgwarden exited with {self.proc.returncode} before serving\n"
                                    f"{self.log_tail()}")
            if port_accepts(self.host, self.port) and (not unix or os.path.exists(unix)):
                return
            time.sleep(0.05)
        raise PgwardenError(f"pgwarden did not accept on {self.host}:{self.port} within "
                            f"{READY_TIMEOUT}s\n{self.log_tail()}")

    def stop(self, grace=STOP_GRACE, expect_code=0):
        """SIGTERM and wait; raise unless it exits with expect_code in time."""
        self.check_not_exited()
        self.exit_expected = True
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._finish()
            raise PgwardenError(f"pgwarden did not exit within {grace}s of SIGTERM\n{self.log_tail()}")
        code = self._finish()
        if report := self.sanitizer_report():
            raise PgwardenError(f"pgwarden's log holds a sanitizer report:\n{report}")
        if expect_code is not None and code != expect_code:
            raise PgwardenError(f"pgwarden exited with {code} after SIGTERM, expected "
                                f"{expect_code}\n{self.log_tail()}")
        return code

    def check_not_exited(self):
        """Raise if the daemon ended although nobody asked it to (a crash, or
        a signal from outside the test)."""
        if self.proc is not None and not self.exit_expected and self.proc.poll() is not None:
            self.exit_expected = True  # report it once
            raise PgwardenError(f"pgwarden exited by itself with {self.proc.returncode} "
                                f"during the test\n{self.log_tail()}")

    def send_signal(self, sig):
        """Send sig; SIGTERM/SIGINT/SIGKILL mark the exit as expected."""
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.exit_expected = True
        self.proc.send_signal(sig)

    def kill(self, sig=signal.SIGKILL):
        self.exit_expected = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        return self._finish()

    def reload(self, config=None, text=None):
        """Rewrite the config (if given) and send SIGHUP."""
        if config is not None or text is not None:
            self.write_config(config, text)
        self.send_signal(signal.SIGHUP)

    def close(self):
        """Kill if still running and remove the temp dir (idempotent). Raises
        when the daemon's log holds a sanitizer report."""
        if SANITIZED and self.proc is not None and self.proc.poll() is None:
            self.exit_expected = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SANITIZED_EXIT_WAIT)
            except subprocess.TimeoutExpired:
                pass  # busy draining sessions: no leak check for this one
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        self.exit_expected = True
        report = self.sanitizer_report() if self.dir is not None else None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        cleanup.unregister(self._cleanup_token)
        if report:
            raise PgwardenError(f"pgwarden's log holds a sanitizer report:\n{report}")

    def _finish(self):
        if self.proc is not None:
            self.returncode = self.proc.poll()
        if self._log_file is not None:
            self._log_file.flush()
        return self.returncode

    # ---- observation -----------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (FileNotFoundError, TypeError):
            return ""

    def sanitizer_report(self):
        """The first sanitizer report in the log (up to 60 lines), or None."""
        lines = self.log_text().splitlines()
        for i, line in enumerate(lines):
            if any(marker in line for marker in SANITIZER_MARKERS):
                start = max(0, i - 2)
                return "\n".join(lines[start:start + 60])
        return None

    def log_tail(self, n=40):
        lines = self.log_text().splitlines()[-n:]
        return "---- pgwarden log (last %d lines) ----\n%s" % (len(lines), "\n".join(lines))

    def peak_rss_kb(self):
        return proc_status_kb(self.pid, "VmHWM")

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmRSS")

    def fd_count(self):
        return fd_count(self.pid)

    # ---- clients ---------------------------------------------------------

    @property
    def unix_dir(self):
        return os.path.dirname(self.config["unix_socket"])

    def conninfo(self, user="alice", dbname="app", unix=False, **extra):
        """psycopg keywords for a session through pgwarden, without password."""
        info = {"host": self.unix_dir if unix else self.host, "port": self.port,
                "user": user, "dbname": dbname}
        info.update(extra)
        return info

    def connect(self, user="alice", dbname="app", unix=False, **kw):
        kw.setdefault("connect_timeout", 10)
        extra = {k: kw.pop(k) for k in list(kw) if k in ("application_name", "options")}
        return psycopg.connect(**self.conninfo(user, dbname, unix, **extra), **kw)

    def psql_args(self, user="alice", dbname="app", unix=False):
        host = self.unix_dir if unix else self.host
        return ["-h", host, "-p", str(self.port), "-U", user, "-d", dbname]


def sweep_stale_daemons():
    """Kill and remove daemons whose test process died without cleaning up
    (SIGKILL): they would otherwise serve forever. Only a process whose
    command line still names that run's config file is touched."""
    for d in orphaned_run_dirs(RUN_PREFIX):
        try:
            with open(os.path.join(d, "daemon.pid")) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if os.path.join(d, "pgwarden.yaml").encode() in f.read():
                    os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(d, ignore_errors=True)
