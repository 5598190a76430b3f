"""The admin API over HTTP as an operator meets it: /metrics, hostile and
broken requests, who may use the admin socket, and `pgwarden status`.

One daemon per test with the approval policy (SELECT runs, DELETE is
refused, DROP waits for people, customers.email is masked), a
metrics_listen and a console_listen. /metrics is read over metrics_listen
(urllib) and over the admin socket (curl --unix-socket), checked by
`promtool check metrics`, and its counters must move with the test's own
traffic. Each broken request must be refused (a 4xx, or for a request line
libmicrohttpd cannot even split, a close without an answer) and the daemon
must keep serving: GET /v1/status answers 200 and a psql SELECT through
pgwarden still works.
"""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.request

import pytest

from harness import binary_path, client_env
from harness.operator_http import (WebhookReceiver, curl_unix, parse_metrics, raw_exchange, raw_status,
                                   tcp_connector, tcp_request, unix_connector, unix_request)
from harness.system import RunAs, free_port
from approvals import helpers
from approvals.helpers import AGENT, approval_config, cli, finish, pending, start_psql, wait_for_request

DB = "pgw_admin_http"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"


def make_table(cluster, name):
    helpers.make_table(cluster, name, DB)


def table_exists(cluster, name):
    return helpers.table_exists(cluster, name, DB)


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    yield cluster
    cluster.drop_database(DB)




def configure(pw, notify=None):
    approval_config(pw, notify=notify, extra_policy={
        "mask": [{"column": "public.customers.email", "with": "email"}]})
    pw.config["metrics_listen"] = f"127.0.0.1:{free_port()}"
    pw.config["console_listen"] = f"127.0.0.1:{free_port()}"
    pw.config["state_dir"] = os.path.join(pw.dir, "state")
    return pw


@pytest.fixture
def daemon(make_pgwarden, db):
    return configure(make_pgwarden(start=False)).start()


def psql(pw, sql, dbname=DB):
    """psql -c SQL (several -c in one session when sql is a list)."""
    commands = [sql] if isinstance(sql, str) else sql
    argv = ["psql", "-X", "-A", "-t", "-v", "VERBOSITY=verbose", *pw.psql_args(dbname=dbname)]
    for c in commands:
        argv += ["-c", c]
    return subprocess.run(argv, capture_output=True, text=True, env=client_env(), timeout=30,
                          stdin=subprocess.DEVNULL)


def assert_still_serving(pw):
    """The daemon answers its admin API and relays a SELECT."""
    pw.check_not_exited()
    reply = unix_request(pw.config["admin_socket"], "GET", "/v1/status")
    assert reply.status == 200 and reply.json()["ok"] is True, reply
    r = psql(pw, "SELECT 41 + 1")
    assert r.returncode == 0 and r.stdout.strip() == "42", r.stderr


# ---- /metrics ------------------------------------------------------------------------------

def promtool_or_skip():
    path = shutil.which("promtool")
    if path is None:
        msg = "promtool is missing (Debian's prometheus package: apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def promtool_check(promtool, text, where):
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"promtool check metrics failed for {where} ({r.returncode}):\n{r.stdout}{r.stderr}"


def metrics_over_tcp(pw):
    with urllib.request.urlopen(f"http://{pw.config['metrics_listen']}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith(PROMETHEUS_CONTENT_TYPE), r.headers["Content-Type"]
        return r.read().decode()


def metrics_over_socket(pw):
    code, body = curl_unix(pw.config["admin_socket"], "/metrics")
    assert code == 200, body
    return body


def test_metrics_pass_promtool_and_move_with_the_traffic(daemon, db):
    promtool = promtool_or_skip()
    make_table(db, "t_metrics")
    before = parse_metrics(metrics_over_tcp(daemon))
    promtool_check(promtool, before.text, "metrics_listen, before")
    promtool_check(promtool, metrics_over_socket(daemon), "admin socket, before")

    # One session of three SELECTs.
    r = psql(daemon, ["SELECT 1", "SELECT 2", "SELECT 3"])
    assert r.returncode == 0 and r.stdout.split() == ["1", "2", "3"], r.stderr
    # One denied DELETE.
    r = psql(daemon, "DELETE FROM t_metrics")
    assert r.returncode != 0 and "42501" in r.stderr, r.stderr
    # One masked SELECT of five rows.
    r = psql(daemon, "SELECT email FROM customers ORDER BY id LIMIT 5", dbname="app")
    assert r.returncode == 0, r.stderr
    emails = r.stdout.split()
    assert len(emails) == 5 and all("@" in e for e in emails), r.stdout
    direct = [row[0] for row in db.execute_app("SELECT email FROM customers ORDER BY id LIMIT 5", dbname="app")]
    assert emails != direct  # masked, not the stored values
    # One approved DROP.
    proc = start_psql(daemon, "DROP TABLE t_metrics", DB)
    [req] = wait_for_request(daemon)
    mid = parse_metrics(metrics_over_socket(daemon))
    assert mid.value("pgwarden_approvals_pending") == 1
    assert mid.value("pgwarden_approval_requests_total") == before.value("pgwarden_approval_requests_total") + 1
    cli(daemon, "approvals", "approve", req["id"])
    code, out, err = finish(proc)
    assert (code, out.strip()) == (0, "DROP TABLE"), err

    over_socket = metrics_over_socket(daemon)
    over_tcp = metrics_over_tcp(daemon)
    promtool_check(promtool, over_socket, "admin socket, after")
    promtool_check(promtool, over_tcp, "metrics_listen, after")
    for after in (parse_metrics(over_socket), parse_metrics(over_tcp)):
        def grew(name, **labels):
            return after.value(name, **labels) - before.value(name, **labels)
        assert grew("pgwarden_decisions_total", decision="allow") >= 4  # 3 SELECTs + the masked one
        assert grew("pgwarden_decisions_total", decision="deny") == 1
        assert grew("pgwarden_decisions_total", decision="approve") == 1
        assert after.get("pgwarden_statements_total", decision="deny", **{"class": "delete"}) >= 1
        assert grew("pgwarden_approvals_total", outcome="approved") == 1
        assert grew("pgwarden_approvals_total", outcome="denied") == 0
        assert after.value("pgwarden_approvals_pending") == 0
        assert grew("pgwarden_decision_duration_seconds_count") >= 6
        assert grew("pgwarden_decision_duration_seconds_sum") > 0
        assert after.value("pgwarden_decision_duration_seconds_bucket", le="+Inf") == \
            after.value("pgwarden_decision_duration_seconds_count")
        assert grew("pgwarden_sessions_total") == 4  # the four psql runs
        assert grew("pgwarden_masked_rows_total") == 5
    assert not table_exists(db, "t_metrics")


def test_metrics_listener_serves_only_metrics(daemon):
    address = daemon.config["metrics_listen"]
    assert tcp_request(address, "GET", "/metrics").status == 200
    for method, path in [("GET", "/v1/status"), ("GET", "/v1/approvals"), ("GET", "/v1/sessions"),
                         ("GET", "/"), ("POST", "/v1/console/token")]:
        reply = tcp_request(address, method, path, body=b"{}" if method == "POST" else None)
        assert reply.status == 404, (method, path, reply)
    reply = tcp_request(address, "POST", "/metrics", body=b"")
    assert reply.status == 405 and reply.headers["allow"] == "GET", reply
    assert_still_serving(daemon)


# ---- broken requests -----------------------------------------------------------------------

# (what, bytes, status): None means libmicrohttpd closes without any answer,
# as 0.9.75 does with a request line it cannot split into method, target and
# version.
MALFORMED = [
    ("no request line at all", b"GARBAGE\r\n\r\n", None),
    ("a method alone", b"GET\r\n\r\n", None),
    ("binary bytes", b"\x00\x01\x02\xff\xfe binary\r\n\r\n", None),
    ("two spaces in the request line", b"GET  /v1/status  HTTP/1.1\r\nHost: x\r\n\r\n", None),
    ("no version", b"GET /v1/status\r\n\r\n", 400),
    ("HTTP/1.1 without Host", b"GET /v1/status HTTP/1.1\r\n\r\n", 400),
    ("a header line without a colon", b"GET /v1/status HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
    ("a space before a header's colon", b"GET /v1/status HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("a Content-Length that is no number",
     b"POST /v1/approvals/x/deny HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    ("a request target of 100 KB", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("a header of 100 KB", b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n", 431),
    ("HTTP/9.9", b"GET /v1/status HTTP/9.9\r\nHost: x\r\n\r\n", 505),
]


@pytest.mark.parametrize("listener", ["admin_socket", "console_listen", "metrics_listen"])
def test_malformed_requests_are_refused_and_the_daemon_keeps_serving(daemon, listener):
    where = daemon.config[listener]
    connect = unix_connector(where) if listener == "admin_socket" else tcp_connector(where)
    for what, data, expected in MALFORMED:
        raw = raw_exchange(connect, data)
        status = raw_status(raw)
        if expected is None:
            assert raw == b"", f"{what}: expected a close without an answer, got {raw[:200]!r}"
        else:
            assert status == expected, f"{what}: expected {expected}, got {raw[:200]!r}"
        assert_still_serving(daemon)
    # A request cut off in the middle, then closed.
    assert raw_exchange(connect, b"GET /v1/sta", timeout=0.5) == b""
    assert_still_serving(daemon)


def test_unknown_paths_and_wrong_methods(daemon):
    sock = daemon.config["admin_socket"]
    for path in ["/v1/nope", "/", "/v1", "/v1/approvals/x/y/z", "/v1/status/extra", "/metrics/x"]:
        reply = unix_request(sock, "GET", path)
        assert reply.status == 404 and reply.json() == {"error": "not found"}, (path, reply)
        assert reply.headers["content-type"] == "application/json"
    for method, path, allow in [("DELETE", "/v1/status", "GET"), ("POST", "/metrics", "GET"),
                                ("GET", "/v1/approvals/x/approve", "POST"), ("PUT", "/v1/approvals/x/deny", "POST"),
                                ("GET", "/v1/console/token", "POST"), ("PATCH", "/v1/approvals/x", "GET")]:
        reply = unix_request(sock, method, path, body=b"{}" if method != "GET" else None)
        assert reply.status == 405, (method, path, reply)
        assert reply.headers["allow"] == allow and method in reply.json()["error"], reply
    # The console's listener has the console's routes only.
    console = daemon.config["console_listen"]
    for method, path in [("GET", "/v1/status"), ("GET", "/metrics"), ("POST", "/v1/console/token"),
                         ("GET", "/v1/approvals/x"), ("GET", "/etc/passwd"), ("GET", "/../console.js")]:
        reply = tcp_request(console, method, path, body=b"{}" if method == "POST" else None)
        assert reply.status == 404, (method, path, reply)
    assert_still_serving(daemon)


def test_bodies_over_64_kib_and_bad_json_are_refused(daemon, db):
    sock = daemon.config["admin_socket"]
    make_table(db, "t_bodies")
    proc = start_psql(daemon, "DROP TABLE t_bodies", DB)
    [req] = wait_for_request(daemon)
    deny = f"/v1/approvals/{req['id']}/deny"
    approve = f"/v1/approvals/{req['id']}/approve"

    # Over 64 KiB, declared: refused as soon as the headers are in, before
    # any of the body is sent.
    connect = unix_connector(sock)
    head = (f"POST {deny} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {64 * 1024 + 1}\r\n\r\n").encode()
    raw = raw_exchange(connect, head, timeout=2)
    assert raw_status(raw) == 413 and b"request body larger than 65536 bytes" in raw, raw
    # Over 64 KiB, chunked (no length given): refused once past the limit.
    big = json.dumps({"reason": "x" * (64 * 1024)}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (big[:40000], big[40000:])) + b"0\r\n\r\n"
    head = (f"POST {deny} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    raw = raw_exchange(connect, head + chunks, timeout=5)
    assert raw_status(raw) == 413, raw[:300]
    # Exactly 64 KiB is read, and refused for what it says.
    exact = b'{"reason": "' + b"y" * (64 * 1024 - 15) + b'"}'
    exact = exact + b" " * (64 * 1024 - len(exact))
    assert len(exact) == 64 * 1024
    reply = unix_request(sock, "POST", deny, body=exact)
    assert reply.status == 400 and "longer than 1000 bytes" in reply.json()["error"], reply
    # The console refuses an oversized body before asking for a token.
    head = (f"POST {deny} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {1 << 20}\r\n\r\n").encode()
    raw = raw_exchange(tcp_connector(daemon.config["console_listen"]), head, timeout=2)
    assert raw_status(raw) == 413, raw

    for body, why in [(b'{"reason":', "the body must be a JSON object"),
                      (b"[1, 2]", "the body must be a JSON object"),
                      (b'"deny"', "the body must be a JSON object"),
                      (b"\xff\xfe{}", "the body must be a JSON object"),
                      (b'{"reason": 5}', '"reason" must be a text')]:
        reply = unix_request(sock, "POST", deny, body=body)
        assert reply.status == 400 and reply.json()["error"] == why, (body, reply)
    for body, why in [(b'{"for": "banana"}', '"for"'), (b'{"for": "0s"}', "longer than 0"),
                      (b'{"for": 600}', '"for" must be a duration'), (b"{not json}", "JSON object")]:
        reply = unix_request(sock, "POST", approve, body=body)
        assert reply.status == 400 and why in reply.json()["error"], (body, reply)
    # None of that decided anything: the request still waits, the client too.
    assert [a["id"] for a in pending(daemon)] == [req["id"]]
    assert proc.poll() is None and table_exists(db, "t_bodies")
    assert_still_serving(daemon)

    # A good body (curl, as an operator's script would) decides it.
    code, body = curl_unix(sock, deny, method="POST", data='{"reason": "bodies checked"}')
    assert code == 200 and json.loads(body)["state"] == "denied", body
    code, out, err = finish(proc)
    assert code != 0 and f"approval {req['id']} denied by root: bodies checked" in err
    assert table_exists(db, "t_bodies")


ODD_IDS = [
    # (path segment as sent, the id the daemon names, status)
    ("nosuch-1", "nosuch-1", 404),
    ("%2e%2e", "..", 404),
    ("%22%3Cscript%3Ealert(1)%3C%2Fscript%3E", None, 404),  # decoded '/' splits it: no such route
    ("%22%3Cscript%3E", '"<script>', 404),
    ("%C3%A9t%C3%A9", "été", 404),
    ("%FF%FE", "\ufffd\ufffd", 404),  # not UTF-8: the answer stays valid JSON
    ("a%0D%0AX-Injected:%20yes", "a\r\nX-Injected: yes", 404),
    ("%00", None, 404),
    ("n1-" + "9" * 5000, "n1-" + "9" * 5000, 404),
    ("n1-" + "9" * 40000, None, 414),
]


def test_unknown_and_odd_approval_ids(daemon, db):
    sock = daemon.config["admin_socket"]
    make_table(db, "t_odd")
    proc = start_psql(daemon, "DROP TABLE t_odd", DB)
    [req] = wait_for_request(daemon)
    for segment, named, status in ODD_IDS:
        for method, path in [("GET", f"/v1/approvals/{segment}"), ("POST", f"/v1/approvals/{segment}/approve"),
                             ("POST", f"/v1/approvals/{segment}/deny")]:
            if status == 414:
                # Refused while the request line comes in: sent in one piece,
                # so that the client is not cut off before it reads the answer.
                raw = raw_exchange(unix_connector(sock), f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
                                   f"Content-Length: 0\r\n\r\n".encode())
                assert raw_status(raw) == 414, (segment[:40], method, raw[:200])
                continue
            reply = unix_request(sock, method, path, body=b'{"reason": "x"}' if method == "POST" else None)
            assert reply.status == status, (segment[:40], method, reply)
            assert "x-injected" not in reply.headers
            if status == 404:
                error = reply.json()["error"]  # always JSON, whatever the id held
                if named is not None:
                    assert error == f"no approval request {named}", (segment[:40], error[:80])
    # The CLI sends what it is given as one id, whatever characters it has.
    for odd in ["a b", "x?y=1", "a#b", "..", "%00", "n1-1; rm -rf ~", "é"]:
        for verb in (["approve", odd], ["deny", odd, "--reason", "x"]):
            r = cli(daemon, "approvals", *verb, check=False)
            assert r.returncode == 1 and r.stderr == f"pgwarden: no approval request {odd}\n", (odd, r.stderr)
    for odd in ["../../status", "a/b", "n1-1; rm -rf /"]:
        r = cli(daemon, "approvals", "approve", odd, check=False)
        assert r.returncode == 1 and r.stderr == "pgwarden: not found\n", (odd, r.stderr)
    r = cli(daemon, "approvals", "approve", "", check=False)
    assert r.returncode == 1 and "the approval id is empty" in r.stderr, r.stderr
    # The real request is untouched by all of it.
    assert [a["id"] for a in pending(daemon)] == [req["id"]]
    assert proc.poll() is None
    assert_still_serving(daemon)
    cli(daemon, "approvals", "approve", req["id"])
    assert finish(proc)[:2] == (0, "DROP TABLE\n")


# ---- who may use the admin socket ------------------------------------------------------------

CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(e.errno)
"""


def test_a_non_root_user_cannot_reach_the_admin_socket(daemon):
    if os.geteuid() != 0:
        pytest.skip("needs root: the admin socket is then root's and the test user is another user")
    user = RunAs()
    sock = daemon.config["admin_socket"]
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    # Let the user reach the socket itself: its own mode is what refuses.
    os.chmod(daemon.dir, 0o711)
    r = subprocess.run(user.argv([sys.executable, "-c", CONNECT, sock]), capture_output=True, text=True, timeout=20)
    assert r.stdout.strip() == str(errno.EACCES), (r.stdout, r.stderr)
    r = subprocess.run(user.argv([binary_path(), "status", "--admin-socket", sock]), capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr == f"pgwarden: cannot reach the pgwarden daemon at {sock}: Permission denied\n", r.stderr
    # Root still can.
    r = cli(daemon, "status")
    assert r.stdout.startswith("daemon: pid ")
    assert_still_serving(daemon)


# ---- pgwarden status ---------------------------------------------------------------------------

def wait_for_status(pw, predicate, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        text = cli(pw, "status").stdout
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"pgwarden status never showed {what}:\n{text}")
        time.sleep(0.1)


def test_status_shows_pending_approvals_and_webhooks(make_pgwarden, db):
    with WebhookReceiver() as hook:
        pw = configure(make_pgwarden(start=False), notify=hook.url).start()
        text = cli(pw, "status").stdout
        assert "approvals: 0 pending  0 requested  0 approved" in text
        assert "webhooks: (none used yet)" in text
        make_table(db, "t_status")
        proc = start_psql(pw, "DROP TABLE t_status", DB)
        [req] = wait_for_request(pw)
        assert req["identity"]["name"] == AGENT
        hook.wait_for(1)
        # The path of the URL is a secret: status shows scheme, host and port.
        line = f"  http://127.0.0.1:{hook.port}/…: 1 delivered  0 queued  0 failed attempts  0 dropped"
        text = wait_for_status(pw, lambda t: line in t, line)
        assert "approvals: 1 pending  1 requested  0 approved" in text
        assert "hooks/pgwarden" not in text
        status = json.loads(cli(pw, "status", "-j").stdout)
        assert status["approvals"]["pending"] == 1
        cli(pw, "approvals", "approve", req["id"])
        assert finish(proc)[:2] == (0, "DROP TABLE\n")
        hook.wait_for(2)
        text = wait_for_status(pw, lambda t: ": 2 delivered  0 queued" in t, "2 delivered")
        assert "approvals: 0 pending  1 requested  1 approved  0 denied" in text
