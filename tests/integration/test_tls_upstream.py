"""TLS to the upstream (upstreams[].tls, ca_file, server_name) and SCRAM's
password preparation.

A PostgreSQL whose pg_hba.conf takes TCP only as `hostssl` (what a managed
database does), with a certificate from a test CA naming 127.0.0.1 and
localhost, reached through pgwarden with each sslmode; the plain session
cluster stands for a server without TLS. Clients talk to pgwarden in
plaintext here: the client leg has tests of its own (test_tls_client.py).
"""

import re
import secrets
import threading
import time

import psycopg
import pytest

from harness import PgCluster, Pgwarden, psql
from harness.cluster import HBA_HOSTSSL_ONLY
from harness.rawpg import try_startup
from harness.tls_certs import TestCA

MASK_POLICY = {
    "default": "deny",
    "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
    "policies": [{"identity": "agent", "allow": ["select", "set", "transaction"],
                  "mask": [{"column": "public.customers.ssn", "with": "partial(last=4)"}]}],
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls-upstream")
    ca = TestCA(base / "ca")
    server = ca.issue("postgres-server", sans=["127.0.0.1", "localhost"])
    other_name = ca.issue("other-host", sans=["db.other.test"])
    wrong = TestCA(base / "wrong", "a CA nobody trusts")
    return {"ca": ca, "server": server, "other_name": other_name, "wrong": wrong}


@pytest.fixture(scope="module")
def tls_cluster(certs):
    with PgCluster(tls=(certs["server"].cert, certs["server"].key), hba=HBA_HOSTSSL_ONLY) as pg:
        yield pg


def tls_pgwarden(make_pgwarden, upstream, start=True, overrides=None, **upstream_keys):
    pw = make_pgwarden(upstream=upstream, start=False, overrides=overrides)
    pw.config["log_level"] = "debug"
    pw.config["upstreams"][0].update(upstream_keys)
    return pw.start() if start else pw


def startup_error(pw):
    kind, fields = try_startup(pw.host, pw.port, user="alice")
    assert kind == "error", fields
    return fields


def test_the_upstream_refuses_plaintext(tls_cluster):
    """The premise: without TLS this server takes no TCP client at all."""
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(host=tls_cluster.host, port=tls_cluster.port, user="app_owner", dbname="app",
                        password=tls_cluster.app_password, sslmode="disable", connect_timeout=5)
    assert "no encryption" in str(info.value)


def test_verify_full_reaches_a_hostssl_only_upstream(make_pgwarden, tls_cluster, certs):
    pw = tls_pgwarden(make_pgwarden, tls_cluster, overrides=MASK_POLICY,
                      tls="verify-full", ca_file=certs["ca"].cert)
    result = psql(pw.psql_args(), "-At", "-c", "SELECT current_user")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "app_owner"
    with pw.connect() as conn:
        # The server's word that this session reached it over TLS.
        ssl, version = conn.execute(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert ssl is True and version.startswith("TLSv1."), (ssl, version)
        # Policy and masking as over plaintext (the catalog connection uses
        # the same TLS settings through libpq).
        ssn = conn.execute("SELECT ssn FROM customers ORDER BY id LIMIT 1").fetchone()[0]
        assert re.fullmatch(r"\*\*\*-\*\*-\d{4}", ssn), ssn
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM customers")
    direct = tls_cluster.execute("SELECT ssn FROM customers ORDER BY id LIMIT 1", dbname="app")[0][0]
    assert direct != ssn and direct.endswith(ssn[-4:])
    pw.stop()
    log = pw.log_text()
    # Channel binding: the server offers SCRAM-SHA-256-PLUS over TLS and
    # pgwarden takes it (the debug line names the mechanism).
    assert re.search(r'upstream "main": TLSv1\.[23] .*SCRAM-SHA-256-PLUS', log), log[-3000:]
    assert tls_cluster.app_password not in log


def test_wrong_ca_fails_naming_the_upstream(make_pgwarden, tls_cluster, certs):
    pw = tls_pgwarden(make_pgwarden, tls_cluster, tls="verify-ca", ca_file=certs["wrong"].cert)
    fields = startup_error(pw)
    assert (fields["S"], fields["C"]) == ("FATAL", "08006"), fields
    assert fields["M"].startswith('pgwarden: upstream "main": TLS handshake: certificate verify failed: '), fields
    assert "unable to get local issuer certificate" in fields["M"], fields
    result = psql(pw.psql_args(), "-c", "SELECT 1")
    assert result.returncode == 2 and 'upstream "main": TLS handshake: certificate verify failed' in result.stderr
    assert 'upstream "main": TLS handshake: certificate verify failed' in pw.log_text()


def test_host_name_is_checked_by_verify_full_only(make_pgwarden, tls_cluster, certs):
    # The certificate names 127.0.0.1 and localhost, not this name.
    strict = tls_pgwarden(make_pgwarden, tls_cluster, tls="verify-full", ca_file=certs["ca"].cert,
                          server_name="db.other.test")
    fields = startup_error(strict)
    assert fields["C"] == "08006", fields
    assert 'upstream "main": TLS handshake: certificate verify failed: hostname mismatch' in fields["M"], fields
    chain_only = tls_pgwarden(make_pgwarden, tls_cluster, tls="verify-ca", ca_file=certs["ca"].cert,
                              server_name="db.other.test")
    with chain_only.connect() as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
    # localhost is in the certificate: the name as written in address is checked.
    by_name = tls_pgwarden(make_pgwarden, tls_cluster, tls="verify-full", ca_file=certs["ca"].cert,
                           address=f"localhost:{tls_cluster.port}")
    with by_name.connect() as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_require_against_a_server_without_tls_fails(make_pgwarden, cluster):
    pw = tls_pgwarden(make_pgwarden, cluster, tls="require")
    fields = startup_error(pw)
    assert (fields["S"], fields["C"]) == ("FATAL", "08006"), fields
    assert fields["M"] == ('pgwarden: upstream "main" does not accept TLS (the server answered N to '
                           'SSLRequest), and its tls is require'), fields


def test_prefer_against_a_server_without_tls_goes_on_in_plaintext(make_pgwarden, cluster, tls_cluster):
    pw = tls_pgwarden(make_pgwarden, cluster, tls="prefer")
    with pw.connect() as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is False
    # And with a server that has it, prefer takes TLS (no CA: not verified, as libpq).
    tls = tls_pgwarden(make_pgwarden, tls_cluster, tls="prefer")
    with tls.connect() as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True


def test_sighup_reads_a_new_ca_file(make_pgwarden, tls_cluster, certs):
    pw = tls_pgwarden(make_pgwarden, tls_cluster, tls="verify-full", ca_file=certs["wrong"].cert)
    assert "certificate verify failed" in startup_error(pw)["M"]
    pw.config["upstreams"][0]["ca_file"] = certs["ca"].cert
    pw.reload(pw.config)
    deadline = time.monotonic() + 10
    while "config reloaded" not in pw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pw.connect() as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
    # A broken CA file is refused at reload, and the running one stays.
    broken = pw.dir + "/broken.pem"
    with open(broken, "w") as f:
        f.write("not a certificate\n")
    pw.config["upstreams"][0]["ca_file"] = broken
    pw.reload(pw.config)
    deadline = time.monotonic() + 10
    while "reload refused" not in pw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "holds no PEM certificate" in pw.log_text()
    with pw.connect() as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_cancel_reaches_a_tls_upstream(make_pgwarden, tls_cluster, certs):
    """A hostssl-only server: the cancel request goes over TLS too."""
    pw = tls_pgwarden(make_pgwarden, tls_cluster, tls="verify-full", ca_file=certs["ca"].cert)
    app = "pgw-tls-cancel-" + secrets.token_hex(4)
    with pw.connect(application_name=app, autocommit=True) as conn:
        sent_at = []

        def cancel_when_running():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows = tls_cluster.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                                           "AND state = 'active'", [app])
                if rows[0][0] == 1:
                    break
                time.sleep(0.05)
            sent_at.append(time.monotonic())
            conn.cancel()

        canceller = threading.Thread(target=cancel_when_running)
        canceller.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
        returned_at = time.monotonic()
        canceller.join()
        assert returned_at - sent_at[0] < 2.0
        assert conn.execute("SELECT 'still usable'").fetchone()[0] == "still usable"
    pw.stop()
    assert re.search(r"cancel.*TLS", pw.log_text()), pw.log_text()[-2000:]


# ---- SASLprep -----------------------------------------------------------------

@pytest.mark.parametrize("password, prepared", [
    ("pass\u00adword-7f3a", "password-7f3a"),   # soft hyphen: mapped to nothing
    ("\u2168-c0de", "IX-c0de"),                  # ROMAN NUMERAL NINE: NFKC "IX"
])
def test_non_ascii_password_is_prepared_as_postgresql_does(make_pgwarden, cluster, password, prepared):
    """CREATE ROLE ... PASSWORD stores a verifier of the SASLprep'd password;
    pgwarden must hash the same bytes to log in with the configured one."""
    role = "saslprep_" + secrets.token_hex(4)
    escaped = password.replace("'", "''")
    cluster.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{escaped}'")
    try:
        pw = make_pgwarden(start=False, password=password)
        pw.config["upstreams"][0]["user"] = role
        pw.start()
        with pw.connect(user="anyone") as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == role
        # What the server stored is the verifier of the prepared form: a
        # direct login with it works too.
        with psycopg.connect(host=cluster.host, port=cluster.port, user=role, dbname="app",
                             password=prepared, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        cluster.execute(f"DROP ROLE IF EXISTS {role}")


# ---- a server that answers SSLRequest wrongly -----------------------------------

class FakeServer:
    """Accepts one connection at a time, reads the 8-byte SSLRequest and
    answers `reply`, then holds the connection until closed."""

    def __init__(self, reply):
        import socket
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(8))
                conn.sendall(self.reply)
                conn.settimeout(5)
                try:
                    conn.recv(1)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("reply, words", [
    (b"S\x16\x03\x01", "the server sent unencrypted bytes after accepting SSLRequest"),
    (b"X", "the server's answer to SSLRequest is neither S nor N"),
])
def test_a_bad_answer_to_sslrequest_is_refused(make_pgwarden, reply, words):
    server = FakeServer(reply)
    try:
        pw = make_pgwarden(upstream_address=server.address, password="unused", start=False)
        pw.config["upstreams"][0]["tls"] = "prefer"
        pw.start()
        fields = startup_error(pw)
        assert (fields["S"], fields["C"]) == ("FATAL", "08006"), fields
        assert fields["M"] == f'pgwarden: upstream "main": {words}', fields
        # What pgwarden sent first was an SSLRequest (length 8, code 80877103).
        assert server.requests and server.requests[0] == bytes.fromhex("0000000804d2162f")
    finally:
        server.close()
