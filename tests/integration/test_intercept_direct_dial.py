"""A workload inside the intercepted cgroup that dials pgwarden's listen
address directly (instead of the database's) must still be known by its
kernel identity. Judged by its source address alone it could pass for a
loopback identity such as a CI runner's."""

import subprocess

import pytest

from harness import PgCluster, client_env
from harness import intercept

DB_HOST = "127.0.0.3"


@pytest.fixture
def rig():
    reason = intercept.bpf_unavailable_reason()
    if reason is not None:
        intercept.skip_or_fail(reason)
    with PgCluster(host=DB_HOST, port=intercept.db_port(DB_HOST)) as pg:
        r = intercept.InterceptRig(pg, intercept.ClientScript(), DB_HOST, pg.port)
        try:
            yield r
        finally:
            errors = r.close()
            assert not errors, errors


def test_direct_dial_from_the_cgroup_keeps_the_kernel_identity(rig):
    identities = [{"name": "agent", "match": {"cgroup": rig.clients.path + "/**"}},
                  {"name": "ci", "match": {"source": ["127.0.0.0/8"]}}]
    pw = rig.pgwarden(identities=identities,
                      policies=[{"identity": "agent", "allow": ["select"]},
                                {"identity": "ci", "allow": ["select"]}])
    argv = ["psql", "-X", "-h", "127.0.0.1", "-p", str(pw.port), "-d", "app", "-Atc", "SELECT 42"]
    inside = subprocess.run(rig.clients.argv(argv), capture_output=True, text=True, env=client_env(),
                            stdin=subprocess.DEVNULL, timeout=30)
    assert inside.returncode == 0, inside.stderr
    outside = subprocess.run(argv, capture_output=True, text=True, env=client_env(),
                             stdin=subprocess.DEVNULL, timeout=30)
    assert outside.returncode == 0, outside.stderr
    pw.stop()
    log = open(pw.log_path).read()
    opened = [line for line in log.splitlines() if " opened: " in line]
    assert len(opened) == 2, log
    assert "identity=agent" in opened[0] and f'cgroup "{rig.clients.path}"' in opened[0], opened[0]
    assert "identity=ci" in opened[1] and "source 127.0.0.1:" in opened[1], opened[1]
