"""The masking section of scripts/bench: what masking costs on a big result.

`SELECT * FROM customers` over 1,000,000 rows of the sample schema's shape
(ssn, card_number, email, phone, free-text notes and a jsonb profile with
PII in some rows), read by pgbench (C, libpq; it drops each result, so the
client adds little time of its own), three ways in interleaved rounds:

  direct     pgbench -> PostgreSQL
  no rule    pgbench -> pgwarden, a policy that allows select and masks nothing
  masked     pgbench -> pgwarden, ssn and card_number partial(last=4), email
             email, and every content detector on every other text column

Before timing, the first rows are read all three ways: the masked read must
hide every row's PII, the no-rule read must equal the direct one (or the
ratios would compare the wrong things). Alongside the wall time, pgwarden's
own CPU per SELECT (from /proc), since on a machine with a spare core its
work overlaps PostgreSQL's and the wall time alone hides it.

Targets: masked at most 1.5x the direct wall time, no rule at
most 1.1x. The detectors' own speed (>= 500 MB/s each) comes from the Google
Benchmark binary mask_bench, run here when it was built.
"""

import json
import os
import random
import re
import subprocess
import tempfile

from harness import Pgwarden, client_env
from harness import pgbench
from harness import sample_data

DB = "bench_mask"

# Realistic shapes generated in the server (fast): names from the sample
# data's lists, valid-looking SSNs 'AAA-GG-SSSS', 16-digit card numbers in
# groups of four (not all Luhn-valid), NANP phones (no N11 area or exchange); notes carry an SSN, a card
# number (Luhn-valid, from the sample data's generator, so the credit_card
# detector finds it), a phone or an email in four rows out of six, and every
# profile holds the contact details (a card in one in three), so the detectors
# have real work on every row.
FILL = """
INSERT INTO public.customers (name, email, ssn, card_number, phone, notes, profile)
SELECT ({first})[g % {n_first} + 1] || ' ' || ({last})[g % {n_last} + 1],
       'user' || g || '@example.com',
       {ssn},
       '4' || lpad((g::bigint * 7919 % 1000)::text, 3, '0') || ' ' || lpad((g % 10000)::text, 4, '0') || ' ' ||
           lpad((g::bigint * 31 % 10000)::text, 4, '0') || ' ' || lpad((g::bigint * 17 % 10000)::text, 4, '0'),
       '(' || ({areas})[g % {n_areas} + 1] || ') ' || (2 + g % 8) || (20 + g::bigint * 7 % 80) || '-' ||
           lpad((g % 10000)::text, 4, '0'),
       CASE g % 6
           WHEN 0 THEN 'Verified identity with SSN ' || {ssn} || ' at the branch.'
           WHEN 1 THEN 'Called about order ' || g || ' on the second attempt.'
           WHEN 2 THEN 'Backup email backup' || g || '@example.net, reply there.'
           WHEN 3 THEN 'Paid by card ' || ({cards})[g % {n_cards} + 1] || ' on the second attempt.'
           WHEN 4 THEN 'Prefers a call on (415) 555-' || lpad((g % 10000)::text, 4, '0') || ' after 6pm.'
           ELSE NULL END,
       jsonb_build_object('tier', (ARRAY['free', 'pro', 'enterprise'])[g % 3 + 1],
                          'contacts', jsonb_build_array(
                              jsonb_build_object('type', 'email', 'value', 'user' || g || '@example.com'),
                              jsonb_build_object('type', 'phone', 'value',
                                                 '(' || ({areas})[g % {n_areas} + 1] || ') 555-0100')),
                          'billing', jsonb_build_object('card', CASE WHEN g % 3 = 0
                                                                     THEN ({cards})[g % {n_cards} + 1] END),
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
# Targets: each path's median wall time over direct's.
RATIO_TARGETS = {"masked/direct": ("masked", 1.5), "no rule/direct": ("no rule", 1.1)}


def policy_overrides(mask):
    policy = {"identity": "bench", "allow": ["select"]}
    if mask:
        policy["mask"] = MASK_RULES
    return {"default": "deny",
            "identities": [{"name": "bench", "match": {"source": ["127.0.0.0/8"]}}],
            "policies": [policy]}


# A pool of Luhn-valid numbers in the sample data's styles (groups, dashes,
# 15-digit Amex), cheap to draw from in SQL.
LUHN_CARDS = [sample_data.card_number(r) for r in [random.Random(20261125)] for _ in range(97)]

# Real US area codes (never N11, which are service numbers and no phone's).
AREA_CODES = ["201", "202", "206", "212", "213", "214", "305", "310", "312", "404", "415", "503",
              "512", "602", "617", "646", "702", "713", "718", "773", "805", "818", "917", "972"]


def sql_text_array(values):
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def fill_sql(rows):
    # Area 001-899 without 666, group 01-98, serial 0001-9998: SSA's valid ranges.
    area = "(g::bigint * 7 % 898 + 1)"
    ssn = (f"lpad(({area} + ({area} >= 666)::int)::text, 3, '0') || '-' || "
           "lpad((g::bigint * 13 % 98 + 1)::text, 2, '0') || '-' || lpad((g::bigint * 37 % 9998 + 1)::text, 4, '0')")
    return (FILL.replace("{first}", sql_text_array(sample_data.FIRST))
                .replace("{n_first}", str(len(sample_data.FIRST)))
                .replace("{last}", sql_text_array(sample_data.LAST))
                .replace("{n_last}", str(len(sample_data.LAST)))
                .replace("{ssn}", ssn)
                .replace("{cards}", sql_text_array(LUHN_CARDS))
                .replace("{n_cards}", str(len(LUHN_CARDS)))
                .replace("{areas}", sql_text_array(AREA_CODES))
                .replace("{n_areas}", str(len(AREA_CODES)))
                .replace("{rows}", str(int(rows))))


def create(pg, rows):
    pg.create_database(DB)
    with pg.connect_app(DB, autocommit=True) as conn:
        conn.execute(sample_data.CUSTOMERS_SQL)  # the sample schema's customers, empty
        conn.execute(fill_sql(rows))
        conn.execute("VACUUM ANALYZE public.customers")
        size = conn.execute("SELECT pg_size_pretty(pg_table_size('public.customers'))").fetchone()[0]
    return size


# What the generated rows hide in their free text and JSON (see FILL).
PII_IN_TEXT = re.compile(r"\d{3}-\d{2}-\d{4}|[\w.+-]+@[\w.-]+|\(\d{3}\) \d{3}-\d{4}|\d{4}[ -]?\d{4,6}[ -]?\d{4,5}(?:[ -]?\d{4})?")
CHECKED_ROWS = 12  # two of each notes variant


def check_masking(pg, wardens):
    """A masked run that masked nothing would meet its target for nothing, and
    a no-rule run that changed bytes would not be the baseline it claims: so
    before timing, read the first rows all three ways and check what came back."""
    query = f"SELECT * FROM public.customers WHERE id <= {CHECKED_ROWS} ORDER BY id"
    with pg.connect_app(DB, autocommit=True) as conn:
        direct = conn.execute(query).fetchall()
    seen = {}
    for label, w in wardens.items():
        with w.connect(user="bench", dbname=DB, autocommit=True) as conn:
            seen[label] = conn.execute(query).fetchall()
    if seen["no rule"] != direct:
        raise SystemExit(f"bench: pgwarden without mask rules changed the rows:\n{seen['no rule'][:2]}\n{direct[:2]}")
    if len(seen["masked"]) != len(direct):
        raise SystemExit(f"bench: masked read returned {len(seen['masked'])} rows, direct {len(direct)}")
    for raw, masked in zip(direct, seen["masked"]):
        _, _, email, ssn, card, phone, notes, profile = raw
        m_email, m_ssn, m_card = masked[2], masked[3], masked[4]
        wrong = []
        if m_ssn == ssn or not m_ssn.endswith(ssn[-4:]):
            wrong.append(f"ssn {m_ssn!r} is not partial(last=4) of {ssn!r}")
        if m_card == card or not m_card.endswith(card[-4:]):
            wrong.append(f"card_number {m_card!r} is not partial(last=4) of {card!r}")
        if m_email == email:
            wrong.append(f"email {m_email!r} not masked")
        secrets = {email, ssn, card, phone} | set(PII_IN_TEXT.findall(f"{notes} {profile}"))
        shown = repr(masked)
        wrong += [f"{value!r} shown" for value in sorted(secrets) if value in shown]
        if wrong:
            raise SystemExit(f"bench: the masked policy leaked row {raw[0]}: {'; '.join(wrong)}\n  {masked}")


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
    return seconds, cpu


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
        check_masking(pg, wardens)
        paths = {"direct": (pg.host, pg.port, pg.app_user, pg.app_env(), None)}
        for label, w in wardens.items():
            paths[label] = (w.host, w.port, "bench", client_env(), w.pid)
        runs = {t: [] for t in TARGETS}
        cpu = {t: [] for t in wardens}
        for _ in range(args.rounds):
            for target in TARGETS:
                host, port, user, env, pid = paths[target]
                seconds, cpu_used = time_select_all(target, host, port, user, env, script.name,
                                                    args.mask_transactions, pid)
                runs[target].append(seconds)
                if cpu_used is not None:
                    cpu[target].append(cpu_used)
        for w in wardens.values():
            w.stop()
    finally:
        for w in wardens.values():
            w.close()
        os.unlink(script.name)
    median = {t: sorted(v)[len(v) // 2] for t, v in runs.items()}
    # pgwarden works while PostgreSQL sends, so on a box with cores to spare
    # the wall time hides masking's cost; its CPU per SELECT shows it.
    cpu_median = {t: sorted(v)[len(v) // 2] for t, v in cpu.items()}
    ratios = {name: {"ratio": median[target] / median["direct"], "target": limit,
                     "met": median[target] / median["direct"] <= limit}
              for name, (target, limit) in RATIO_TARGETS.items()}
    return {"rows": args.mask_rows, "table_size": size, "seconds": median, "runs": runs,
            "ratios": ratios, "pgwarden_cpu_seconds": cpu_median, "detectors": detector_throughput(args)}


ALL_DETECTORS = "all six, one pass"


def detector_throughput(args):
    """MB/s (10^6 bytes) of each detector alone and of all six together over
    mask_bench's text corpus (Google Benchmark), when mask_bench was built."""
    binary = os.path.join(args.build_dir, "tests", "unit", "mask", "mask_bench")
    if not os.path.exists(binary):
        return {"skipped": f"{binary} not built (needs libbenchmark-dev)"}
    r = subprocess.run([binary, "--benchmark_filter=^BM_Detector(/|SetAll)", "--benchmark_min_time=0.2",
                        "--benchmark_format=json"], capture_output=True, text=True, timeout=300)
    try:
        benchmarks = json.loads(r.stdout)["benchmarks"]
    except (ValueError, KeyError):
        return {"skipped": f"mask_bench said no JSON (exit {r.returncode}):\n{r.stdout[-500:]}{r.stderr[-500:]}"}
    # BM_Detector/N carries the detector's name as its label.
    return {(b.get("label") or ALL_DETECTORS): b["bytes_per_second"] / 1e6
            for b in benchmarks if "bytes_per_second" in b}


def print_summary(result):
    s = result["seconds"]
    print(f"\nmasking: SELECT * of {result['rows']:,} customers ({result['table_size']}), median wall time")
    cpu = result["pgwarden_cpu_seconds"]
    for target in TARGETS:
        note = f"   pgwarden CPU {cpu[target]:6.3f} s" if target in cpu else ""
        print(f"  {target:<8} {s[target]:8.3f} s{note}")
    for name, r in result["ratios"].items():
        print(f"  {name:<14} {r['ratio']:5.2f}  (target <= {r['target']:.2f}: {'met' if r['met'] else 'NOT met'})")
    detectors = result["detectors"]
    if "skipped" in detectors:
        print(f"  detectors: {detectors['skipped']}")
        return
    print("  detector throughput, one core (mask_bench):")
    for name, rate in sorted(detectors.items(), key=lambda kv: (kv[0] == ALL_DETECTORS, kv[0])):
        verdict = "" if name == ALL_DETECTORS else f"  (target >= 500 MB/s each: {'met' if rate >= 500 else 'NOT met'})"
        print(f"    {name:<18} {rate:8.0f} MB/s{verdict}")
