"""pgbench through pgwarden in every query mode."""

import os

import pytest

from harness import Pgwarden
from harness import pgbench as harness_pgbench

SECONDS = int(os.environ.get("PGWARDEN_TEST_PGBENCH_SECONDS", "10"))
DB = "pgbench"


def pgbench(pw, *args, timeout=None):
    return harness_pgbench.run(pw.host, pw.port, "bench-user", DB, args,
                               timeout=timeout or SECONDS + 120)


@pytest.fixture(scope="module")
def pgbench_db(cluster):
    """`pgbench -i` run through pgwarden itself (COPY, VACUUM, DDL)."""
    cluster.create_database(DB)
    pw = Pgwarden(upstream=cluster)
    try:
        pw.start()
        init = pgbench(pw, "-i", "-s", "1", "-q")
        assert init.returncode == 0, init.stdout + init.stderr + pw.log_tail()
        assert "done in" in init.stderr, init.stderr
        pw.stop()
    finally:
        pw.close()
    counts = cluster.execute("SELECT (SELECT count(*) FROM pgbench_accounts), "
                             "(SELECT count(*) FROM pgbench_branches)", dbname=DB)[0]
    assert counts == (100000, 1)
    yield DB
    cluster.drop_database(DB)


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_no_failed_transactions(pgbench_db, pgwarden, mode):
    run = pgbench(pgwarden, "-M", mode, "-c", "8", "-j", "2", "-T", str(SECONDS))
    assert run.returncode == 0, run.stdout + run.stderr
    summary = harness_pgbench.parse_summary(run.stdout)
    print(f"pgbench -M {mode} through pgwarden: {summary}")
    assert summary["failed"] == 0
    assert summary["processed"] > 0 and summary["tps"] > 0
    assert "aborted" not in run.stderr.lower(), run.stderr
