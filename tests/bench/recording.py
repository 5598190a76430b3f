"""Session recording in scripts/bench (issue 12's benchmark): the same engine
and policy with recording on and off, in the same run.

(a) pgbench -S through each, in interleaved rounds (median counts): tps,
    the ratio on/off (the target is >= 0.9), and pgwarden's CPU per
    transaction (utime + stime from /proc over the run, so a spare core does
    not hide the cost).
(b) pgbench -S through each while another session fetches a ~200 MB result
    through the same pgwarden (the COPY of transparent.py, again and again
    until pgbench ends): that pgbench's tps with recording on vs off (the
    target: the big recorded result slows it by at most 10%).
"""

import os
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


def _measured(pw, db, mode, args, label):
    before = cpu_seconds(pw.pid)
    s = _pgbench(pw, db, mode, args)
    s["cpu_us_per_tx"] = (cpu_seconds(pw.pid) - before) / max(s["processed"], 1) * 1e6
    print(f"  {mode:<9} recording {label:<4} {s['tps']:>10.0f} tps  {s['latency_ms']:>7.3f} ms  "
          f"pgwarden CPU {s['cpu_us_per_tx']:6.1f} us/tx", flush=True)
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


def print_summary(r):
    print("\nrecording (same engine and policy, recording on vs off)")
    for mode, t in r["plain"].items():
        on, off = t["on"], t["off"]
        print(f"  {mode:<9} on {on['tps']:>8.0f} tps, off {off['tps']:>8.0f} tps, on/off {on['tps'] / off['tps']:.2f}"
              f" (target >= 0.90); pgwarden CPU {on['cpu_us_per_tx']:.1f} vs {off['cpu_us_per_tx']:.1f} us/tx")
    for mode, t in r["large"].items():
        on, off = t["on"], t["off"]
        print(f"  {mode:<9} with a 200 MB result alongside: pgbench on {on['tps']:>8.0f} tps, off "
              f"{off['tps']:>8.0f} tps, on/off {on['tps'] / off['tps']:.2f} (target >= 0.90)")
    print(f"  recordings written: {r['recorded_bytes'] / 1e6:.1f} MB")
