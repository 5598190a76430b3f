"""Random interleavings of simple- and extended-protocol messages over
masked queries: no masked value reaches the client, whatever the order.

Each sequence (harness/random_protocol.py) is a seeded random pipeline over
one or two sessions: Parse (named, unnamed, masked and clean queries,
duplicates the server refuses, statements that fail when executed), Bind
(also to names that do not exist or were refused), Describe or not,
Execute with row limits (portals suspended, resumed and interleaved),
Close, Sync, Flush, simple Queries of several statements, SQL cursors
(DECLARE WITH HOLD / SCROLL / BINARY, FETCH, MOVE, CLOSE, CLOSE ALL) also
read through a protocol Execute of their name, PREPARE/EXECUTE/DEALLOCATE
(ALL), DISCARD ALL, transactions and savepoints, errors mid-pipeline, text
and binary formats, COPY TO STDOUT, and config reloads between messages
that add or remove a mask rule (customers.name) and a table denial (hr.*).

Oracle (harness/wire_oracle.py): every byte received is searched for the
masked values of customers 1..25 and their transforms, their digits as
binary int4/int8, the planted PII, and, while a reloaded policy protects
them, the names and salaries; every answer matches the protocol (one
ReadyForQuery per Sync and per Query, nothing after a FATAL, DataRows well
formed); pgwarden stays up and its log shows no crash. The same sequences
sent straight to PostgreSQL must leak (the self-checks).

Workers keep their sessions between sequences (reset with ROLLBACK and
DISCARD ALL) to save a login each. A failing seed is replayed alone on new
sessions; if it passes alone, together with the sequences that ran before
it on the same sessions, as one sequence. The first failures of each
worker are minimised and printed as a list of harness/extended_wire.py calls
(plus `reload(variant)` and `wait()`): save one to a file and
`PGWARDEN_RANDOM_STEPS=FILE` runs it again (test_printed_steps), or paste it
into a regression test.

A PostgreSQL backend crash during the run (its log says "terminated by
signal") is reported with the log line; the sequences that failed only as
its casualties (connections closed, 57P02, 57P03 during recovery) do not fail
the run. Leaks and pgwarden's own crashes always do.

Environment:
  PGWARDEN_RANDOM_SECONDS    run for this long (default 60: the run in scripts/test)
  PGWARDEN_RANDOM_SEQUENCES  or exactly this many sequences (e.g. 100000)
  PGWARDEN_RANDOM_SEED       the first seed (default: random, printed)
  PGWARDEN_RANDOM_WORKERS    worker processes, each with its own pgwarden (default 4: they
                             mostly wait on round trips, so 2 cores serve 4)
  PGWARDEN_RANDOM_REPLAY     comma-separated seeds to run (in that order, on kept sessions)
  PGWARDEN_RANDOM_MINIMISE   failures minimised per worker (default 3)
  PGWARDEN_RANDOM_MINIMISE_SECONDS  time to minimise one (default 20)
  PGWARDEN_RANDOM_REPORT     write every failure (seed, what failed, steps) to this JSON file
  PGWARDEN_RANDOM_STEPS      a file with a printed list of steps: test_printed_steps runs it
"""

import copy
import json
import os
import random
import time
from pathlib import Path

import pytest

from harness import Pgwarden, masking
from harness.cluster import SUPERUSER
from harness.random_protocol import POLICY_VARIANTS, render_python, steps_from_python
from harness.random_runner import (DaemonWatch, Reloader, describe_failure, run_many, run_steps, target_for,
                                   transcript)
from harness.wire_oracle import Needles

SEQUENCES = int(os.environ.get("PGWARDEN_RANDOM_SEQUENCES", "0"))   # 0: as many as SECONDS allow
SECONDS = float(os.environ.get("PGWARDEN_RANDOM_SECONDS", "60"))
WORKERS = int(os.environ.get("PGWARDEN_RANDOM_WORKERS", "4"))
SELF_CHECK_SEQUENCES = 200
MINIMISE = int(os.environ.get("PGWARDEN_RANDOM_MINIMISE", "3"))   # failures minimised per worker

EXTRA_RULES = {
    "mask_name": {"mask": [{"column": "public.customers.name", "with": "redact"}]},
    "deny_hr": {"tables": {"deny": ["hr.*"]}},
}


def policy_configs(base_config):
    """variant -> the whole config: the masking policy (plus DISCARD ALL,
    class role) with the variant's rules added."""
    configs = {}
    for variant in POLICY_VARIANTS:
        config = copy.deepcopy(base_config)
        policy = config["policies"][0]
        policy["allow"] = policy["allow"] + ["role"]
        for part in variant.split("+"):
            extra = EXTRA_RULES.get(part, {})
            if "mask" in extra:
                policy["mask"] = extra["mask"] + policy["mask"]
            if "tables" in extra:
                policy["tables"] = extra["tables"]
        configs[variant] = config
    return configs


@pytest.fixture(scope="module")
def daemons(cluster, tmp_path_factory):
    masking.create_database(cluster)
    started, info = [], []
    try:
        for i in range(WORKERS):
            overrides = masking.config_overrides(str(tmp_path_factory.mktemp(f"random{i}")))
            pw = Pgwarden(cluster, overrides=overrides)
            configs = policy_configs(pw.config)
            pw.config = configs["base"]
            pw.start()
            started.append(pw)
            info.append({"pid": pw.pid, "host": pw.host, "port": pw.port, "config_path": pw.config_path,
                         "log_path": pw.log_path, "configs": configs})
        yield started, info
    finally:
        for pw in started:
            pw.close()


def through_pgwarden():
    return {"user": "alice", "database": masking.DB}


def direct(cluster):
    return {"unix": f"{cluster.socket_dir}/.s.PGSQL.{cluster.port}", "user": SUPERUSER, "database": masking.DB}


# PostgreSQL 15's backend itself segfaults, rarely (about once in 100,000
# sequences here), on some of these sequences; the postmaster then restarts
# every backend. What the sessions of that moment see (a connection closed
# without a FATAL, 57P02, 57P03 while the cluster recovers) is the server's
# crash, not pgwarden's doing: such failures are reported, with the server's
# log lines, and do not fail the run. Leaks always do.
SERVER_CRASH = "was terminated by signal"


def server_crash_lines(cluster, since):
    """Each crash line, with the server's next line (DETAIL: Failed process
    was running: ...), which names the statement."""
    with open(cluster.log_path, errors="replace") as f:
        f.seek(since)
        lines = [line.strip() for line in f]
    return [line + (" | " + lines[i + 1] if i + 1 < len(lines) and "Failed process" in lines[i + 1] else "")
            for i, line in enumerate(lines) if SERVER_CRASH in line]


def wait_for_recovery(cluster, seconds=60):
    """After a crash the postmaster recovers before it takes connections."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            cluster.execute("SELECT 1")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def crash_casualty(failure):
    if failure.leaks or failure.crash:
        return False
    crash_like = ("connection closed without a FATAL", "57P03", "could not start a session")
    return (all(any(m in text for m in crash_like) for _, text in failure.violations)
            and all(fields.get("C") in ("57P01", "57P02", "57P03", "08006") for _, _, fields in failure.fatals))


def test_random_protocol_sequences_leak_nothing(daemons, cluster):
    processes, info = daemons
    log_start = os.path.getsize(cluster.log_path)
    replay = os.environ.get("PGWARDEN_RANDOM_REPLAY")
    if replay:
        # In the order given, on one worker's kept sessions.
        todo = [int(s) for s in replay.split(",")]
        print(f"\nreplaying seeds {todo}")
        summary = run_many(through_pgwarden(), info[:1], seeds=todo, minimise_limit=MINIMISE)
    else:
        first = int(os.environ.get("PGWARDEN_RANDOM_SEED", str(random.SystemRandom().randrange(2 ** 31))))
        if SEQUENCES:
            print(f"\nseeds {first}..{first + SEQUENCES - 1} on {len(info)} workers")
            summary = run_many(through_pgwarden(), info, seeds=list(range(first, first + SEQUENCES)),
                               minimise_limit=MINIMISE)
        else:
            print(f"\nseeds from {first} on, for {SECONDS:.0f}s on {len(info)} workers")
            summary = run_many(through_pgwarden(), info, first=first, seconds=SECONDS, minimise_limit=MINIMISE)
    print(f"{summary.sequences} sequences, {summary.messages} messages in {summary.seconds:.1f}s "
          f"({summary.sequences / summary.seconds:.1f} sequences/s, failures replayed and minimised "
          f"included); SQLSTATEs seen: {dict(sorted(summary.sqlstates.items()))}")
    for pw in processes:
        pw.check_not_exited()
    failures = summary.failures
    crashes = server_crash_lines(cluster, log_start)
    if crashes:
        wait_for_recovery(cluster)
        casualties = [f for f in failures if crash_casualty(f)]
        failures = [f for f in failures if not crash_casualty(f)]
        print(f"PostgreSQL crashed {len(crashes)} time(s) during the run: {crashes[:3]}; "
              f"{len(casualties)} sequence(s) failed only as its casualties, seeds "
              f"{sorted(f.seed for f in casualties)[:20]}")
    report = os.environ.get("PGWARDEN_RANDOM_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({"sequences": summary.sequences, "seconds": summary.seconds,
                       "failures": [{"seed": o.seed, "signature": o.signature(), "report": o.report(20),
                                     "history": o.history, "steps": render_python(o.steps),
                                     "minimal": render_python(o.minimal) if getattr(o, "minimal", None) else None,
                                     "transcript": getattr(o, "minimal_transcript", "")}
                                    for o in failures]}, f, indent=1)
    if failures:
        kinds = {}
        for f in failures:
            kinds[f.signature()] = kinds.get(f.signature(), 0) + 1
        # The minimised ones first: they are the readable ones.
        failures.sort(key=lambda f: (getattr(f, "minimal", None) is None, f.seed))
        shown = "\n\n".join(describe_failure(f, full=i < 3) for i, f in enumerate(failures[:12]))
        pytest.fail(f"{len(failures)} of {summary.sequences} sequences failed {kinds}; seeds "
                    f"{sorted(f.seed for f in failures)[:100]}\n(replay one: PGWARDEN_RANDOM_REPLAY=<seed>)\n\n"
                    f"{shown}", pytrace=False)
    assert summary.sequences > 0
    if SEQUENCES and not replay:
        assert summary.sequences == SEQUENCES


def test_the_oracle_sees_leaks_directly(cluster):
    """Self-check: the same generator sent straight to PostgreSQL (its unix
    socket, as the superuser; reloads do nothing there) must put raw values
    on the wire in many sequences, and PostgreSQL's own answers must pass
    the protocol checks (they are the reference)."""
    masking.create_database(cluster)
    first = random.SystemRandom().randrange(2 ** 31)
    summary = run_many(direct(cluster), [None], seeds=list(range(first, first + SELF_CHECK_SEQUENCES)),
                       minimise_limit=0)
    leaking = [f for f in summary.failures if f.leaks]
    other = [f for f in summary.failures if f.violations or f.fatals or f.crash]
    assert not other, "\n\n".join(describe_failure(f) for f in other[:5])
    assert len(leaking) >= SELF_CHECK_SEQUENCES // 5, (
        f"only {len(leaking)} of {SELF_CHECK_SEQUENCES} sequences leaked directly (seeds from {first})")
    # Every kind of value searched shows up, in text and in binary format.
    # A rare kind (a binary int on the wire) can miss one batch of random
    # sequences: up to two more batches are run before that counts.
    kinds = ("ssn (raw)", "card_number", "email", "phone", "planted", "(binary int")
    found = " ".join(what for f in leaking for _, _, _, what, _ in f.leaks)
    start = first
    for _ in range(2):
        if all(what in found for what in kinds):
            break
        start += SELF_CHECK_SEQUENCES
        more = run_many(direct(cluster), [None], seeds=list(range(start, start + SELF_CHECK_SEQUENCES)),
                        minimise_limit=0)
        found += " " + " ".join(what for f in more.failures if f.leaks for _, _, _, what, _ in f.leaks)
    for what in kinds:
        assert what in found, f"no {what} found directly in the sequences from {first} to {start + SELF_CHECK_SEQUENCES}"


def test_the_oracle_sees_what_a_reloaded_policy_protects(cluster):
    """Self-check of the needles a reload adds: read directly, names and
    salaries are found when searched as if the policy that protects them
    were in force."""
    masking.create_database(cluster)
    first = random.SystemRandom().randrange(2 ** 31)
    summary = run_many(direct(cluster), [None], seeds=list(range(first, first + SELF_CHECK_SEQUENCES)),
                       minimise_limit=0, policy="mask_name+deny_hr")
    found = " ".join(what for f in summary.failures for _, _, _, what, _ in f.leaks)
    assert " name (" in found and "salary of" in found, f"seeds from {first}"


if os.environ.get("PGWARDEN_RANDOM_STEPS"):
    def test_printed_steps(daemons):
        """PGWARDEN_RANDOM_STEPS=FILE runs a list of steps as a failure
        prints them (minimised or edited) on new sessions, and shows what
        came back."""
        _run_printed_steps(daemons, os.environ["PGWARDEN_RANDOM_STEPS"])


REGRESSIONS = sorted((Path(__file__).parent / "random_regressions").glob("*.py"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_sequences_that_once_failed(daemons, path):
    """The minimised sequences of past failures (random_regressions/), each
    run as a failure prints it."""
    _run_printed_steps(daemons, str(path))


def _run_printed_steps(daemons, path):
    processes, info = daemons
    with open(path) as f:
        steps = steps_from_python(f.read())
    watch = DaemonWatch(info[0])
    outcome = run_steps(steps, target_for(through_pgwarden(), info[0]), Needles(), Reloader(info[0], watch), watch)
    print("\n" + describe_failure(outcome) + "\n" + transcript(outcome))
    assert not outcome.failed, outcome.report()
