"""The policy corpus through `pgwarden policy explain`, the operator's view of
a decision: every line of tests/unit/policy/corpus/readonly_agent.tsv must be
explained with the action the TSV expects and, when refused, a message naming
what the TSV names. The catalog comes live from the database the engine test
uses (views over hr.salaries included), as `--live --dbname` loads it."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import binary_path
from policy_clients.readonly_agent import (POLICY_IDENTITY, ReadonlyAgentPgwarden, create_corpus_database,
                                           read_corpus, uid_identity)

DB = "pgw_policy_explain_corpus"


@pytest.fixture(scope="module")
def config_path(cluster):
    create_corpus_database(cluster, DB)
    pw = ReadonlyAgentPgwarden(cluster, [uid_identity()])
    try:
        pw.write_config()  # explain reads the file; nothing is served
        yield pw.config_path
    finally:
        pw.close()
        cluster.drop_database(DB)


def explain(config_path, sql):
    argv = [binary_path(), "policy", "explain", config_path, "--identity", POLICY_IDENTITY, "--sql", sql,
            "--live", "--dbname", DB, "-j"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1), f"{sql!r}: exit {result.returncode}: {result.stderr}"
    out = json.loads(result.stdout)
    assert (result.returncode == 0) == (out["decision"] == "allow"), out
    return out


def test_corpus_through_policy_explain(config_path):
    corpus = read_corpus()
    assert len(corpus) >= 150
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = list(pool.map(lambda c: explain(config_path, c.sql), corpus))
    problems = []
    for c, out in zip(corpus, outs):
        if out["decision"] != c.action:
            problems.append(f"{c.where()}: explained {out['decision']}, expected {c.action}")
        elif c.action != "allow" and c.expect not in out.get("message", ""):
            problems.append(f"{c.where()}: message {out.get('message')!r} does not name {c.expect!r}")
    counts = {a: sum(1 for c in corpus if c.action == a) for a in ("allow", "deny", "approve")}
    print(f"\nexplain corpus: {len(corpus)} statements, {counts['allow']} allowed, {counts['deny']} denied, "
          f"{counts['approve']} held")
    assert not problems, "\n".join(problems)
