"""TLS on the client leg: pgwarden answers SSLRequest with 'S' when
tls.cert_file/key_file are set and terminates TLS in the engine.

Real clients (psql, psycopg, pgJDBC, Python's ssl module on a raw socket)
against a certificate the test's own CA signed (harness/tls_certs.py); the
upstream leg stays plaintext. One test goes through the transparent eBPF
path (the client dials the database's address and verifies the host name
it dialled)."""

import hashlib
import os
import re
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from harness import client_env, jdbc
from harness import intercept as ic
from harness import rawpg
from harness.operator_http import parse_metrics
from harness.tls_certs import TestCA

JDBC_CLIENT = Path(__file__).resolve().parent / "compat_clients" / "TlsJdbc.java"

# The transparent-path test's database (its own cluster, like test_intercept.py).
DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
bpf_privileges, db, client_script, rig = ic.module_fixtures(DB_HOST, DB_PORT, autouse=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("tls-ca"))


@pytest.fixture(scope="module")
def leaf(ca):
    return ca.issue("pgwarden", sans=["127.0.0.1", "127.0.0.3", "localhost"])


def tls_config(leaf, client="allow"):
    return {"cert_file": leaf.cert, "key_file": leaf.key, "client": client}


@pytest.fixture
def tls_pgwarden(make_pgwarden, leaf):
    return make_pgwarden(overrides={"tls": tls_config(leaf)})


def psql(pw, sql, host=None, **conn):
    """psql with a conninfo string (sslmode and friends in `conn`)."""
    info = {"host": host or pw.host, "port": pw.port, "user": "alice", "dbname": "app", **conn}
    dsn = " ".join(f"{k}={v}" for k, v in info.items())
    return subprocess.run(["psql", "-X", "-A", "-t", "-d", dsn, "-c", sql], capture_output=True, text=True,
                          env=client_env(), timeout=30, stdin=subprocess.DEVNULL)


def status(pw):
    return ic.status(pw.config["admin_socket"])


def wait_for_log(pw, text, timeout=5):
    deadline = time.monotonic() + timeout
    while text not in pw.log_text():
        assert time.monotonic() < deadline, f"{text!r} not logged\n{pw.log_tail()}"
        time.sleep(0.05)


def server_cert_sha256(pw, alpn=False, host="127.0.0.1"):
    """The certificate pgwarden presents (SSLRequest, then the handshake)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, pw.port), timeout=5) as raw:
        raw.sendall(rawpg.ssl_request())
        assert raw.recv(1) == b"S"
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def file_sha256_der(pem_path):
    der = ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())
    return hashlib.sha256(der).hexdigest()


# ---- psql, psycopg, JDBC ---------------------------------------------------

def test_psql_sslmode_require_and_verify_full(tls_pgwarden, ca):
    pw = tls_pgwarden
    r = psql(pw, "\\conninfo", sslmode="require")
    assert r.returncode == 0, r.stderr + pw.log_tail()
    assert "SSL connection (protocol: TLSv1.3" in r.stdout, r.stdout

    for host in ("127.0.0.1", "localhost"):
        r = psql(pw, "SELECT count(*) FROM customers", host=host, sslmode="verify-full", sslrootcert=ca.cert)
        assert r.returncode == 0, r.stderr + pw.log_tail()
        assert int(r.stdout.strip()) > 0

    st = status(pw)["sessions"]
    assert st["tls_total"] == 3, st
    metrics = subprocess.run(["curl", "-s", "--unix-socket", pw.config["admin_socket"], "http://x/metrics"],
                             capture_output=True, text=True, timeout=10).stdout
    samples = parse_metrics(metrics)
    assert samples.value("pgwarden_tls_sessions_total") == 3, metrics


def test_verify_full_fails_for_a_name_the_certificate_does_not_hold(make_pgwarden, ca):
    only_localhost = ca.issue("only-localhost", sans=["localhost"])
    pw = make_pgwarden(overrides={"tls": tls_config(only_localhost)})
    r = psql(pw, "SELECT 1", host="127.0.0.1", sslmode="verify-full", sslrootcert=ca.cert)
    assert r.returncode != 0
    assert "does not match host name" in r.stderr, r.stderr


def test_verify_ca_with_another_ca_fails(tls_pgwarden, tmp_path):
    other = TestCA(tmp_path / "other", "another CA")
    r = psql(tls_pgwarden, "SELECT 1", sslmode="verify-ca", sslrootcert=other.cert)
    assert r.returncode != 0
    assert "certificate verify failed" in r.stderr, r.stderr


def test_an_expired_certificate_fails_verification(make_pgwarden, ca):
    old = ca.issue("expired", sans=["127.0.0.1"], expired=True)
    pw = make_pgwarden(overrides={"tls": tls_config(old)})
    r = psql(pw, "SELECT 1", sslmode="verify-full", sslrootcert=ca.cert)
    assert r.returncode != 0
    assert "certificate verify failed" in r.stderr, r.stderr
    # libpq does not say why; a verifying client that does:
    ctx = ssl.create_default_context(cafile=ca.cert)
    with socket.create_connection((pw.host, pw.port), timeout=5) as raw:
        raw.sendall(rawpg.ssl_request())
        assert raw.recv(1) == b"S"
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert info.value.verify_message == "certificate has expired"
    # sslmode=require checks nothing and still gets in.
    assert psql(pw, "SELECT 1", sslmode="require").returncode == 0
    # The operator was told at start, and `policy check` tells them too.
    assert f"tls.cert_file: {old.cert}: the certificate expired on " in pw.log_text(), pw.log_tail()
    check = subprocess.run([pw.binary, "policy", "check", pw.config_path], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert f"{old.cert}: the certificate expired on " in check.stderr, check.stderr
    assert "clients that verify it (sslmode=verify-ca or verify-full) refuse it" in check.stderr


def test_a_certificate_about_to_expire_is_a_warning(make_pgwarden, ca):
    soon = ca.issue("soon", sans=["127.0.0.1"], days=3)
    pw = make_pgwarden(overrides={"tls": tls_config(soon)})
    assert f"tls.cert_file: {soon.cert}: the certificate expires on " in pw.log_text(), pw.log_tail()
    assert re.search(r"expires on \S+ \S+ UTC, in [23] days", pw.log_text()), pw.log_tail()
    # A certificate with weeks left says nothing.
    fresh = ca.issue("fresh", sans=["127.0.0.1"], days=30)
    pw2 = make_pgwarden(overrides={"tls": tls_config(fresh)})
    assert "tls.cert_file" not in pw2.log_text(), pw2.log_tail()


def test_psycopg_verify_full(tls_pgwarden, ca):
    pw = tls_pgwarden
    with psycopg.connect(**pw.conninfo(), sslmode="verify-full", sslrootcert=ca.cert, connect_timeout=10) as conn:
        assert conn.pgconn.ssl_in_use
        # A result bigger than one TLS record (16 KiB) and one receive buffer.
        n = conn.execute("SELECT count(*) FROM (SELECT repeat('x', 1000) FROM generate_series(1, 500)) s").fetchone()
        assert n[0] == 500
        rows = conn.execute("SELECT repeat('y', 1000) FROM generate_series(1, 500)").fetchall()
        assert len(rows) == 500 and all(r[0] == "y" * 1000 for r in rows)


def test_jdbc_verify_full(tls_pgwarden, ca):
    pw = tls_pgwarden
    url = (f"jdbc:postgresql://127.0.0.1:{pw.port}/app?ssl=true&sslmode=verify-full"
           f"&sslrootcert={ca.cert}&sslcert=/nonexistent&sslkey=/nonexistent")
    with jdbc.compiled(JDBC_CLIENT) as classpath:
        r = subprocess.run(["java", "-cp", classpath, "TlsJdbc", url, "alice", "SELECT current_user"],
                           capture_output=True, text=True, timeout=120, env=client_env())
    assert r.returncode == 0, r.stdout + r.stderr + pw.log_tail()
    assert r.stdout.strip() == pw.config["upstreams"][0]["user"]
    assert status(pw)["sessions"]["tls_total"] == 1


# ---- tls.client ---------------------------------------------------------------

def test_require_refuses_a_plaintext_client_naming_the_setting(make_pgwarden, leaf):
    pw = make_pgwarden(overrides={"tls": tls_config(leaf, client="require")})
    r = psql(pw, "SELECT 1", sslmode="disable")
    assert r.returncode != 0
    assert "tls.client: require" in r.stderr, r.stderr
    outcome, fields = rawpg.try_startup(pw.host, pw.port)
    assert outcome == "error" and fields["C"] == "08P01" and "tls.client: require" in fields["M"], fields
    # prefer (libpq's default) and require get in.
    assert psql(pw, "SELECT 1", sslmode="prefer").returncode == 0
    assert psql(pw, "SELECT 1", sslmode="require").returncode == 0
    # A unix socket never carries TLS: require does not apply there.
    r = subprocess.run(["psql", "-X", "-At", *pw.psql_args(unix=True), "-c", "SELECT 1"], capture_output=True,
                       text=True, env=client_env(), timeout=30)
    assert r.returncode == 0, r.stderr


def test_disable_answers_n(make_pgwarden, leaf):
    pw = make_pgwarden(overrides={"tls": tls_config(leaf, client="disable")})
    r = psql(pw, "SELECT 1", sslmode="require")
    assert r.returncode != 0
    assert "server does not support SSL" in r.stderr, r.stderr
    r = psql(pw, "\\conninfo", sslmode="prefer")
    assert r.returncode == 0, r.stderr
    assert "SSL connection" not in r.stdout


def test_without_a_certificate_ssl_request_is_answered_n(make_pgwarden):
    pw = make_pgwarden()
    with rawpg.RawConnection(pw.host, pw.port) as conn:
        conn.send(rawpg.ssl_request())
        assert conn.read_byte() == b"N"


# ---- direct TLS (PostgreSQL 17) and hostile starts ---------------------------------

def direct_tls(pw, alpn):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection((pw.host, pw.port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_messages(sock, until=(b"Z", b"E")):
    buf, seen = b"", []
    while True:
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                return seen
            buf += chunk
        length = struct.unpack("!I", buf[1:5])[0]
        seen.append((buf[:1], buf[5:1 + length]))
        buf = buf[1 + length:]
        if seen[-1][0] in until:
            return seen


def test_direct_tls_with_alpn_is_served(tls_pgwarden):
    with direct_tls(tls_pgwarden, ["postgresql"]) as tls:
        assert tls.selected_alpn_protocol() == "postgresql"
        tls.sendall(rawpg.startup_message("alice"))
        kinds = [k for k, _ in read_messages(tls)]
        assert kinds[-1] == b"Z", kinds
        tls.sendall(rawpg.query("SELECT 41 + 1"))
        msgs = read_messages(tls)
        rows = [p for k, p in msgs if k == b"D"]
        assert rows and rows[0].endswith(b"42"), msgs


def test_direct_tls_without_alpn_is_refused(tls_pgwarden):
    with direct_tls(tls_pgwarden, None) as tls:
        try:
            msgs = read_messages(tls)
        except (ssl.SSLError, ConnectionResetError):
            msgs = []
    errors = [rawpg.parse_fields(p) for k, p in msgs if k == b"E"]
    assert errors and errors[0]["C"] == "08P01" and "ALPN" in errors[0]["M"], msgs


def test_direct_tls_with_another_alpn_fails_the_handshake(tls_pgwarden):
    with pytest.raises(ssl.SSLError, match="NO_APPLICATION_PROTOCOL|no application protocol"):
        direct_tls(tls_pgwarden, ["http/1.1"])


def test_bytes_behind_ssl_request_are_refused(tls_pgwarden):
    pw = tls_pgwarden
    # In the same packet as the SSLRequest: refused before any answer.
    with rawpg.RawConnection(pw.host, pw.port) as conn:
        conn.send(rawpg.ssl_request() + rawpg.startup_message("alice"))
        assert conn.closed_within(5)
        errors = conn.buffered_errors()
        assert errors and errors[0]["C"] == "08P01", conn.buf
    # After the 'S', plaintext where the handshake belongs (CVE-2021-23214):
    # it never becomes a startup packet; the connection ends with a TLS alert.
    with rawpg.RawConnection(pw.host, pw.port) as conn:
        conn.send(rawpg.ssl_request())
        assert conn.read_byte() == b"S"
        conn.send(rawpg.startup_message("alice") + rawpg.query("SELECT 1"))
        assert conn.closed_within(5)
        assert not conn.buf.startswith((b"R", b"Z", b"S", b"E")), conn.buf
    wait_for_log(pw, "client TLS handshake")
    assert status(pw)["sessions"]["tls_total"] == 0


# ---- policy and masking over TLS -------------------------------------------------

def test_masking_and_policy_apply_over_tls(make_pgwarden, leaf, ca):
    pw = make_pgwarden(overrides={
        "tls": tls_config(leaf, client="require"),
        "default": "deny",
        "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
        "policies": [{"identity": "agent", "allow": ["select"],
                      "mask": [{"column": "public.customers.email", "with": "redact"}]}],
    })
    with psycopg.connect(**pw.conninfo(), sslmode="verify-full", sslrootcert=ca.cert, connect_timeout=10,
                         autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        emails = [r[0] for r in conn.execute("SELECT email FROM customers").fetchall()]
        assert emails and all("@" not in e for e in emails if e is not None), emails[:3]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM orders")
        # The session goes on after the refusal.
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0


# ---- certificate reload ------------------------------------------------------------

def test_sighup_swaps_the_certificate_and_a_broken_one_keeps_the_old(make_pgwarden, ca, tmp_path):
    first = ca.issue("first", sans=["127.0.0.1"])
    second = ca.issue("second", sans=["127.0.0.1"])
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(Path(first.cert).read_bytes())
    live_key.write_bytes(Path(first.key).read_bytes())
    os.chmod(live_key, 0o600)
    pw = make_pgwarden(overrides={"tls": {"cert_file": str(live_cert), "key_file": str(live_key)}})
    assert server_cert_sha256(pw) == file_sha256_der(first.cert)

    # A session open across the reload keeps going on its certificate.
    with psycopg.connect(**pw.conninfo(), sslmode="require", connect_timeout=10, autocommit=True) as conn:
        live_cert.write_bytes(Path(second.cert).read_bytes())
        live_key.write_bytes(Path(second.key).read_bytes())
        pw.reload()
        wait_for_log(pw, "config reloaded")
        assert server_cert_sha256(pw) == file_sha256_der(second.cert)
        assert conn.execute("SELECT 1").fetchone() == (1,)

    # A key that no longer matches: the reload is refused, the old pair stays.
    live_key.write_bytes(Path(first.key).read_bytes())
    pw.reload()
    wait_for_log(pw, "does not match certificate file")
    assert "reload refused" in pw.log_text()
    assert server_cert_sha256(pw) == file_sha256_der(second.cert)
    r = psql(pw, "SELECT 1", sslmode="verify-full", sslrootcert=ca.cert)
    assert r.returncode == 0, r.stderr


def test_bad_files_stop_the_start_with_a_clear_error(make_pgwarden, leaf, ca, tmp_path):
    other = ca.issue("other", sans=["127.0.0.1"])
    cases = [
        ({"cert_file": str(tmp_path / "missing.pem"), "key_file": leaf.key}, "missing.pem: No such file"),
        ({"cert_file": leaf.cert, "key_file": other.key}, "does not match certificate file"),
        ({"cert_file": leaf.key, "key_file": leaf.key}, "not a PEM certificate"),
        ({"cert_file": leaf.cert}, "tls.cert_file needs tls.key_file"),
        ({"client": "require"}, "tls.client: require needs tls.cert_file"),
    ]
    for tls, message in cases:
        pw = make_pgwarden(start=False, overrides={"tls": tls})
        with pytest.raises(AssertionError):
            pw.start()
        assert message in pw.log_text(), (tls, pw.log_tail())


# ---- the transparent path -------------------------------------------------------------

def test_verify_full_through_the_transparent_path(bpf_privileges, rig, db, ca, leaf):
    """The client dials the database's own address (127.0.0.3); eBPF hands
    the connection to pgwarden, whose certificate holds that address."""
    pw = rig.pgwarden(start=False)
    pw.config["tls"] = tls_config(leaf)
    rig.start(pw)
    env = client_env({"PGSSLMODE": "verify-full", "PGSSLROOTCERT": ca.cert})
    r = rig.psql("-At", "-c", "SELECT current_user", "-c", "\\conninfo", env=env)
    assert r.returncode == 0, r.stderr + pw.log_tail()
    assert r.stdout.splitlines()[0] == db.app_user
    assert "SSL connection" in r.stdout
    assert rig.status(pw)["sessions"]["tls_total"] == 1
    # Who the client is still comes from the kernel, TLS or not.
    opened = [l for l in pw.log_text().splitlines() if " opened: " in l]
    assert len(opened) == 1 and "identity=agent" in opened[0] and 'comm "psql"' in opened[0], opened


def test_cancel_reaches_a_tls_session(make_pgwarden, leaf):
    """libpq sends its CancelRequest on a new connection (plaintext before
    PostgreSQL 17's libpq): accepted even under require, as PostgreSQL does."""
    pw = make_pgwarden(overrides={"tls": tls_config(leaf, client="require")})
    with psycopg.connect(**pw.conninfo(), sslmode="require", connect_timeout=10, autocommit=True) as conn:
        import threading
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(20)")
        timer.join()
        assert time.monotonic() - started < 10
        assert conn.execute("SELECT 1").fetchone() == (1,)
