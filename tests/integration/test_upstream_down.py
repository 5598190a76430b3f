"""An unreachable upstream: the client learns it at once
with 08006, and pgwarden goes on serving."""

import time

import psycopg
import pytest

from harness import PgCluster, psql
from harness.rawpg import try_startup
from harness.system import free_port


def assert_08006_promptly(pw, attempts=1):
    for _ in range(attempts):
        started = time.monotonic()
        kind, fields = try_startup(pw.host, pw.port, user="alice")
        elapsed = time.monotonic() - started
        assert kind == "error", fields
        assert fields["C"] == "08006", fields
        assert fields["M"].startswith("pgwarden:"), fields
        assert elapsed < 2.0, f"08006 took {elapsed:.2f}s"


def test_nothing_listening_gives_08006_and_no_leak(make_pgwarden):
    pw = make_pgwarden(upstream_address=f"127.0.0.1:{free_port()}")
    assert_08006_promptly(pw)
    baseline = pw.fd_count()
    assert_08006_promptly(pw, attempts=30)
    result = psql(pw.psql_args(), "-c", "SELECT 1")
    assert result.returncode == 2 and "pgwarden:" in result.stderr, result.stderr
    assert pw.alive()
    time.sleep(0.2)
    assert pw.fd_count() <= baseline + 2, "file descriptors leak on failed upstream connects"


def test_upstream_restart_is_survived_without_restarting_pgwarden(make_pgwarden):
    with PgCluster(sample_data=False) as pg:
        pw = make_pgwarden(upstream=pg)
        with pw.connect() as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == "app_owner"

        pg.stop()
        assert_08006_promptly(pw, attempts=3)
        with pytest.raises(psycopg.OperationalError) as info:
            pw.connect()
        assert "pgwarden:" in str(info.value)
        assert pw.alive()

        pg.start()
        with pw.connect() as conn:
            assert conn.execute("SELECT 'served again'").fetchone()[0] == "served again"
        pw.stop()

