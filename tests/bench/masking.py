"""The masking section of scripts/bench: what masking costs on a big result.

`SELECT * FROM customers` over 1,000,000 rows of the sample schema's shape
(ssn, card_number, email, phone, free-text notes and a jsonb profile with
PII in some rows), read by pgbench (C, libpq; it drops each result, so the
client adds little time of its own), three ways in interleaved rounds:

  direct     pgbench -> PostgreSQL
  no rule    pgbench -> pgwarden, a policy that allows select and masks nothing
  masked     pgbench -> pgwarden, ssn and card_number partial(last=4), email
             email, and every content detector on every other text column

Targets from the issue: masked at most 1.5x the direct wall time, no rule at
most 1.1x. The detectors' own speed (>= 500 MB/s each) comes from the Google
Benchmark binary mask_bench, run here when it was built.
"""

import os
import re
import subprocess
import tempfile

from harness import Pgwarden, client_env
from harness import pgbench
from harness import sample_data

DB = "bench_mask"

# Realistic shapes generated in the server (fast): valid-looking SSNs, card
# numbers in groups, NANP phones; one row in four has PII in its notes and
# every profile holds the contact details.
FILL = """
INSERT INTO public.customers (name, email, ssn, card_number, phone, notes, profile)
SELECT 'Customer ' || g,
       'user' || g || '@example.com',
       lpad((g % 899 + 1)::text, 3, '0') || '-' || lpad((g % 98 + 1)::text, 2, '0') || '-' ||
           lpad((g % 9998 + 1)::text, 4, '0'),
       '4' || lpad((g::bigint * 7919 % 1000)::text, 3, '0') || ' ' || lpad((g % 10000)::text, 4, '0') || ' ' ||
           lpad((g::bigint * 31 % 10000)::text, 4, '0') || ' ' || lpad((g::bigint * 17 % 10000)::text, 4, '0'),
       '(' || (201 + g % 700) || ') 555-' || lpad((g % 10000)::text, 4, '0'),
       CASE g % 4
           WHEN 0 THEN 'Verified identity with SSN ' || lpad((g % 899 + 1)::text, 3, '0') || '-12-3456'
           WHEN 1 THEN 'Called about order ' || g || ' on the second attempt.'
           WHEN 2 THEN 'Backup email backup' || g || '@example.net'
           ELSE NULL END,
       jsonb_build_object('tier', (ARRAY['free', 'pro', 'enterprise'])[g % 3 + 1],
                          'contacts', jsonb_build_array(
                              jsonb_build_object('type', 'email', 'value', 'user' || g || '@example.com'),
                              jsonb_build_object('type', 'phone', 'value', '(' || (201 + g % 700) || ') 555-0100')),
                          'marketing_opt_in', g % 2 = 0)
FROM generate_series(1, {rows}) AS g
"""

MASK_RULES = [
    {"column": "public.customers.ssn", "with": "partial(last=4)"},
    {"column": "public.customers.card_number", "with": "partial(last=4)"},
    {"column": "public.customers.email", "with": "email"},
    {"detect": ["credit_card", "us_ssn", "email", "phone", "iban", "secrets"], "with": "redact"},
]

TARGETS = ["direct", "no rule", "masked"]


def policy_overrides(mask):
    policy = {"identity": "bench", "allow": ["select"]}
    if mask:
        policy["mask"] = MASK_RULES
    return {"default": "deny",
            "identities": [{"name": "bench", "match": {"source": ["127.0.0.0/8"]}}],
            "policies": [policy]}


def create(pg, rows):
    pg.create_database(DB)
    with pg.connect_app(DB, autocommit=True) as conn:
        conn.execute(sample_data.CUSTOMERS_SQL)  # the sample schema's customers, empty
        conn.execute(FILL.replace("{rows}", str(int(rows))))
        conn.execute("VACUUM ANALYZE public.customers")
        size = conn.execute("SELECT pg_size_pretty(pg_table_size('public.customers'))").fetchone()[0]
    return size


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_select_all(label, host, port, user, env, script, transactions, pid=None):
    before = cpu_seconds(pid) if pid else 0.0
    r = pgbench.run(host, port, user, DB, ["-n", "-c", "1", "-t", str(transactions), "-f", script],
                    env=env, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"bench: SELECT * via {label} failed:\n{r.stdout}{r.stderr}")
    seconds = pgbench.parse_summary(r.stdout)["latency_ms"] / 1000.0
    cpu = (cpu_seconds(pid) - before) / transactions if pid else None
    cpu_note = f"   pgwarden CPU {cpu:6.3f} s per SELECT" if cpu is not None else ""
    print(f"  SELECT * {label:<8} {seconds:8.3f} s{cpu_note}", flush=True)
    return seconds


def run(pg, args):
    size = create(pg, args.mask_rows)
    print(f"\nmasking: SELECT * FROM customers, {args.mask_rows:,} rows ({size}), "
          f"{args.rounds} interleaved rounds of {args.mask_transactions} pgbench transactions", flush=True)
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("SELECT * FROM customers;\n")
    script.close()
    os.chmod(script.name, 0o644)
    wardens = {}
    try:
        wardens["no rule"] = Pgwarden(upstream=pg, overrides=policy_overrides(False)).start()
        wardens["masked"] = Pgwarden(upstream=pg, overrides=policy_overrides(True)).start()
        paths = {"direct": (pg.host, pg.port, pg.app_user, pg.app_env(), None)}
        for label, w in wardens.items():
            paths[label] = (w.host, w.port, "bench", client_env(), w.pid)
        runs = {t: [] for t in TARGETS}
        for _ in range(args.rounds):
            for target in TARGETS:
                host, port, user, env, pid = paths[target]
                runs[target].append(time_select_all(target, host, port, user, env, script.name,
                                                    args.mask_transactions, pid))
        for w in wardens.values():
            w.stop()
    finally:
        for w in wardens.values():
            w.close()
        os.unlink(script.name)
    median = {t: sorted(v)[len(v) // 2] for t, v in runs.items()}
    return {"rows": args.mask_rows, "table_size": size, "seconds": median, "runs": runs,
            "detectors": detector_throughput(args)}


def detector_throughput(args):
    """MB/s per detector from mask_bench (Google Benchmark), when it was built."""
    binary = os.path.join(args.build_dir, "tests", "unit", "mask", "mask_bench")
    if not os.path.exists(binary):
        return {"skipped": f"{binary} not built (needs libbenchmark-dev)"}
    r = subprocess.run([binary, "--benchmark_filter=^BM_Detector/", "--benchmark_min_time=0.2"],
                       capture_output=True, text=True, timeout=300)
    # "BM_Detector/0  59.0 ms  59.0 ms  5 bytes_per_second=1084.09M/s hits=11.04k credit_card"
    # (Google Benchmark counts bytes in powers of 1024: M is MiB.)
    rates = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^BM_Detector/\d+\s.*bytes_per_second=([\d.]+)([kMG])/s.*\s(\w+)\s*$", line)
        if m:
            scale = {"k": 1 / 1024, "M": 1, "G": 1024}[m.group(2)]
            rates[m.group(3)] = float(m.group(1)) * scale
    if not rates:
        return {"skipped": "no BM_Detector results in mask_bench's output:\n" + r.stdout[-1000:] + r.stderr[-1000:]}
    return rates


def print_summary(result):
    s = result["seconds"]
    print(f"\nmasking: SELECT * of {result['rows']:,} customers ({result['table_size']}), median wall time")
    for target in TARGETS:
        print(f"  {target:<8} {s[target]:8.3f} s")
    masked, plain = s["masked"] / s["direct"], s["no rule"] / s["direct"]
    print(f"  masked/direct  {masked:5.2f}  (target <= 1.50: {'met' if masked <= 1.5 else 'NOT met'})")
    print(f"  no rule/direct {plain:5.2f}  (target <= 1.10: {'met' if plain <= 1.1 else 'NOT met'})")
    detectors = result["detectors"]
    if "skipped" in detectors:
        print(f"  detectors: {detectors['skipped']}")
        return
    print("  detector throughput, one core (mask_bench):")
    for name, rate in sorted(detectors.items()):
        print(f"    {name:<12} {rate:8.0f} MiB/s  (target >= 500 MB/s: {'met' if rate * 1.048576 >= 500 else 'NOT met'})")
