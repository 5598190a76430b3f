"""The harness itself: the throwaway cluster is what the other tests assume
(SCRAM on TCP, sample data with realistic PII) and it never outlives a run."""

import os
import re
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from harness import PgCluster, psql
from harness.rawpg import try_startup
from harness.sample_data import luhn_ok

HERE = os.path.dirname(os.path.abspath(__file__))


def test_tcp_requires_scram(cluster):
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(host=cluster.host, port=cluster.port, user="app_owner", dbname="app",
                        password="not-the-password", connect_timeout=5)
    assert 'password authentication failed for user "app_owner"' in str(info.value)
    assert try_startup(cluster.host, cluster.port, user="app_owner") == ("auth", 10)  # SASL
    with cluster.connect_app() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "app_owner"
    secret = cluster.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_owner'")[0][0]
    assert secret.startswith("SCRAM-SHA-256$")
    assert oct(os.stat(cluster.password_file).st_mode & 0o777) == "0o600"


def test_sample_schema_owned_by_app_owner(cluster):
    rows = cluster.execute(
        "SELECT schemaname || '.' || tablename, tableowner FROM pg_tables "
        "WHERE schemaname IN ('public', 'hr') ORDER BY 1", dbname="app")
    assert rows == [("hr.salaries", "app_owner"), ("public.customers", "app_owner"),
                    ("public.orders", "app_owner")]
    counts = cluster.execute(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), "
        "(SELECT count(*) FROM hr.salaries)", dbname="app")[0]
    assert counts[0] >= 2000 and counts[1] >= 5000 and counts[2] >= 20


def test_sample_pii_is_realistic(cluster):
    rows = cluster.execute("SELECT ssn, card_number, email, phone, notes, profile::text FROM customers",
                           dbname="app")
    for ssn, card, email, phone, _notes, _profile in rows:
        assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", ssn) and not ssn.startswith(("000", "666", "9"))
        assert luhn_ok(card) and len(re.sub(r"\D", "", card)) in (15, 16)
        assert re.fullmatch(r"[^@\s]+@[\w.-]+\.\w+", email)
        assert len(re.sub(r"\D", "", phone)) >= 10
    notes_with_ssn = sum(1 for r in rows if r[4] and re.search(r"\d{3}-\d{2}-\d{4}", r[4]))
    profiles_with_card = sum(1 for r in rows if '"card": "' in r[5])
    assert notes_with_ssn > 100 and profiles_with_card > 100


def test_psql_direct_works(cluster):
    result = psql(cluster.psql_args_app(), "-At", "-c", "SELECT current_user", env=cluster.app_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "app_owner"
    assert result.stderr == ""


def test_cluster_removed_when_runner_gets_sigterm():
    """A run killed by SIGTERM (CI timeout) still stops and removes its cluster."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; sys.path.insert(0, sys.argv[1]);"
         "from harness import PgCluster;"
         "pg = PgCluster(sample_data=False).start();"
         "print(pg.dir, flush=True); time.sleep(60)", HERE],
        stdout=subprocess.PIPE, text=True)
    try:
        cluster_dir = child.stdout.readline().strip()
        assert cluster_dir and os.path.isdir(cluster_dir)
        with open(os.path.join(cluster_dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
    assert not os.path.exists(cluster_dir)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{postmaster}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{postmaster}")


def test_cluster_restarts_on_same_port():
    with PgCluster(sample_data=False) as pg:
        pg.stop()
        with pytest.raises(psycopg.OperationalError):
            pg.connect_app(connect_timeout=2)
        pg.start()
        with pg.connect_app() as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1


# A stand-in for a sanitized pgwarden that found something: it serves the
# listen address and unix socket of its config (so the harness sees it
# ready), writes what AddressSanitizer writes to stderr, and waits.
FAKE_SANITIZED_DAEMON = r'''#!/usr/bin/python3
import re, socket, sys, time
config = open(sys.argv[sys.argv.index("--config") + 1]).read()
host, port = re.search(r"^listen: *\"?([0-9.]+):([0-9]+)", config, re.M).groups()
unix = re.search(r"^unix_socket: *\"?([^\"\n]+)", config, re.M).group(1)
tcp = socket.socket(); tcp.bind((host, int(port))); tcp.listen()
local = socket.socket(socket.AF_UNIX); local.bind(unix); local.listen()
sys.stderr.write("=================================================================\n"
                 "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n"
                 "READ of size 1 at 0x602000000010 thread T1\n"
                 "SUMMARY: AddressSanitizer: heap-use-after-free data_row.cpp:42 in decode\n")
sys.stderr.flush()
time.sleep(3600)
'''


def test_a_sanitizer_report_in_the_daemons_log_fails_the_test(tmp_path):
    """scripts/test --sanitize relies on this: a daemon whose log holds a
    sanitizer report fails the test that ran it, when the test closes it."""
    from harness import Pgwarden, PgwardenError
    fake = tmp_path / "pgwarden"
    fake.write_text(FAKE_SANITIZED_DAEMON)
    fake.chmod(0o755)
    pw = Pgwarden(upstream_address="127.0.0.1:1", password="unused", binary=str(fake)).start()
    deadline = time.monotonic() + 10
    while "SUMMARY: AddressSanitizer" not in pw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(PgwardenError) as info:
        pw.close()
    assert "sanitizer report" in str(info.value)
    assert "heap-use-after-free" in str(info.value)
    assert pw.dir is None  # cleaned up all the same
