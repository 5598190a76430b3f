"""pgbench through pgwarden in every query mode (issue 2, item 3)."""

import os
import re
import subprocess

import pytest

from harness import Pgwarden, client_env

SECONDS = int(os.environ.get("PGWARDEN_TEST_PGBENCH_SECONDS", "10"))
DB = "pgbench"


def pgbench(pw, *args, timeout=None):
    argv = ["pgbench", "-h", pw.host, "-p", str(pw.port), "-U", "bench-user", *args, DB]
    return subprocess.run(argv, env=client_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout or SECONDS + 120)


def parse_summary(out):
    """The figures a pgbench 15 run prints at the end."""
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        assert m, f"pgbench output lacks {pattern!r}:\n{out}"
        return m.group(1)
    return {
        "processed": int(grab(r"^number of transactions actually processed: (\d+)")),
        "failed": int(grab(r"^number of failed transactions: (\d+)")),
        "tps": float(grab(r"^tps = ([\d.]+)")),
        "latency_ms": float(grab(r"^latency average = ([\d.]+) ms")),
    }


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
    summary = parse_summary(run.stdout)
    print(f"pgbench -M {mode} through pgwarden: {summary}")
    assert summary["failed"] == 0
    assert summary["processed"] > 0 and summary["tps"] > 0
    assert "aborted" not in run.stderr.lower(), run.stderr
