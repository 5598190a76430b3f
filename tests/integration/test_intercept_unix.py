"""Unix-socket interception, end to end (intercept.unix_paths): the kernel's
cgroup connect_unix hook (Linux 6.7+) sends a connect to the database's own
socket file to pgwarden's socket, with the caller's identity.

A real PostgreSQL whose socket directory is the test cluster's; psql inside
a cgroup this test created, holding no password, naming `host=<socket dir>`
as a local agent would. Outside that cgroup the same psql reaches
PostgreSQL directly (its local connections are `trust` in the harness
cluster, so who answered is told by current_user: pgwarden logs in upstream
as the app owner whatever the client asks for).

Runs as root; skips with the reason where BPF privileges or the kernel hook
are missing, and fails instead under PGWARDEN_REQUIRE_BPF=1.
"""

import errno
import os
import signal
import subprocess
import sys
import time


from harness import client_env
from harness import intercept as ic

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
ASKED_USER = "postgres"  # what the client asks for; pgwarden logs in as the app owner


bpf_privileges, db, client_script, rig = ic.module_fixtures(
    DB_HOST, DB_PORT, setup_sql="CREATE TABLE public.people (id int PRIMARY KEY, email text);"
                                "INSERT INTO public.people VALUES (1, 'ada@example.com');")


def db_socket(db):
    return os.path.join(db.socket_dir, f".s.PGSQL.{DB_PORT}")


def unix_pgwarden(rig, db, fail="closed", heartbeat_timeout="1s", paths=None):
    """pgwarden intercepting TCP and the database's unix socket from clients/,
    with a policy that allows reads only and masks people.email."""
    identities = [{"name": "agent", "match": {"cgroup": rig.clients.path + "/**", "uid": [0]}}]
    policies = [{"identity": "agent", "allow": ["select", "set", "transaction"],
                 "mask": [{"column": "public.people.email", "with": "redact"}]}]
    from harness.pgwarden import Pgwarden
    pw = Pgwarden(db, overrides=rig.config_overrides(fail=fail, heartbeat_timeout=heartbeat_timeout,
                                                     identities=identities, policies=policies))
    pw.config["intercept"]["unix_paths"] = paths or [db_socket(db)]
    rig.adopt(pw, start=False)
    pw.config["upstreams"][0]["match"].extend(paths or [db_socket(db)])
    rig.start(pw)
    return pw


def psql_unix(rig, db, sql, inside=True):
    argv = ["psql", "-X", "-At", "-h", db.socket_dir, "-p", str(DB_PORT), "-U", ASKED_USER,
            "-d", "app", "-c", sql]
    if inside:
        argv = rig.clients.argv(argv)
    return subprocess.run(argv, capture_output=True, text=True, env=client_env(), timeout=60,
                          stdin=subprocess.DEVNULL)


PEERNAME_PROBE = r"""
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
t0 = time.monotonic()
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(json.dumps({"errno": exc.errno, "ms": (time.monotonic() - t0) * 1000}))
    sys.exit(0)
ms = (time.monotonic() - t0) * 1000
first = s.getpeername()
time.sleep(0.3)  # the same after the engine accepted the connection
print(json.dumps({"peer": first, "later": s.getpeername(), "ms": ms}))
"""


def unix_probe(rig, path, inside=True):
    """connect() to path from clients/ (or the test's own cgroup) and getpeername()."""
    import json
    argv = [sys.executable, "-c", PEERNAME_PROBE, path]
    if inside:
        argv = rig.clients.argv(argv)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def require_unix_hook(rig, pw):
    st = rig.status(pw)["intercept"]
    if st["unix_sockets"] != "on":
        ic.skip_or_fail(f"unix sockets are not intercepted here: {st['unix_sockets']}")
    return st


def session_lines(pw):
    return [line for line in pw.log_text().splitlines() if " opened: " in line]


def test_psql_on_the_database_socket_is_served_by_pgwarden_inside_the_cgroup_only(rig, db):
    pw = unix_pgwarden(rig, db)
    st = require_unix_hook(rig, pw)
    names = {p["name"]: p for p in st["programs"]}
    assert names["pgw_connect_unix"]["attach_type"] == "cgroup_unix_connect", st["programs"]
    assert names["pgw_peername_unix"]["attach_type"] == "cgroup_unix_getpeername", st["programs"]
    assert st["unix_paths"] == [db_socket(db)]

    # Inside: pgwarden answers (the upstream login is its own, no password
    # here), the identity comes from the kernel record, the policy holds and
    # the mask applies.
    inside = psql_unix(rig, db, "SELECT current_user")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.strip() == db.app_user
    lines = session_lines(pw)
    assert len(lines) == 1, pw.log_tail()
    assert f"intercepted={db_socket(db)}" in lines[0], lines[0]
    assert "identity=agent" in lines[0] and 'comm "psql"' in lines[0], lines[0]
    assert f"cgroup \"{rig.clients.path}\"" in lines[0], lines[0]

    masked = psql_unix(rig, db, "SELECT id, email FROM public.people")
    assert masked.returncode == 0, masked.stderr
    assert "ada@example.com" not in masked.stdout, masked.stdout
    assert masked.stdout.startswith("1|"), masked.stdout

    refused = psql_unix(rig, db, "CREATE TABLE public.stolen (x int)")
    assert refused.returncode != 0, refused.stdout
    assert "pgwarden" in refused.stderr, refused.stderr
    assert db.execute("SELECT to_regclass('public.stolen')::text", dbname="app") in ([(None,)], [[None]]), \
        "the refused statement reached PostgreSQL"

    # Outside the cgroup: straight to PostgreSQL, as the user asked for.
    before = len(session_lines(pw))
    outside = psql_unix(rig, db, "SELECT current_user", inside=False)
    assert outside.returncode == 0, outside.stderr
    assert outside.stdout.strip() == ASKED_USER
    assert len(session_lines(pw)) == before, "a connect from outside the cgroup reached pgwarden"


def test_getpeername_shows_the_database_socket_path(rig, db):
    pw = unix_pgwarden(rig, db)
    require_unix_hook(rig, pw)
    probe = unix_probe(rig, db_socket(db))
    assert probe.get("peer") == db_socket(db), probe
    assert probe.get("later") == db_socket(db), probe
    # Outside the cgroup nothing is rewritten either way.
    assert unix_probe(rig, db_socket(db), inside=False).get("peer") == db_socket(db)


def test_other_spellings_of_other_sockets_are_left_alone(rig, db):
    """Only the configured path is redirected: another socket in the same
    directory (the engine's own explicit socket) is reached as named."""
    pw = unix_pgwarden(rig, db)
    require_unix_hook(rig, pw)
    explicit = pw.config["unix_socket"]
    probe = unix_probe(rig, explicit)
    assert probe.get("peer") == explicit, probe
    # The explicit unix_socket listener still identifies by SO_PEERCRED.
    direct = subprocess.run(rig.clients.argv(
        ["psql", "-X", "-At", "-h", pw.unix_dir, "-p", str(pw.port), "-U", ASKED_USER, "-d", "app",
         "-c", "SELECT 1"]), capture_output=True, text=True, env=client_env(), timeout=60,
        stdin=subprocess.DEVNULL)
    assert direct.returncode == 0, direct.stderr
    assert any("identity=agent" in line and "intercepted=" not in line for line in session_lines(pw)), \
        pw.log_tail()


def test_stale_engine_fails_closed_for_unix_connects(rig, db):
    pw = unix_pgwarden(rig, db, fail="closed", heartbeat_timeout="1s")
    require_unix_hook(rig, pw)
    assert psql_unix(rig, db, "SELECT 1").returncode == 0

    pw.send_signal(signal.SIGSTOP)  # alive but not serving: the heartbeat goes stale
    try:
        time.sleep(1.3)
        stale = unix_probe(rig, db_socket(db))
        assert stale.get("errno") == errno.EPERM, stale
        assert stale["ms"] < 1000, stale
        refused = psql_unix(rig, db, "SELECT current_user")
        assert refused.returncode != 0, refused.stdout
        assert "Operation not permitted" in refused.stderr, refused.stderr
        # Outside the cgroup the database is still reachable.
        assert psql_unix(rig, db, "SELECT 1", inside=False).returncode == 0
    finally:
        pw.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 5
    while psql_unix(rig, db, "SELECT 1").returncode != 0:
        assert time.monotonic() < deadline, "not served again after SIGCONT"
        time.sleep(0.1)
    st = rig.status(pw)["intercept"]
    assert st["counters"]["connect_refused"] >= 2, st["counters"]


def test_a_path_no_upstream_serves_is_refused_with_the_reason(rig, db):
    """A configured path without an upstream `match` is refused by pgwarden,
    never passed through."""
    pw = unix_pgwarden(rig, db)
    require_unix_hook(rig, pw)
    pw.config["upstreams"][0]["match"].remove(db_socket(db))
    pw.reload(pw.config)
    time.sleep(0.5)
    refused = psql_unix(rig, db, "SELECT current_user")
    assert refused.returncode != 0, refused.stdout
    assert f"no upstream serves {db_socket(db)}" in refused.stderr, refused.stderr


def test_sigterm_detaches_the_unix_hooks_too(rig, db):
    pw = unix_pgwarden(rig, db)
    st = require_unix_hook(rig, pw)
    prog_ids = {p["id"] for p in st["programs"] if "unix" in p["name"]}
    assert len(prog_ids) == 2
    pw.stop()
    assert not (prog_ids & ic.live_ids("prog")), "unix programs left loaded after SIGTERM"
    # Connects go to PostgreSQL itself again.
    assert unix_probe(rig, db_socket(db)).get("peer") == db_socket(db)
    back = psql_unix(rig, db, "SELECT current_user")
    assert back.returncode == 0 and back.stdout.strip() == ASKED_USER, back.stderr


def test_the_run_spelling_of_a_var_run_socket_is_intercepted_too(rig, db):
    """/var/run is a symlink to /run: a workload naming /run/... for a socket
    configured as /var/run/... reaches the same socket, so it must be
    intercepted and served the same, not let through around pgwarden."""
    link = f"/run/pgw-test-{os.getpid()}"
    os.symlink(db.socket_dir, link)
    try:
        configured = f"/var{link}/.s.PGSQL.{DB_PORT}"
        pw = unix_pgwarden(rig, db, paths=[configured])
        st = require_unix_hook(rig, pw)
        assert sorted(st["unix_paths"]) == sorted([configured, f"{link}/.s.PGSQL.{DB_PORT}"])
        for host in (link, "/var" + link):
            argv = rig.clients.argv(["psql", "-X", "-At", "-h", host, "-p", str(DB_PORT), "-U", ASKED_USER,
                                     "-d", "app", "-c", "SELECT current_user"])
            served = subprocess.run(argv, capture_output=True, text=True, env=client_env(), timeout=60,
                                    stdin=subprocess.DEVNULL)
            assert served.returncode == 0, (host, served.stderr)
            assert served.stdout.strip() == db.app_user, (host, served.stdout)
        assert len(session_lines(pw)) == 2, pw.log_tail()
    finally:
        os.unlink(link)
