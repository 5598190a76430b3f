"""Session recording in scripts/bench (issue 12's benchmark): the same engine
and policy with recording on and off, in the same run.

(a) pgbench -S through each, in interleaved rounds (median counts): tps,
    the ratio on/off (the target is >= 0.9), and pgwarden's CPU per
    transaction (utime + stime from /proc over the run, so a spare core does
    not hide the cost) and, where perf works, its instructions per
    transaction (steady even on a busy machine).
(b) pgbench -S through each while another session fetches a ~200 MB result
    through the same pgwarden (the COPY of transparent.py, again and again
    until pgbench ends): that pgbench's tps with recording on vs off (the
    target: the big recorded result slows it by at most 10%).
"""

import os
import shutil
import signal
import subprocess
import threading
import time

from harness import Pgwarden, client_env
from harness import pgbench
from bench.masking import cpu_seconds
from bench.transparent import LARGE_RESULT_SQL

POLICY = {
    "default": "deny",
    "identities": [{"name": "bench", "match": {"source": ["127.0.0.0/8"]}}],
    "policies": [{"identity": "bench", "allow": ["select", "set", "transaction", "prepare", "execute",
                                                  "deallocate", "copy_to"]}],
}


def _warden(pg, args, recording):
    pw = Pgwarden(upstream=pg, overrides=POLICY)
    if args.pgwarden_workers is not None:
        pw.config["workers"] = args.pgwarden_workers
    if recording:
        key = os.path.join(pw.dir, "recording.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True,
                       capture_output=True)
        os.chmod(key, 0o600)
        rec_dir = os.path.join(pw.dir, "recordings")
        os.makedirs(rec_dir)
        pw.config["recording"] = {"dir": rec_dir, "signing_key_file": key}
    return pw.start()


def _pgbench(pw, db, mode, args):
    r = pgbench.run(pw.host, pw.port, "bench", db,
                    ["-S", "-n", "-M", mode, "-c", str(args.clients), "-j", str(args.jobs), "-T", str(args.seconds)],
                    env=client_env(), timeout=args.seconds + 120)
    if r.returncode != 0:
        raise SystemExit(f"bench: pgbench -M {mode} (recording) failed:\n{r.stdout}{r.stderr}")
    s = pgbench.parse_summary(r.stdout)
    if s["failed"]:
        raise SystemExit(f"bench: {s['failed']} failed transactions (recording)")
    return s


class _Instructions:
    """pgwarden's instructions retired (user and kernel) over a run, from
    `perf stat -p`, when perf works here: unlike CPU time, hardly moved by
    what else the machine runs."""

    def __init__(self, pid):
        self.proc = None
        if shutil.which("perf") is None:
            return
        self.proc = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "instructions", "-p", str(pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self):
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        for line in err.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].isdigit():
                return int(fields[0])
        return None


def _recording_thread_cpu(pid):
    """utime + stime of pgwarden's recording thread (named pgw-recording)."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != "pgw-recording":
                    continue
            total += cpu_seconds(f"{pid}/task/{tid}")
        except FileNotFoundError:
            continue
    return total


def _measured(pw, db, mode, args, label):
    before = cpu_seconds(pw.pid)
    before_rec = _recording_thread_cpu(pw.pid)
    counter = _Instructions(pw.pid)
    time.sleep(0.2)  # perf attached
    s = _pgbench(pw, db, mode, args)
    instructions = counter.stop()
    tx = max(s["processed"], 1)
    s["cpu_us_per_tx"] = (cpu_seconds(pw.pid) - before) / tx * 1e6
    # The loop threads' share (the hot path) and the recording thread's.
    s["recording_thread_us_per_tx"] = (_recording_thread_cpu(pw.pid) - before_rec) / tx * 1e6
    s["loop_us_per_tx"] = s["cpu_us_per_tx"] - s["recording_thread_us_per_tx"]
    s["instructions_per_tx"] = instructions / tx if instructions else None
    note = f"  {s['instructions_per_tx'] / 1000:6.1f}k instructions/tx" if instructions else ""
    print(f"  {mode:<9} recording {label:<4} {s['tps']:>10.0f} tps  {s['latency_ms']:>7.3f} ms  "
          f"pgwarden CPU {s['cpu_us_per_tx']:6.1f} us/tx (recording thread {s['recording_thread_us_per_tx']:.1f})"
          f"{note}", flush=True)
    return s


def _with_large_result(pw, pg, db, mode, args, label):
    """pgbench -S while another session pulls LARGE_RESULT_SQL over and over."""
    stop = threading.Event()
    pulled = []

    def pull():
        argv = ["psql", "-X", "-h", pw.host, "-p", str(pw.port), "-U", pg.app_user, "-d", db,
                "-c", LARGE_RESULT_SQL]
        while not stop.is_set():
            started = time.monotonic()
            with open("/dev/null", "w") as sink:
                r = subprocess.run(argv, env=client_env(), stdout=sink, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL, timeout=600)
            if r.returncode != 0:
                raise SystemExit(f"bench: the large result (recording {label}) failed: {r.stderr}")
            pulled.append(time.monotonic() - started)

    t = threading.Thread(target=pull, daemon=True)
    t.start()
    time.sleep(0.5)  # the result is flowing
    try:
        s = _measured(pw, db, mode, args, label)
    finally:
        stop.set()
        t.join(600)
    s["large_results"] = len(pulled)
    s["large_s"] = min(pulled) if pulled else None
    note = f", {len(pulled)} x 200 MB alongside, best {s['large_s']:.2f} s" if pulled else ""
    print(f"            (with a 200 MB result alongside{note})", flush=True)
    return s


def _median(runs):
    ordered = sorted(runs, key=lambda r: r["tps"])
    return dict(ordered[len(ordered) // 2], runs=[r["tps"] for r in runs])


def run(pg, db, modes, args):
    """{"plain": {mode: {"on", "off"}}, "large": {mode: {"on", "off"}}, "recorded_bytes"}."""
    print(f"\nrecording: pgbench -S through pgwarden with recording on and off, {args.rounds} interleaved "
          f"rounds; then the same with a 200 MB result alongside", flush=True)
    wardens = {}
    out = {"plain": {}, "large": {}}
    try:
        wardens["on"] = _warden(pg, args, True)
        wardens["off"] = _warden(pg, args, False)
        for mode in modes:
            runs = {"on": [], "off": []}
            for _ in range(args.rounds):
                for label in ("on", "off"):
                    runs[label].append(_measured(wardens[label], db, mode, args, label))
            out["plain"][mode] = {label: _median(r) for label, r in runs.items()}
        mode = modes[0]
        runs = {"on": [], "off": []}
        for _ in range(args.rounds):
            for label in ("on", "off"):
                runs[label].append(_with_large_result(wardens[label], pg, db, mode, args, label))
        out["large"][mode] = {label: _median(r) for label, r in runs.items()}
        rec_dir = wardens["on"].config["recording"]["dir"]
        out["recorded_bytes"] = sum(os.path.getsize(os.path.join(rec_dir, f)) for f in os.listdir(rec_dir))
        for pw in wardens.values():
            pw.stop()
    finally:
        for pw in wardens.values():
            pw.close()
    return out


def _seconds(s):
    return "(none finished)" if s is None else f"{s:.2f} s"


def print_summary(r):
    print("\nrecording (same engine and policy, recording on vs off)")
    for mode, t in r["plain"].items():
        on, off = t["on"], t["off"]
        print(f"  {mode:<9} on {on['tps']:>8.0f} tps, off {off['tps']:>8.0f} tps, on/off {on['tps'] / off['tps']:.2f}"
              f" (target >= 0.90); pgwarden CPU {on['cpu_us_per_tx']:.1f} vs {off['cpu_us_per_tx']:.1f} us/tx"
              f" (loop threads {on['loop_us_per_tx']:.1f} vs {off['loop_us_per_tx']:.1f}, recording thread "
              f"{on['recording_thread_us_per_tx']:.1f})")
        if on.get("instructions_per_tx") and off.get("instructions_per_tx"):
            print(f"  {'':<9} pgwarden instructions per transaction: on {on['instructions_per_tx'] / 1000:.1f}k, "
                  f"off {off['instructions_per_tx'] / 1000:.1f}k (+{(on['instructions_per_tx'] - off['instructions_per_tx']) / 1000:.1f}k)")
    for mode, t in r["large"].items():
        on, off = t["on"], t["off"]
        print(f"  {mode:<9} with a 200 MB result alongside: pgbench on {on['tps']:>8.0f} tps, off "
              f"{off['tps']:>8.0f} tps, on/off {on['tps'] / off['tps']:.2f} (target >= 0.90)")
        # The same engine with recording on, pgbench beside the recorded
        # 200 MB result vs alone: what recording that result costs others.
        alone = r["plain"].get(mode, {}).get("on")
        if alone:
            print(f"  {mode:<9} recording on, pgbench beside the 200 MB result vs alone: {on['tps']:>8.0f} vs "
                  f"{alone['tps']:>8.0f} tps, {on['tps'] / alone['tps']:.2f} (target >= 0.90); the 200 MB result "
                  f"took {_seconds(on['large_s'])} recorded, {_seconds(off['large_s'])} not (best of each)")
    print(f"  recordings written: {r['recorded_bytes'] / 1e6:.1f} MB")
