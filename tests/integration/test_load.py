"""Load through the transparent path: 500 concurrent pgbench clients in an
intercepted cgroup (redirected by eBPF, no password), with a policy that
checks every statement and masks a column and detector matches in every
result. Zero failed transactions. Then the engine's memory per idle
connection: RSS with 500 idle sessions open, minus the baseline, over 500.

PGWARDEN_LOAD_SECONDS sets pgbench's -T (default 15, so the test stays
well under 90 s on 2 cores; 60 for the full run issue 14 asks for):

    PGWARDEN_LOAD_SECONDS=60 python3 -m pytest tests/integration/test_load.py -s
"""

import asyncio
import os
import subprocess
import time

from harness import client_env
from harness import intercept as ic
from harness import pgbench as harness_pgbench
from harness.faults import raise_own_fd_limit, restore_fd_limit, serve_one
from harness.pgwarden import require_plain_binary

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
SECONDS = int(os.environ.get("PGWARDEN_LOAD_SECONDS", "15"))
CLIENTS = 500
# A goal, not a limit the kernel gives: what an idle session may cost the
# engine beyond receive buffers in flight (an idle one has none).
IDLE_SESSION_BUDGET_KB = 64

bpf_privileges, db, client_script, rig = ic.module_fixtures(
    DB_HOST, DB_PORT, settings={"max_connections": 600})

# pgbench's select-only transaction, and one that reads the masked column.
MASKED_READ = "\\set aid random(1, 100000)\nSELECT aid, filler FROM pgbench_accounts WHERE aid = :aid;\n"


def policy_overrides(rig_):
    identities = [{"name": "bench", "match": {"cgroup": rig_.clients.path + "/**"}},
                  {"name": "local", "match": {"source": ["127.0.0.0/8"]}}]
    masks = [{"column": "public.pgbench_accounts.filler", "with": "redact"},
             {"detect": ["email", "us_ssn", "credit_card"], "with": "redact"}]
    policies = [{"identity": name, "allow": ["select", "set", "transaction"], "mask": masks}
                for name in ("bench", "local")]
    return {"identities": identities, "policies": policies}


def initialise(pg):
    init = subprocess.run(["pgbench", "-h", pg.host, "-p", str(pg.port), "-U", pg.app_user, "-i", "-s", "1",
                           "-q", "app"], env=pg.app_env(), capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr


def test_500_clients_pgbench_through_the_transparent_path(rig, db, tmp_path):
    initialise(db)
    pw = rig.pgwarden(**policy_overrides(rig))
    masked = rig.psql("-At", "-c", "SELECT filler FROM pgbench_accounts WHERE aid = 1")
    assert masked.returncode == 0, masked.stderr
    assert set(masked.stdout.strip()) == {"*"}, masked.stdout  # the policy and masking are on
    script = tmp_path / "masked_read.sql"
    script.write_text(MASKED_READ)
    os.chmod(tmp_path, 0o755)
    rss_before = pw.rss_kb()
    argv = ["pgbench", "-h", DB_HOST, "-p", str(DB_PORT), "-U", "bench", "-n", "-M", "prepared",
            "-b", "select-only@3", "-f", f"{script}@1",
            "-c", str(CLIENTS), "-j", "4", "-T", str(SECONDS), "app"]
    started = time.monotonic()
    run = subprocess.run(rig.clients.argv(argv), env=client_env(), capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=SECONDS + 180)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    summary = harness_pgbench.parse_summary(run.stdout)
    print(f"pgbench -c {CLIENTS} -T {SECONDS} through the transparent path, policy and masking on: "
          f"{summary} in {time.monotonic() - started:.0f}s; engine RSS {rss_before} -> peak "
          f"{pw.peak_rss_kb()} kB")
    assert summary["failed"] == 0
    assert summary["processed"] > CLIENTS
    assert "aborted" not in run.stderr.lower(), run.stderr[-3000:]
    assert f"number of clients: {CLIENTS}" in run.stdout
    status = rig.status(pw)
    assert status["intercept"]["enabled"]
    assert status["sessions"]["total"] >= CLIENTS + 1
    serve_one(pw)


async def _hold_idle_sessions(host, port, count):
    from harness import rawpg
    from harness.faults import _read_message

    async def one():
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(rawpg.startup_message("alice", "app"))
        while (await _read_message(reader))[0] != b"Z":
            pass
        writer.write(rawpg.query("SELECT 1"))
        while (await _read_message(reader))[0] != b"Z":
            pass
        return reader, writer

    conns = []
    for start in range(0, count, 50):  # in steps, as pools open their connections
        conns += await asyncio.gather(*(one() for _ in range(min(50, count - start))))
    return conns


def test_memory_per_idle_connection(rig, db):
    """Reported figure: (RSS with N idle sessions - RSS before) / N, on an
    uninstrumented engine (under scripts/test --sanitize, the Release one)."""
    pw = rig.pgwarden(binary=require_plain_binary("memory per idle connection"), **policy_overrides(rig))
    serve_one(pw)
    time.sleep(0.5)
    base = pw.rss_kb()
    n = 500
    old = raise_own_fd_limit(4 * n)
    try:
        async def measure():
            conns = await _hold_idle_sessions(pw.host, pw.port, n)
            await asyncio.sleep(1.5)  # a tick: nothing in flight
            held = pw.rss_kb()
            for _, w in conns:
                w.close()
            return held

        held = asyncio.run(measure())
    finally:
        restore_fd_limit(old)
    per = (held - base) / n
    print(f"engine memory per idle connection: ({held} - {base}) kB / {n} = {per:.1f} KiB "
          f"(goal <= {IDLE_SESSION_BUDGET_KB} KiB)")
    assert per <= IDLE_SESSION_BUDGET_KB, f"{per:.1f} KiB per idle connection"
