"""Random interleavings of simple- and extended-protocol messages over
masked queries: no masked value reaches the client, whatever the order.

Each sequence (harness/random_protocol.py) is a seeded random pipeline over
one or two fresh sessions: Parse (named, unnamed, masked and clean queries,
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
formed); pgwarden stays up and its log shows no crash.

A failure prints each failing seed with the messages, minimised, as the
calls of harness/extended_wire.py: a regression test to be.

Environment:
  PGWARDEN_RANDOM_SEQUENCES  how many sequences (default 1500: about a minute)
  PGWARDEN_RANDOM_SEED       the first seed (default: random, printed)
  PGWARDEN_RANDOM_WORKERS    worker processes, each with its own pgwarden (default 2)
  PGWARDEN_RANDOM_REPLAY     comma-separated seeds to run (in that order, on kept sessions)
  PGWARDEN_RANDOM_MINIMISE   failures minimised per worker (default 3)
  PGWARDEN_RANDOM_MINIMISE_SECONDS  time to minimise one (default 20)
"""

import copy
import os
import random

import pytest

from harness import Pgwarden, masking
from harness.cluster import SUPERUSER
from harness.random_protocol import POLICY_VARIANTS
from harness.random_runner import describe_failure, run_many

SEQUENCES = int(os.environ.get("PGWARDEN_RANDOM_SEQUENCES", "1500"))
WORKERS = int(os.environ.get("PGWARDEN_RANDOM_WORKERS", "2"))
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


def seeds():
    replay = os.environ.get("PGWARDEN_RANDOM_REPLAY")
    if replay:
        return [int(s) for s in replay.split(",")]
    first = int(os.environ.get("PGWARDEN_RANDOM_SEED", str(random.SystemRandom().randrange(2 ** 31))))
    return list(range(first, first + SEQUENCES))


def test_random_protocol_sequences_leak_nothing(daemons):
    processes, info = daemons
    todo = seeds()
    print(f"\nseeds {todo[0]}..{todo[-1]} ({len(todo)} sequences, {len(info)} workers)")
    summary = run_many(todo, through_pgwarden(), info, minimise_limit=MINIMISE)
    print(f"{summary.sequences} sequences, {summary.messages} messages in {summary.seconds:.1f}s "
          f"({summary.sequences / summary.seconds:.1f} sequences/s, failures replayed and minimised "
          f"included); SQLSTATEs seen: {dict(sorted(summary.sqlstates.items()))}")
    for pw in processes:
        pw.check_not_exited()
    failures = summary.failures
    if failures:
        kinds = {}
        for f in failures:
            kinds[f.signature()] = kinds.get(f.signature(), 0) + 1
        # The minimised ones first: they are the readable ones.
        failures.sort(key=lambda f: (getattr(f, "minimal", None) is None, f.seed))
        shown = "\n\n".join(describe_failure(f, full=i < 3) for i, f in enumerate(failures[:12]))
        pytest.fail(f"{len(failures)} of {summary.sequences} sequences failed {kinds}; seeds "
                    f"{sorted(f.seed for f in failures)}\n(replay one: PGWARDEN_RANDOM_REPLAY=<seed>)\n\n"
                    f"{shown}", pytrace=False)
    assert summary.sequences == len(todo)


def test_the_oracle_sees_leaks_directly(cluster):
    """Self-check: the same generator sent straight to PostgreSQL (its unix
    socket, as the superuser; reloads do nothing there) must put raw values
    on the wire in many sequences, and PostgreSQL's own answers must pass
    the protocol checks (they are the reference)."""
    masking.create_database(cluster)
    first = random.SystemRandom().randrange(2 ** 31)
    summary = run_many(list(range(first, first + SELF_CHECK_SEQUENCES)), direct(cluster), [None],
                       minimise_limit=0)
    leaking = [f for f in summary.failures if f.leaks]
    other = [f for f in summary.failures if f.violations or f.fatals or f.crash]
    assert not other, "\n\n".join(describe_failure(f) for f in other[:5])
    assert len(leaking) >= SELF_CHECK_SEQUENCES // 5, (
        f"only {len(leaking)} of {SELF_CHECK_SEQUENCES} sequences leaked directly (seeds from {first})")
