"""TLS on the client leg in scripts/bench: pgbench -S through one pgwarden
(tls.cert_file set, tls.client: allow), with sslmode=require and with
sslmode=disable, in interleaved rounds of the same run (median counts):
tps of each, the ratio TLS/plaintext and pgwarden's CPU per transaction.

pgbench connects once per client (no -C), so this is the cost of
encrypting and decrypting every message, not of handshakes.
"""

import tempfile

from harness import Pgwarden, client_env
from harness import pgbench
from harness.tls_certs import TestCA
from bench.masking import cpu_seconds


def _pgbench(pw, db, mode, sslmode, args):
    env = client_env({"PGSSLMODE": sslmode})
    before = cpu_seconds(pw.pid)
    r = pgbench.run(pw.host, pw.port, "bench", db,
                    ["-S", "-n", "-M", mode, "-c", str(args.clients), "-j", str(args.jobs), "-T", str(args.seconds)],
                    env=env, timeout=args.seconds + 120)
    if r.returncode != 0:
        raise SystemExit(f"bench: pgbench -M {mode} sslmode={sslmode} failed:\n{r.stdout}{r.stderr}")
    s = pgbench.parse_summary(r.stdout)
    if s["failed"]:
        raise SystemExit(f"bench: {s['failed']} failed transactions (sslmode={sslmode})")
    s["cpu_us_per_tx"] = (cpu_seconds(pw.pid) - before) * 1e6 / max(1, s["processed"])
    print(f"  {mode:<9} {'tls' if sslmode == 'require' else 'plaintext':<10} {s['tps']:>10.0f} tps  "
          f"{s['latency_ms']:>7.3f} ms", flush=True)
    return s


def run(pg, db, modes, args):
    certs = tempfile.mkdtemp(prefix="pgwarden-bench-tls-")
    ca = TestCA(certs)
    leaf = ca.issue("pgwarden", sans=["127.0.0.1", "localhost"])
    pw = Pgwarden(upstream=pg, overrides={"tls": {"cert_file": leaf.cert, "key_file": leaf.key}})
    if args.pgwarden_workers is not None:
        pw.config["workers"] = args.pgwarden_workers
    pw.start()
    result = {}
    try:
        print(f"\nTLS: pgbench -S through pgwarden, sslmode=require vs disable, {args.rounds} rounds", flush=True)
        for mode in modes:
            runs = {"require": [], "disable": []}
            for _ in range(args.rounds):
                for sslmode in ("require", "disable"):
                    runs[sslmode].append(_pgbench(pw, db, mode, sslmode, args))
            med = {k: sorted(v, key=lambda s: s["tps"])[len(v) // 2] for k, v in runs.items()}
            result[mode] = {"tls": med["require"], "plain": med["disable"],
                            "runs": {k: [s["tps"] for s in v] for k, v in runs.items()}}
        result["peak_rss_kb"] = pw.peak_rss_kb()
        pw.stop()
    finally:
        pw.close()
    return result


def print_summary(r):
    print("\nTLS on the client leg (same pgwarden, pgbench -S sslmode=require vs disable)")
    for mode, t in r.items():
        if not isinstance(t, dict) or "tls" not in t:
            continue
        tls, plain = t["tls"], t["plain"]
        print(f"  {mode:<9} tls {tls['tps']:>8.0f} tps, plaintext {plain['tps']:>8.0f} tps, "
              f"tls/plaintext {tls['tps'] / plain['tps']:.2f}; pgwarden CPU {tls['cpu_us_per_tx']:.1f} vs "
              f"{plain['cpu_us_per_tx']:.1f} us/tx")
