"""deploy/systemd/pgwarden.service: `systemd-analyze verify` finds nothing to
say about it, it grants the same capabilities as the DaemonSet, and its
ExecStart serves a client under the unit's restrictions.

This machine (like CI containers) has no systemd as PID 1, so the unit
cannot be started by systemd; instead the test runs the unit's own ExecStart
(the binary and config path swapped for the build's and the test's) the way
systemd would: capability bounding and ambient sets from the unit through
setpriv, NoNewPrivileges, and in a mount namespace ProtectSystem=strict (every
mount read-only but /dev, /proc, /sys and the unit's writable directories),
ProtectHome=yes and PrivateTmp=yes. The test's run directory stands in for
RuntimeDirectory/StateDirectory (the config points there).
"""

import os
import shlex
import shutil
import subprocess
import time

import pytest

from harness import deploy
from harness import intercept as ic

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
UNIT = deploy.parse_unit(deploy.SYSTEMD_UNIT)
SERVICE = UNIT["Service"]


def test_systemd_analyze_verify_says_nothing(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    from harness.pgwarden import binary_path
    # verify checks that ExecStart's binary exists: point it at the build's.
    text = deploy.SYSTEMD_UNIT.read_text().replace("/usr/bin/pgwarden", binary_path())
    unit = tmp_path / "pgwarden.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    # Unknown or misspelt keys are only warnings (exit 0): none is allowed.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), \
        result.stdout + result.stderr


def test_unit_grants_the_daemonsets_capabilities_and_nothing_more():
    wanted = set(deploy.ENGINE_CAPABILITIES)
    assert deploy.capability_names(SERVICE["CapabilityBoundingSet"]) == wanted
    assert deploy.capability_names(SERVICE["AmbientCapabilities"]) == wanted
    assert SERVICE["NoNewPrivileges"] == ["yes"]
    assert SERVICE["ProtectSystem"] == ["strict"] and SERVICE["ProtectHome"] == ["yes"]
    assert SERVICE["PrivateTmp"] == ["yes"]
    assert SERVICE["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert SERVICE["StandardError"] == ["journal"]
    # Stops within the drain: above shutdown_grace's default of 30 s.
    assert int(SERVICE["TimeoutStopSec"][0]) > 30
    # What would break interception must stay off (the unit says why).
    for key in ("ProtectKernelTunables", "ProtectProc", "ProcSubset", "PrivateNetwork",
                "PrivateUsers", "SystemCallFilter"):
        assert key not in SERVICE, key


# ---- the ExecStart, restricted as the unit says --------------------------

bpf_privileges, db, client_script, rig = ic.module_fixtures(DB_HOST, DB_PORT, autouse=False)


# Run as `unshare -m sh -c SANDBOX sh WRITABLE_DIR ARGV...`: the unit's
# filesystem protections in a mount namespace of its own, then exec ARGV.
SANDBOX = r"""
set -e
keep="$1"; shift
mount --make-rprivate /
# PrivateTmp: a /tmp of its own, with the run dir (the runtime/state
# directory stand-in) carried in; ProtectHome=yes: /home, /root, /run/user
# empty and read-only.
mount --bind "$keep" /mnt  # an existing directory: nothing made on the host
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mkdir -p "$keep" && mount --move /mnt "$keep"
for d in /home /root /run/user; do
  [ -d "$d" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$d"
done
# ProtectSystem=strict: everything read-only except the API filesystems,
# the unit's ReadWritePaths (/sys/fs/bpf is under /sys) and the run dir.
awk '{print $2}' /proc/self/mounts | sort -u | while read -r m; do
  m=$(printf '%b' "$m")
  case "$m" in
    /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/tmp|/var/tmp|"$keep") continue ;;
  esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
exec "$@"
"""


def unit_exec_start(config_path):
    from harness.pgwarden import binary_path
    argv = shlex.split(SERVICE["ExecStart"][0])
    assert argv[0] == "/usr/bin/pgwarden" and argv[-1] == "/etc/pgwarden/pgwarden.yaml", argv
    return [binary_path(), *argv[1:-1], config_path]


def test_exec_start_serves_a_client_with_the_units_restrictions(rig, db):
    from harness.pgwarden import Pgwarden
    pw = Pgwarden(db, overrides=rig.config_overrides())
    pw.config["state_dir"] = os.path.join(pw.dir, "state")
    rig.adopt(pw, start=False)
    caps = sorted(deploy.capability_names(SERVICE["CapabilityBoundingSet"]))
    argv = ["unshare", "-m", "sh", "-c", SANDBOX, "sh", pw.dir,
            *deploy.setpriv_argv(caps, no_new_privs=SERVICE["NoNewPrivileges"] == ["yes"]),
            *unit_exec_start(pw.config_path)]
    deploy.wrap_engine(rig, pw, [], argv=argv)
    rig.start(pw)

    with open(f"/proc/{pw.proc.pid}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    assert int(status["CapEff"], 16) == (1 << 39) | (1 << 38) | (1 << 12), status["CapEff"]
    assert int(status["CapBnd"], 16) == int(status["CapEff"], 16)
    assert status["NoNewPrivs"].strip() == "1"
    # The sandbox is real: the engine's root filesystem is read-only, /tmp its own.
    probe = subprocess.run(["nsenter", "-t", str(pw.proc.pid), "-m", "sh", "-c",
                            "touch /usr/pgwtest-probe; echo $?; ls /tmp"],
                           capture_output=True, text=True, timeout=20)
    # touch failed; /tmp holds only the run dir carried in
    assert probe.stdout.split() == ["1", os.path.basename(pw.dir)], probe
    served = rig.psql("-At", "-c", "SELECT current_user")
    assert served.returncode == 0, served.stderr + pw.log_tail()
    assert served.stdout.strip() == db.app_user
    # ExecReload=kill -HUP: the config is reloaded, the engine keeps serving.
    pw.reload()
    deadline = time.monotonic() + 10
    while "config reloaded" not in pw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "config reloaded" in pw.log_text(), pw.log_tail()
    served = rig.psql("-At", "-c", "SELECT 1")
    assert served.returncode == 0, served.stderr
