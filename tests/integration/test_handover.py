"""Zero-gap handover (a rolling update): while clients in the intercepted
cgroup connect in a loop, a second engine started with the same config takes
over the pinned programs and maps, shares the listen address (SO_REUSEPORT)
until the first one lets go, and the first one drains and exits on its own,
leaving the pins to the second. Not one connect may fail.

Real eBPF on cgroups this test created, a real PostgreSQL that requires
SCRAM, clients that hold no password. Runs as root; skips with the reason
where BPF privileges are missing (fails under PGWARDEN_REQUIRE_BPF=1).
"""

import copy
import os
import subprocess
import threading
import time


from harness import intercept as ic
from harness.pgwarden import Pgwarden

DB_HOST = "127.0.0.3"
DB_PORT = ic.db_port(DB_HOST)
ATTEMPTS = 2000


bpf_privileges, db, client_script, rig = ic.module_fixtures(DB_HOST, DB_PORT)


def successor_of(rig, db, first):
    """A second engine with exactly the first one's config file contents
    (same listen address, sockets, pins), in its own run directory."""
    second = Pgwarden(db)
    second.config = copy.deepcopy(first.config)
    second.host, second.port = first.host, first.port
    second.binary = rig.engine_wrapper
    rig.daemons.append(second)
    return second


def sessions_opened(pw):
    return sum(1 for line in pw.log_text().splitlines() if " opened: " in line)


def test_second_engine_takes_over_while_clients_connect_in_a_loop(rig, db):
    first = rig.pgwarden()
    assert rig.probe()["kind"] == "ready"  # warm
    pins_before = sorted(os.listdir(rig.pin_dir))

    report = {}
    loop = threading.Thread(target=lambda: report.update(
        rig.many(ATTEMPTS, threads=4, seconds=120, full_every=1)))
    loop.start()
    time.sleep(0.5)  # clients are connecting through the first engine

    second = successor_of(rig, db, first)
    started = time.monotonic()
    second.start()
    # The first sees the takeover, hands over and exits on its own, with 0.
    deadline = time.monotonic() + 30
    while first.alive():
        assert time.monotonic() < deadline, "the first engine did not exit after the takeover\n" + \
            first.log_tail()
        time.sleep(0.05)
    first.exit_expected = True
    assert first._finish() == 0, first.log_tail()
    handed_over = time.monotonic() - started
    loop.join(timeout=150)

    print(f"{report.get('ok')} ok / {report.get('failed')} failed in {report.get('seconds')}s; "
          f"first engine gone {handed_over:.2f}s after the second started")
    assert report["failed"] == 0, report
    assert report["ok"] == ATTEMPTS, report
    assert "handing over" in first.log_text() and "handed over, pins left" in first.log_text()
    # Both engines served part of the loop.
    assert sessions_opened(first) > 1, first.log_tail()
    assert sessions_opened(second) > 0, second.log_tail()

    # The pins are the second engine's now, still attached and alive.
    assert sorted(os.listdir(rig.pin_dir)) == pins_before
    st = rig.status(second)["intercept"]
    assert st["took_over"] is True and st["engine_alive"] is True, st
    assert rig.probe()["kind"] == "ready"
    assert os.path.exists(second.config["admin_socket"]), "the first engine removed the successor's socket"
    assert os.path.exists(second.config["unix_socket"]), "the first engine removed the successor's socket"


def test_a_second_engine_without_interception_still_refuses_the_address(rig, db):
    """Sharing the address is for intercepting engines only: two explicit-mode
    engines on one address stay an error."""
    with Pgwarden(db) as first:
        second = Pgwarden(db)
        second.config = copy.deepcopy(first.config)
        second.config["admin_socket"] = os.path.join(second.dir, "admin.sock")
        second.config["unix_socket"] = os.path.join(second.dir, ".s.PGSQL.1")
        second.write_config()
        result = subprocess.run([second.binary, "run", "--config", second.config_path],
                                capture_output=True, text=True, timeout=30)
        second.close()
        assert result.returncode != 0
        assert "Address already in use" in result.stderr, result.stderr


def test_stay_after_handover_keeps_the_old_engine_idle_until_sigterm_and_leaves_the_pins(rig, db):
    """Under a supervisor that restarts exited processes (a DaemonSet pod),
    the old engine must neither exit after the handover nor detach at its
    SIGTERM: the pins are the successor's."""
    first = rig.pgwarden(start=False)
    first.run_args = ["--stay-after-handover"]
    rig.start(first)
    assert rig.probe()["kind"] == "ready"
    pins_before = sorted(os.listdir(rig.pin_dir))

    second = successor_of(rig, db, first)
    second.start()
    deadline = time.monotonic() + 30
    while "idle until SIGTERM" not in first.log_text():
        assert time.monotonic() < deadline, first.log_tail()
        time.sleep(0.05)
    time.sleep(0.5)
    assert first.alive(), "the old engine exited after the handover\n" + first.log_tail()
    assert rig.probe()["kind"] == "ready"

    first.stop()  # SIGTERM; raises unless it exits with 0 in time
    assert "programs detached" not in first.log_text(), first.log_tail()
    assert sorted(os.listdir(rig.pin_dir)) == pins_before
    st = rig.status(second)["intercept"]
    assert st["engine_alive"] is True, st
    assert rig.probe()["kind"] == "ready"
