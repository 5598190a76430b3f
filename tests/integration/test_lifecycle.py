"""Config validation, reload (SIGHUP), draining shutdown (SIGTERM), and
connection churn without leaks."""

import concurrent.futures
import copy
import os
import signal
import socket
import subprocess
import threading
import time

import psycopg

from harness.pgwarden import binary_path
from harness.rawpg import try_startup
from harness.system import port_accepts
from harness.yamlgen import dump


def wait_for_log(pw, needle, timeout=5.0, since=0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in pw.log_text()[since:]:
            return True
        time.sleep(0.05)
    return False


def works(pw, **kw):
    with pw.connect(**kw) as conn:
        return conn.execute("SELECT 'works'").fetchone()[0] == "works"


# ---- SIGHUP -------------------------------------------------------------

def test_sighup_with_broken_config_keeps_old_config(pgwarden):
    with pgwarden.connect(autocommit=True) as session:
        cases = [
            # An unknown key in an otherwise valid file that would also deny
            # everybody: nothing of it may apply.
            ("unknown key", dict(copy.deepcopy(pgwarden.config), default="deny",
                                 bogus_key_xyz=1), "bogus_key_xyz"),
            ("unreadable password file",
             dict(copy.deepcopy(pgwarden.config), default="deny",
                  upstreams=[dict(pgwarden.config["upstreams"][0],
                                  password_file=os.path.join(pgwarden.dir, "missing.pw"))]),
             "missing.pw"),
            ("bad value", dict(copy.deepcopy(pgwarden.config), default="deny",
                               log_level="chatty"), "log_level"),
        ]
        for what, config, needle in cases:
            mark = len(pgwarden.log_text())
            pgwarden.reload(config)
            assert wait_for_log(pgwarden, needle, since=mark), \
                f"{what}: the log does not say why the reload was refused\n{pgwarden.log_tail()}"
            assert pgwarden.alive()
            assert works(pgwarden), what
            assert session.execute("SELECT 'old session'").fetchone()[0] == "old session"

        mark = len(pgwarden.log_text())
        pgwarden.reload(text="listen: [unclosed\n  - : :\n")
        time.sleep(0.5)
        assert len(pgwarden.log_text()) > mark, "a YAML syntax error on reload was not logged"
        assert pgwarden.alive() and works(pgwarden)


def test_sighup_applies_a_valid_config(pgwarden):
    with pgwarden.connect(autocommit=True) as session:
        pgwarden.config["default"] = "deny"
        pgwarden.reload(pgwarden.config)
        deadline = time.monotonic() + 5
        while True:
            kind, fields = try_startup(pgwarden.host, pgwarden.port, user="alice")
            if kind == "error" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert kind == "error" and fields["C"] == "28000", fields
        # A session admitted under the old config keeps running.
        assert session.execute("SELECT 1").fetchone()[0] == 1

        pgwarden.config["default"] = "allow"
        pgwarden.reload(pgwarden.config)
        deadline = time.monotonic() + 5
        while try_startup(pgwarden.host, pgwarden.port)[0] != "ready":
            assert time.monotonic() < deadline, "reload back to allow not applied"
            time.sleep(0.1)


# ---- SIGTERM ------------------------------------------------------------

def _active(cluster, app):
    return cluster.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                           "AND state = 'active'", [app])[0][0]


def assert_new_clients_refused(pw):
    """A client arriving while pgwarden drains is refused at once (connection
    refused, or an ErrorResponse), not left hanging in the listen backlog."""
    for host, port in ((pw.host, pw.port), (pw.config["unix_socket"], 0)):
        started = time.monotonic()
        try:
            kind, fields = try_startup(host, port, user="late", timeout=3)
        except (ConnectionRefusedError, FileNotFoundError, EOFError, ConnectionResetError):
            continue
        except socket.timeout:
            raise AssertionError(f"a new client to {host} hangs while pgwarden drains "
                                 "(neither refused nor answered within 3 s)")
        assert kind == "error", f"a new client to {host} was served after SIGTERM"
        assert time.monotonic() - started < 1.0


def test_sigterm_lets_running_statement_finish(make_pgwarden, cluster):
    pw = make_pgwarden(overrides={"shutdown_grace": "10s"})
    conn = pw.connect(autocommit=True, application_name="pgw-drain")
    result = []
    worker = threading.Thread(target=lambda: result.append(
        conn.execute("SELECT pg_sleep(2), 'finished'").fetchone()[1]))
    worker.start()
    deadline = time.monotonic() + 5
    while _active(cluster, "pgw-drain") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pw.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    time.sleep(0.5)
    assert_new_clients_refused(pw)
    worker.join(timeout=15)
    assert result == ["finished"]
    assert pw.proc.wait(timeout=15) == 0, pw.log_tail()
    assert time.monotonic() - stopped_at >= 1.0
    conn.close()


def test_sigterm_grace_expiry_ends_sessions_and_backends(make_pgwarden, cluster):
    pw = make_pgwarden(overrides={"shutdown_grace": "1s"})
    conn = pw.connect(autocommit=True, application_name="pgw-grace")
    outcome = []

    def sleep_long():
        try:
            conn.execute("SELECT pg_sleep(20)")
            outcome.append("completed")
        except psycopg.Error as exc:
            outcome.append(exc)

    worker = threading.Thread(target=sleep_long)
    worker.start()
    deadline = time.monotonic() + 5
    while _active(cluster, "pgw-grace") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    pw.send_signal(signal.SIGTERM)
    assert pw.proc.wait(timeout=10) == 0, pw.log_tail()
    assert time.monotonic() - started < 5
    worker.join(timeout=10)
    assert outcome and isinstance(outcome[0], psycopg.Error), outcome
    # The statement must not keep running upstream once its session is gone
    # (PostgreSQL itself notices a closed socket only at its next write).
    left = cluster.wait_backends(0, timeout=5, application_name="pgw-grace")
    assert left == 0, "the upstream statement still runs 5 s after pgwarden ended its session"
    conn.close()


# ---- config validation ----------------------------------------------------

def _check(pw, text):
    path = os.path.join(pw.dir, "check.yaml")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([binary_path(), "policy", "check", path], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_policy_check_validates_without_serving(make_pgwarden, cluster):
    pw = make_pgwarden(start=False)
    good = dump(pw.config) + "\n"
    ok = _check(pw, good)
    assert ok.returncode == 0, ok.stderr
    assert not port_accepts(pw.host, pw.port)

    lines = good.count("\n")
    unknown = _check(pw, good + "bogus_key_xyz: 1\n")
    assert unknown.returncode == 2
    assert "bogus_key_xyz" in unknown.stderr and str(lines + 1) in unknown.stderr, unknown.stderr

    bad_listen = _check(pw, good.replace(pw.config["listen"], "not-an-address"))
    assert bad_listen.returncode == 2 and "listen" in bad_listen.stderr, bad_listen.stderr

    missing = os.path.join(pw.dir, "missing.pw")
    no_pw = _check(pw, good.replace(pw.password_file, missing))
    assert no_pw.returncode == 2 and "password_file" in no_pw.stderr, no_pw.stderr
    for result in (ok, unknown, bad_listen, no_pw):
        assert cluster.app_password not in result.stdout + result.stderr
    pw.close()


def test_keys_not_supported_yet_are_refused_not_ignored(make_pgwarden):
    """Keys of the file format that this version does not implement are
    refused by name (exit 2, one line), by `policy check` and by `run`: a
    setting must never look as if it were in force. So is a TLS setting that
    cannot be honoured."""
    pw = make_pgwarden(start=False)
    good = dump(pw.config) + "\n"
    cases = {
        "identities:\n  - name: a\n    match:\n      oidc:\n        subject: [x]\n":
            "identities[0].match.oidc.subject: not supported yet",
        "tls:\n  client: require\n": "tls.client: require needs tls.cert_file",
    }
    for extra, message in cases.items():
        result = _check(pw, good + extra)
        assert result.returncode == 2, (extra, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert lines[0].startswith("pgwarden: ") and "check.yaml:" in lines[0], result.stderr

    pw.config["tls"] = {"key_file": os.path.join(pw.dir, "server.key")}
    pw.write_config()
    run = subprocess.run([binary_path(), "run", "--config", pw.config_path], capture_output=True,
                         text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert "tls.key_file needs tls.cert_file" in run.stderr
    assert not port_accepts(pw.host, pw.port)
    pw.close()


def test_run_with_bad_config_exits_2(make_pgwarden):
    pw = make_pgwarden(start=False)
    pw.config["bogus_key_xyz"] = True
    pw.write_config()
    run = subprocess.run([binary_path(), "run", "--config", pw.config_path], capture_output=True,
                         text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert "bogus_key_xyz" in run.stderr
    assert not port_accepts(pw.host, pw.port)
    pw.close()


# ---- churn ----------------------------------------------------------------

def test_connection_churn_leaks_nothing(pgwarden, cluster):
    with pgwarden.connect() as warm:
        warm.execute("SELECT 1")
    time.sleep(0.2)
    fds_before = pgwarden.fd_count()

    def client(i):
        for j in range(5):
            with pgwarden.connect(unix=(i + j) % 2 == 0, autocommit=True,
                                  application_name="pgw-churn") as conn:
                assert conn.execute("SELECT %s::int", [i * 10 + j]).fetchone()[0] == i * 10 + j

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        list(pool.map(client, range(40)))
    assert cluster.wait_backends(0, timeout=5, application_name="pgw-churn") == 0
    time.sleep(0.2)
    assert pgwarden.fd_count() <= fds_before + 2, "file descriptors leak per connection"
