"""The capabilities interception needs, by experiment: the engine serves with
exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (as the DaemonSet, the systemd
unit and the container grant them), and with any one of them missing it
refuses to start with one line naming that capability and what it is for,
instead of a libbpf error. The kernel agrees: the same engine without the
check fails to load its programs (checked by hand and quoted in
userspace/kernel/capabilities.cpp).

Runs as root with BPF (skips with the reason otherwise, fails under
PGWARDEN_REQUIRE_BPF=1).
"""

import subprocess

import pytest

from harness import deploy
from harness import intercept as ic
from harness.pgwarden import PgwardenError
from harness.system import RunAs

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)

PURPOSE_WORDS = {"BPF": "BPF_PROG_LOAD", "NET_ADMIN": "SOCKHASH", "PERFMON": "bpf_get_current_comm"}


bpf_privileges, db, client_script, rig = ic.module_fixtures(DB_HOST, DB_PORT)


def engine_with(rig, capabilities, **config):
    from harness.pgwarden import Pgwarden
    pw = rig.adopt(Pgwarden(rig.db, overrides=rig.config_overrides(**config)), start=False)
    deploy.wrap_engine(rig, pw, deploy.setpriv_argv(capabilities))
    return pw


def effective_capabilities(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":\t", 1) for line in f if ":\t" in line)
    return int(fields["CapEff"], 16)


def test_the_three_capabilities_are_enough_for_interception_and_identity(rig, db):
    other = RunAs().uid
    identities = [{"name": "agent", "match": {"cgroup": rig.clients.path + "/**", "uid": [0, other]}}]
    pw = engine_with(rig, deploy.ENGINE_CAPABILITIES, identities=identities)
    rig.start(pw)
    # CAP_BPF 39, CAP_PERFMON 38, CAP_NET_ADMIN 12 and nothing else.
    assert effective_capabilities(pw.proc.pid) == (1 << 39) | (1 << 38) | (1 << 12)

    for uid in (None, other):  # another user's /proc/PID needs no DAC or ptrace capability
        served = rig.psql("-At", "-c", "SELECT current_user", uid=uid)
        assert served.returncode == 0, served.stderr
        assert served.stdout.strip() == db.app_user
    lines = [line for line in pw.log_text().splitlines() if "opened: identity=agent" in line]
    assert len(lines) == 2, pw.log_tail()
    assert f"uid {other}," in lines[1] and 'comm "psql"' in lines[1], lines[1]
    assert rig.status(pw)["intercept"]["counters"]["connect_redirected"] == 2


@pytest.mark.parametrize("missing", deploy.ENGINE_CAPABILITIES)
def test_one_capability_fewer_fails_at_start_naming_it(rig, missing):
    pw = engine_with(rig, [c for c in deploy.ENGINE_CAPABILITIES if c != missing])
    with pytest.raises(PgwardenError, match="exited with 1 before serving"):
        rig.start(pw)
    lines = pw.log_text().strip().splitlines()
    # One line, on stderr, before anything else is logged or loaded.
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"pgwarden: intercept needs CAP_{missing} ("), lines[0]
    assert PURPOSE_WORDS[missing] in lines[0] and "libbpf" not in lines[0], lines[0]
    assert not ic.cgroup_tree_under(rig.root.mount, rig.root.fs_path)


def test_cap_sys_admin_stands_in_for_bpf_and_perfmon_as_the_kernel_allows(rig, db):
    pw = engine_with(rig, ["SYS_ADMIN", "NET_ADMIN"])
    rig.start(pw)
    served = rig.psql("-At", "-c", "SELECT current_user")
    assert served.returncode == 0, served.stderr


def test_without_interception_no_capability_is_needed(rig, db):
    from harness.pgwarden import Pgwarden
    pw = Pgwarden(db)  # explicit mode: no intercept section
    pw.binary = None
    rig.daemons.append(pw)
    deploy.wrap_engine(rig, pw, deploy.setpriv_argv([]))
    pw.start()
    result = subprocess.run(["psql", "-X", "-At", "-h", pw.host, "-p", str(pw.port), "-d", "app",
                             "-U", "alice", "-c", "SELECT 1"], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
