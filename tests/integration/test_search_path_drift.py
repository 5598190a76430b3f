"""pgwarden's idea of the session's search_path never drifts from the server's
in the client's favour.

Unqualified names are resolved on the search_path, so a path pgwarden
believes but the server does not use lets a client name a denied table
(`tables.deny: [hr.*]`) as if it were another, or COPY a masked table while
pgwarden plans the masking for a table of the same name elsewhere. An
adversarial review found three ways to make them differ; each is here, with
the outcome the client must see:

- a COMMIT, ROLLBACK or ROLLBACK TO in the middle of one Query string undoes
  or ends a SET the string made (SET LOCAL ends with its transaction): the
  statements after it are decided on every path the string had;
- `SELECT set_config('search_path', ...) WHERE false` succeeds and sets
  nothing: what a set_config() sets is only possible until the server says
  (pgwarden asks it right after such a statement);
- `COPY table TO STDOUT` is planned on every path that may be in effect, not
  only the first.

And what a client that means no harm does still works.
"""

import subprocess

import pytest

from harness.clients import client_env
from policy_clients.readonly_agent import ReadonlyAgentPgwarden, source_identity, stop_cleanly


def psql(pw, *queries):
    """One psql session, each query its own Query message (-c)."""
    args = []
    for q in queries:
        args += ["-c", q]
    return subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                           *pw.psql_args(), *args],
                          capture_output=True, env=client_env(), timeout=60, text=True)


def refused(r):
    return r.returncode != 0 and "42501" in r.stderr


# ---- tables.deny under the shipped read-only policy -----------------------------

@pytest.fixture(scope="module")
def readonly(cluster):
    pw = ReadonlyAgentPgwarden(cluster, [source_identity("readonly-agent")]).start()
    yield pw
    stop_cleanly(pw)


def salaries(cluster):
    return [row[0] for row in cluster.execute("SELECT employee FROM hr.salaries", dbname="app")]


HR_FIRST = "SET search_path = hr, public"
TRICKS = {
    "rollback in the string": "BEGIN; SET search_path = public; ROLLBACK; SELECT employee FROM salaries",
    "set local, commit": "BEGIN; SET LOCAL search_path = public; COMMIT; SELECT employee FROM salaries",
    "rollback to a savepoint":
        "BEGIN; SAVEPOINT a; SET search_path = public; ROLLBACK TO a; SELECT employee FROM salaries; COMMIT",
    "abort": "BEGIN; SET search_path = public; ABORT; SELECT employee FROM salaries",
}


@pytest.mark.parametrize("sql", TRICKS.values(), ids=TRICKS.keys())
def test_a_transaction_end_in_the_string_does_not_hide_hr(readonly, cluster, sql):
    r = psql(readonly, HR_FIRST, sql)
    assert refused(r), (r.returncode, r.stdout, r.stderr)
    assert "tables.deny: hr.*" in r.stderr, r.stderr
    for name in salaries(cluster):
        assert name not in r.stdout


@pytest.mark.parametrize("shape", ["WHERE false", "LIMIT 0", "CASE"])
def test_a_set_config_that_did_not_run_does_not_hide_hr(readonly, cluster, shape):
    set_config = {
        "WHERE false": "SELECT set_config('search_path', 'public', false) WHERE false",
        "LIMIT 0": "SELECT set_config('search_path', 'public', false) LIMIT 0",
        "CASE": "SELECT CASE WHEN 1 = 2 THEN set_config('search_path', 'public', false) END",
    }[shape]
    # Each as its own Query (pgwarden asks the server after the set_config),
    # and both in one string (it cannot ask in between).
    for queries in ([HR_FIRST, set_config, "SELECT employee FROM salaries"],
                    [HR_FIRST, set_config + "; SELECT employee FROM salaries"]):
        r = psql(readonly, *queries)
        assert refused(r), (queries, r.returncode, r.stdout, r.stderr)
        for name in salaries(cluster):
            assert name not in r.stdout


def test_what_ran_is_followed(readonly):
    # The SET and the set_config that ran move the path; the unqualified
    # public table reads, and hr stays refused on the path that holds it.
    r = psql(readonly, HR_FIRST, "SELECT set_config('search_path', 'public', false)",
             "SELECT current_setting('search_path'), count(*) > 0 FROM customers")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "public|t", r.stdout
    r = psql(readonly, "BEGIN; SET LOCAL search_path = public; SELECT count(*) > 0 FROM customers; COMMIT")
    assert r.returncode == 0, r.stderr
    r = psql(readonly, "BEGIN; SET search_path = public; COMMIT", "SELECT count(*) > 0 FROM customers")
    assert r.returncode == 0, r.stderr
    r = psql(readonly, "SELECT set_config('search_path', 'hr', false)", "SELECT employee FROM salaries")
    assert refused(r), r.stderr


# ---- COPY of a table with column rules, and no detectors -----------------------

COLUMN_RULES_ONLY = {
    "default": "deny",
    "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
    "policies": [{"identity": "agent", "allow": ["select", "copy_to", "transaction", "set"],
                  "mask": [{"column": "public.customers.ssn", "with": "partial(last=4)"},
                           {"column": "public.customers.email", "with": "email"},
                           {"column": "public.customers.card_number", "with": "redact"}]}],
}


@pytest.fixture(scope="module")
def column_rules_only(cluster):
    from harness import Pgwarden
    pw = Pgwarden(upstream=cluster, overrides=COLUMN_RULES_ONLY).start()
    yield pw
    pw.stop()
    pw.close()


def raw_values(cluster):
    rows = cluster.execute("SELECT ssn, email, card_number FROM customers", dbname="app")
    return [v for row in rows for v in row if v]


COPY = "COPY customers (id, ssn, email, card_number) TO STDOUT"
DRIFTS = {
    "set in the string": ["SET search_path = hr", "SET search_path = public; " + COPY],
    "rolled back to a savepoint": ["SET search_path = hr", "BEGIN; SET search_path = public; SAVEPOINT a; ROLLBACK TO a",
                                   COPY, "COMMIT"],
    "set_config that did not run": ["SELECT set_config('search_path', 'hr', false) WHERE false", COPY],
    "set_config in the string": ["SELECT set_config('search_path', 'hr', false) WHERE false; " + COPY],
    "a decoy schema": ["SET search_path = nowhere", "SET search_path = public; " + COPY],
}


@pytest.mark.parametrize("queries", DRIFTS.values(), ids=DRIFTS.keys())
def test_copy_of_a_masked_table_is_masked_whatever_the_path_seems(column_rules_only, cluster, queries):
    r = psql(column_rules_only, *queries)
    for value in raw_values(cluster):
        assert value not in r.stdout, (queries, value)
    # The COPY ran, masked: every row has a masked SSN.
    assert r.returncode == 0, r.stderr
    assert masked_rows(r.stdout), r.stdout[:300]
    assert r.stdout.count("\n") >= len(cluster.execute("SELECT 1 FROM customers", dbname="app"))


def masked_rows(stdout):
    rows = [line.split("\t") for line in stdout.splitlines() if "\t" in line]
    return rows and all(row[1].startswith("***-**-") for row in rows)


def test_copy_that_may_mean_two_tables_masked_differently_is_refused(cluster, make_pgwarden):
    # drift.customers has no rules; public.customers has. Made before
    # pgwarden starts, so its catalog snapshot knows both.
    cluster.execute("CREATE SCHEMA drift; CREATE TABLE drift.customers (id int, ssn text, email text, "
                    "card_number text); GRANT USAGE ON SCHEMA drift TO PUBLIC; "
                    "GRANT SELECT ON drift.customers TO PUBLIC", dbname="app")
    try:
        pw = make_pgwarden(overrides=COLUMN_RULES_ONLY)
        r = psql(pw, "SET search_path = drift", "SET search_path = public; " + COPY)
        for value in raw_values(cluster):
            assert value not in r.stdout
        assert r.returncode != 0
        assert "may be one where it is" in r.stderr and "qualify the table name" in r.stderr, r.stderr
        # Qualified, or with the path settled, there is nothing to guess.
        r = psql(pw, "SET search_path = drift", "SET search_path = public; COPY public.customers (id, ssn) TO STDOUT")
        assert r.returncode == 0, r.stderr
        assert masked_rows(r.stdout), r.stdout[:300]
        r = psql(pw, "SET search_path = drift", "SET search_path = public", COPY)
        assert r.returncode == 0, r.stderr
        assert masked_rows(r.stdout), r.stdout[:300]
    finally:
        cluster.execute("DROP SCHEMA drift CASCADE", dbname="app")
