"""scripts/bench: pgbench -S through three paths in one run, as ratios.

direct     pgbench -> PostgreSQL (TCP, SCRAM)
pgwarden   pgbench -> pgwarden (explicit TCP listen, no client password) -> PostgreSQL
policy     the same, with a read-only policy deciding every statement
pgbouncer  pgbench -> pgbouncer (session mode, SCRAM) -> PostgreSQL

Then, unless skipped: the transparent (eBPF) path, session recording on vs
off (bench/recording.py), TLS vs plaintext clients through pgwarden
(bench/tls.py), and masking of a big result.

All hit the same throwaway cluster in the same run, in interleaved rounds
(direct, pgwarden, policy, pgbouncer, then again), and each target's median
run counts, so the ratios compare like with like on whatever machine runs it.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, ".."))

from harness import PgCluster, Pgwarden, client_env  # noqa: E402
from harness import pgbench  # noqa: E402
from bench.pgbouncer import PgBouncer  # noqa: E402
from bench import masking  # noqa: E402
from bench import recording  # noqa: E402
from bench import tls  # noqa: E402
from bench import transparent  # noqa: E402
from harness import intercept  # noqa: E402

DB = "bench"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-T", "--seconds", type=int, default=10, help="seconds per pgbench run (10)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds of every target; the median run counts (3). On a small "
                        "machine one run can be 15%% off the next: interleaving spreads that over all "
                        "targets instead of favouring whichever ran in a quiet moment")
    p.add_argument("--modes", default="simple,prepared",
                   help="comma-separated pgbench -M modes (simple,prepared)")
    p.add_argument("-c", "--clients", type=int, default=8)
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("-s", "--scale", type=int, default=10, help="pgbench -i scale (10)")
    p.add_argument("--only-direct-and-pgbouncer", action="store_true",
                   help="skip pgwarden (e.g. before it is built)")
    p.add_argument("--pgwarden-workers", type=int, help="pgwarden's `workers` setting")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--no-transparent", action="store_true",
                   help="skip the transparent (eBPF) runs, fast path on and off")
    p.add_argument("--no-masking", action="store_true",
                   help="skip the masking runs (SELECT * of a big table: direct, no rule, masked)")
    p.add_argument("--mask-rows", type=int, default=1_000_000,
                   help="rows of the masking runs' customers table (1000000)")
    p.add_argument("--mask-transactions", type=int, default=2,
                   help="SELECT * per pgbench run in the masking runs (2)")
    p.add_argument("--only-masking", action="store_true", help="run only the masking section")
    p.add_argument("--no-recording", action="store_true",
                   help="skip the recording runs (pgbench -S with recording on and off, also beside a 200 MB result)")
    p.add_argument("--only-recording", action="store_true", help="run only the recording section")
    p.add_argument("--no-tls", action="store_true", help="skip TLS vs plaintext clients through pgwarden")
    p.add_argument("--only-tls", action="store_true", help="run only the TLS section")
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"),
                   help="where pgwarden and mask_bench were built (build); PGWARDEN_BIN, when set, "
                        "still names the pgwarden binary")
    args = p.parse_args(argv)
    args.build_dir = os.path.abspath(args.build_dir)
    # The harness runs $PGWARDEN_BIN (default build/pgwarden): point it at the
    # same build as mask_bench, so one run measures one build.
    os.environ.setdefault("PGWARDEN_BIN", os.path.join(args.build_dir, "pgwarden"))
    return args


def bench_one(label, host, port, user, env, mode, args):
    result = pgbench.run(host, port, user, DB,
                         ["-S", "-n", "-M", mode, "-c", str(args.clients), "-j", str(args.jobs),
                          "-T", str(args.seconds)], env=env, timeout=args.seconds + 120)
    if result.returncode != 0:
        raise SystemExit(f"bench: pgbench via {label} -M {mode} failed:\n"
                         f"{result.stdout}{result.stderr}")
    summary = pgbench.parse_summary(result.stdout)
    if summary["failed"]:
        raise SystemExit(f"bench: {summary['failed']} failed transactions via {label}")
    print(f"  {mode:<9} {label:<10} {summary['tps']:>10.0f} tps  "
          f"{summary['latency_ms']:>7.3f} ms", flush=True)
    return summary


def ratio(a, b, width):
    return f"{a / b:>{width}.2f}" if a and b else f"{'-':>{width}}"


def main(argv=None):
    args = parse_args(argv)
    if args.only_masking:
        with PgCluster(sample_data=False) as pg:
            result = masking.run(pg, args)
        masking.print_summary(result)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "masking": result}, f, indent=2)
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    # A section on its own: a pgbench database, then that section's run.
    for only, section, name in ((args.only_tls, tls, "tls"), (args.only_recording, recording, "recording")):
        if not only:
            continue
        with PgCluster(sample_data=False) as pg:
            pg.create_database(DB)
            init = pgbench.run(pg.host, pg.port, pg.app_user, DB, ["-i", "-q", "-s", str(args.scale)],
                               env=pg.app_env())
            if init.returncode != 0:
                raise SystemExit(f"bench: pgbench -i failed:\n{init.stderr}")
            pg.execute("VACUUM ANALYZE", dbname=DB)
            result = section.run(pg, DB, modes, args)
        section.print_summary(result)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), name: result}, f, indent=2)
        return 0
    targets = ["direct", "pgbouncer"] + ([] if args.only_direct_and_pgbouncer else ["pgwarden"])
    results = {m: {} for m in modes}
    info = {}

    bpf_reason = None if args.no_transparent else intercept.bpf_unavailable_reason()
    want_transparent = not args.no_transparent and not args.only_direct_and_pgbouncer
    if want_transparent and bpf_reason:
        print(f"transparent runs skipped: {bpf_reason}")
        want_transparent = False
    # The transparent runs need the database on a "remote" loopback address
    # that a workload would dial; the other paths do not care.
    db_host = "127.0.0.3" if want_transparent else "127.0.0.1"
    db_port = intercept.db_port(db_host) if want_transparent else None
    with PgCluster(host=db_host, port=db_port, sample_data=False) as pg:
        pg.create_database(DB)
        init = pgbench.run(pg.host, pg.port, pg.app_user, DB,
                           ["-i", "-q", "-s", str(args.scale)], env=pg.app_env())
        if init.returncode != 0:
            raise SystemExit(f"bench: pgbench -i failed:\n{init.stderr}")
        pg.execute("VACUUM ANALYZE", dbname=DB)

        bouncer = PgBouncer(pg, [DB], pool_size=max(args.clients * 2, 16)).start()
        warden = None
        guarded = None
        try:
            if "pgwarden" in targets:
                warden = Pgwarden(upstream=pg)
                if args.pgwarden_workers is not None:
                    warden.config["workers"] = args.pgwarden_workers
                warden.start()
                # The same engine holding pgbench to a read-only policy.
                guarded = Pgwarden(upstream=pg, overrides={
                    "default": "deny",
                    "identities": [{"name": "bench", "match": {"source": ["127.0.0.0/8"]}}],
                    "policies": [{"identity": "bench", "allow": ["select", "set", "transaction", "prepare",
                                                                  "execute", "deallocate"],
                                  "tables": {"deny": ["hr.*"]}}]})
                if args.pgwarden_workers is not None:
                    guarded.config["workers"] = args.pgwarden_workers
                guarded.start()
            paths = {
                "direct": (pg.host, pg.port, pg.app_user, pg.app_env()),
                "pgbouncer": (bouncer.host, bouncer.port, pg.app_user, pg.app_env()),
            }
            if warden:
                paths["pgwarden"] = (warden.host, warden.port, "bench", client_env())
                paths["policy"] = (guarded.host, guarded.port, "bench", client_env())
            print(f"pgbench -S -c {args.clients} -j {args.jobs} -T {args.seconds} x {args.rounds} rounds, "
                  f"scale {args.scale}, {os.cpu_count()} CPUs", flush=True)
            for mode in modes:
                runs = {}
                for _ in range(args.rounds):
                    for target in ["direct", "pgwarden", "policy", "pgbouncer"]:
                        if target in paths:
                            runs.setdefault(target, []).append(bench_one(target, *paths[target], mode, args))
                for target, summaries in runs.items():
                    ordered = sorted(summaries, key=lambda r: r["tps"])
                    results[mode][target] = dict(ordered[len(ordered) // 2], runs=[r["tps"] for r in summaries])
            if warden:
                info["pgwarden_peak_rss_kb"] = warden.peak_rss_kb()
                warden.stop()
                guarded.stop()
            if want_transparent:
                info["transparent"] = transparent.run(pg, DB, modes, args)
            if not args.no_recording and not args.only_direct_and_pgbouncer:
                info["recording"] = recording.run(pg, DB, modes, args)
            if not args.no_tls and not args.only_direct_and_pgbouncer:
                info["tls"] = tls.run(pg, DB, modes, args)
            if not args.no_masking and not args.only_direct_and_pgbouncer:
                info["masking"] = masking.run(pg, args)
        finally:
            if warden:
                warden.close()
            if guarded:
                guarded.close()
            bouncer.stop()

    print()
    header = (f"{'mode':<9} {'target':<10} {'tps':>10} {'avg ms':>8}   "
              f"{'pgwarden/direct':>15} {'pgwarden/pgbouncer':>18} {'pgbouncer/direct':>16} "
              f"{'policy/direct':>13} {'policy/pgbouncer':>16}")
    print(header)
    print("-" * len(header))
    for mode in modes:
        r = results[mode]
        for target in ["direct", "pgwarden", "policy", "pgbouncer"]:
            if target in r:
                print(f"{mode:<9} {target:<10} {r[target]['tps']:>10.0f} "
                      f"{r[target]['latency_ms']:>8.3f}")
        tps = {t: r[t]["tps"] for t in r}
        print(f"{mode:<9} {'ratios':<10} {'':>10} {'':>8}   "
              f"{ratio(tps.get('pgwarden'), tps.get('direct'), 15)} "
              f"{ratio(tps.get('pgwarden'), tps.get('pgbouncer'), 18)} "
              f"{ratio(tps.get('pgbouncer'), tps.get('direct'), 16)} "
              f"{ratio(tps.get('policy'), tps.get('direct'), 13)} "
              f"{ratio(tps.get('policy'), tps.get('pgbouncer'), 16)}")
    if "transparent" in info:
        transparent.print_summary(info["transparent"], modes)
    if "recording" in info:
        recording.print_summary(info["recording"])
    if "tls" in info:
        tls.print_summary(info["tls"])
    if "masking" in info:
        masking.print_summary(info["masking"])
    if "pgwarden_peak_rss_kb" in info:
        print(f"\npgwarden peak RSS: {info['pgwarden_peak_rss_kb'] / 1024:.1f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, **info}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
