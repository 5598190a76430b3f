"""PgCluster: a throwaway PostgreSQL for one test run.

Debian's initdb/pg_ctl, run as an unprivileged user (PostgreSQL refuses root),
in a temp dir, listening on a loopback address. TCP requires SCRAM; the unix
socket in the temp dir is trust-only and is how the harness does its setup as
the bootstrap superuser `postgres`. The cluster is always stopped and removed:
by the context manager / fixture finalizer normally, and by the cleanup
registry (atexit, SIGTERM) or the stale-cluster sweep of the next run
otherwise.
"""

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg

from . import cleanup, sample_data
from .clients import client_env
from .system import RunAs, free_port, orphaned_run_dirs, pid_alive

PG_BIN = os.environ.get("PGWARDEN_PG_BIN", "/usr/lib/postgresql/15/bin")
TMP_PREFIX = "pgwarden-pg-"
SUPERUSER = "postgres"
APP_USER = "app_owner"
APP_DB = "app"

HBA = """\
local all         all          trust
local replication all          trust
host  all         all          127.0.0.0/8  scram-sha-256
host  all         all          ::1/128      scram-sha-256
host  replication all          127.0.0.0/8  scram-sha-256
"""

# TCP only over TLS (a managed database's rule): plaintext TCP finds no line
# and is refused with "no pg_hba.conf entry ... no encryption".
HBA_HOSTSSL_ONLY = """\
local   all         all          trust
local   replication all          trust
hostssl all         all          127.0.0.0/8  scram-sha-256
hostssl all         all          ::1/128      scram-sha-256
"""


class PgCluster:
    """Usage: `with PgCluster() as pg: ...` or start()/close().

    host/port: where it listens (port None = a free one). sample_data: create
    app_owner's database `app` with the shared sample schema. app_owner_superuser:
    give app_owner SUPERUSER (the fidelity test needs it). settings: extra
    postgresql.conf lines as a dict. tls: (cert_file, key_file) of the
    server's certificate (harness/tls_certs.py): copied into the data
    directory, ssl = on. hba: the pg_hba.conf text (HBA_HOSTSSL_ONLY: TCP
    only over TLS).
    """

    def __init__(self, host="127.0.0.1", port=None, sample_data=True,
                 app_owner_superuser=False, settings=None, tls=None, hba=None):
        self.host = host
        self.port = port or free_port(host)
        self.want_sample_data = sample_data
        self.app_owner_superuser = app_owner_superuser
        self.settings = dict(settings or {})
        self.tls = tls
        self.hba = hba or HBA
        self.app_user = APP_USER
        self.app_db = APP_DB
        self.app_password = "pw-" + secrets.token_urlsafe(24)
        self.run_as = RunAs()
        self.dir = None
        self._cleanup_token = None
        self.running = False

    # ---- lifecycle -------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        """First call: initdb + configure + start + create roles and data.
        Later calls (after stop()): start the same cluster again."""
        if self.dir is None:
            sweep_stale_clusters()
            self.dir = tempfile.mkdtemp(prefix=TMP_PREFIX)
            self._cleanup_token = cleanup.register(self.close)
            try:
                with open(os.path.join(self.dir, "owner.pid"), "w") as f:
                    f.write(str(os.getpid()))
                os.chmod(self.dir, 0o700)
                self.run_as.chown(self.dir)
                self._initdb()
                self._start_server()
                self._bootstrap()
            except BaseException:
                self.close()  # `with` does not call __exit__ when __enter__ fails
                raise
        else:
            self._start_server()
        return self

    def stop(self):
        """Stop the server, keep its files (start() brings it back)."""
        if not self.running:
            return
        started = time.monotonic()
        stopped = self._pg_ctl("stop", "-m", "fast", "-w", "-t", "30", check=False)
        if stopped.returncode != 0:
            self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "10", check=False)
        self._kill_leftover_postmaster()
        self.running = False
        if time.monotonic() - started > 10:
            print(f"harness: stopping the cluster took {time.monotonic() - started:.1f}s "
                  f"(rc {stopped.returncode})", flush=True)

    def close(self):
        """Stop and remove everything; safe to call more than once."""
        if self.dir is None:
            return
        try:
            self.running = True  # force a stop attempt even after a failed start
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            if self._cleanup_token is not None:
                cleanup.unregister(self._cleanup_token)
                self._cleanup_token = None

    # ---- paths -----------------------------------------------------------

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def socket_dir(self):
        return self.dir

    @property
    def log_path(self):
        return os.path.join(self.dir, "postgres.log")

    @property
    def password_file(self):
        """app_owner's password, mode 0600 (for pgwarden's password_file)."""
        path = os.path.join(self.dir, "app_owner.pw")
        if not os.path.exists(path):
            write_secret_file(path, self.app_password)
        return path

    @property
    def address(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---- connections -----------------------------------------------------

    def super_conninfo(self, dbname="postgres"):
        return {"host": self.socket_dir, "port": self.port, "user": SUPERUSER,
                "dbname": dbname}

    def connect_super(self, dbname="postgres", autocommit=True):
        return psycopg.connect(**self.super_conninfo(dbname), autocommit=autocommit,
                               connect_timeout=10)

    def app_conninfo(self, dbname=None):
        """Direct TCP connection as app_owner with its password (SCRAM)."""
        return {"host": self.host, "port": self.port, "user": self.app_user,
                "password": self.app_password, "dbname": dbname or self.app_db}

    def connect_app(self, dbname=None, **kw):
        kw.setdefault("connect_timeout", 10)
        return psycopg.connect(**self.app_conninfo(dbname), **kw)

    def psql_args_app(self, dbname=None):
        """psql arguments for a direct TCP session as app_owner; the password
        goes through app_env(), never the command line."""
        return ["-h", self.host, "-p", str(self.port), "-U", self.app_user,
                "-d", dbname or self.app_db]

    def app_env(self, extra=None):
        return client_env(extra, password=self.app_password)

    def execute(self, sql, params=None, dbname="postgres"):
        """Run one statement as the superuser; returns all rows (or [])."""
        with self.connect_super(dbname) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def execute_app(self, sql, params=None, dbname=None):
        """Run one statement directly as app_owner (objects it creates are
        app_owner's, as if a client of pgwarden had created them)."""
        with self.connect_app(dbname, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def create_database(self, name, owner=APP_USER, template="template0", strategy=None):
        """strategy FILE_COPY is cheaper than PostgreSQL 15's default WAL_LOG
        when many databases are made from a large template (no WAL of every
        page; the checkpoints it forces cost little with fsync off)."""
        extra = f" STRATEGY {strategy}" if strategy else ""
        self.execute(f'CREATE DATABASE "{name}" OWNER "{owner}" TEMPLATE {template}{extra}')

    def drop_database(self, name):
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def backend_count(self, usename=APP_USER, application_name=None):
        sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND backend_type = 'client backend'"
        params = [usename]
        if application_name is not None:
            sql += " AND application_name = %s"
            params.append(application_name)
        return self.execute(sql, params)[0][0]

    def wait_backends(self, expected, timeout=5.0, **kw):
        """Poll backend_count(**kw) until it equals expected; returns the last count."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.backend_count(**kw)
            if n == expected or time.monotonic() > deadline:
                return n
            time.sleep(0.1)

    # ---- internals -------------------------------------------------------

    def _run(self, argv, check=True, timeout=120):
        result = subprocess.run(self.run_as.argv(argv), cwd=self.dir, capture_output=True,
                                text=True, timeout=timeout, env=_server_env())
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}\n{self._log_tail()}")
        return result

    def _pg_ctl(self, *args, check=True):
        return self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data_dir, *args],
                         check=check)

    def _initdb(self):
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data_dir, "-U", SUPERUSER,
                   "-E", "UTF8", "--locale=C", "--no-sync",
                   "--auth-local=trust", "--auth-host=scram-sha-256"])
        conf = {
            "listen_addresses": f"'{self.host}'",
            "port": self.port,
            "unix_socket_directories": f"'{self.socket_dir}'",
            "password_encryption": "'scram-sha-256'",
            "max_connections": 250,
            "shared_buffers": "'128MB'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_connections": "on",
            "log_disconnections": "on",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            "lc_messages": "'C'",
        }
        if self.tls:
            conf.update(self._install_tls_files())
        conf.update(self.settings)
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\n# pgwarden test harness\n")
            for key, value in conf.items():
                f.write(f"{key} = {value}\n")
        hba = os.path.join(self.data_dir, "pg_hba.conf")
        with open(hba, "w") as f:
            f.write(self.hba)
        self.run_as.chown(hba)

    def _install_tls_files(self):
        """The server's certificate and key, owned by the server's user (it
        refuses a key others can read); returns the settings that use them."""
        names = {}
        for source, name, mode in ((self.tls[0], "server.crt", 0o644), (self.tls[1], "server.key", 0o600)):
            path = os.path.join(self.data_dir, name)
            shutil.copyfile(source, path)
            os.chmod(path, mode)
            self.run_as.chown(path)
            names[name] = path
        return {"ssl": "on", "ssl_cert_file": f"'{names['server.crt']}'",
                "ssl_key_file": f"'{names['server.key']}'"}

    def replace_tls_files(self, cert_file, key_file):
        """A new server certificate, in force after reload_config()."""
        self.tls = (cert_file, key_file)
        self._install_tls_files()

    def reload_config(self):
        self._pg_ctl("reload")

    def _start_server(self):
        self._pg_ctl("start", "-w", "-t", "60", "-l", self.log_path)
        self.running = True

    def _bootstrap(self):
        with self.connect_super() as conn:
            su = " SUPERUSER" if self.app_owner_superuser else ""
            conn.execute(f"CREATE ROLE {APP_USER} LOGIN{su} PASSWORD {_literal(self.app_password)}")
            conn.execute(f"CREATE DATABASE {APP_DB} OWNER {APP_USER} TEMPLATE template0")
        if self.want_sample_data:
            with self.connect_super(APP_DB, autocommit=False) as conn:
                conn.execute(f"ALTER SCHEMA public OWNER TO {APP_USER}")
                conn.execute(f"SET ROLE {APP_USER}")
                sample_data.load(conn)

    def _kill_leftover_postmaster(self):
        pid = _postmaster_pid(self.data_dir)
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def _log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def _server_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _postmaster_pid(data_dir):
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            return int(f.readline().strip())
    except (OSError, ValueError):
        return None


def write_secret_file(path, secret):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)


def sweep_stale_clusters():
    """Remove clusters whose owning test process died without cleaning up
    (SIGKILL, power loss): their postmaster would otherwise run forever."""
    for d in orphaned_run_dirs(TMP_PREFIX):
        pid = _postmaster_pid(os.path.join(d, "data"))
        if pid and pid_alive(pid):
            try:
                os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                for _ in range(50):
                    if not pid_alive(pid):
                        break
                    time.sleep(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(d, ignore_errors=True)
