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

A second review round found three more, here too: a SET that was only
Parsed (never executed) moved pgwarden's settings; COMMIT AND CHAIN ended a
SET LOCAL without an idle ReadyForQuery; and a WITH HOLD cursor runs its
query, set_config and all, when its transaction commits. A third: a
protocol Execute of a SQL cursor or of a SQL PREPAREd statement runs its
set_config, which pgwarden did not count.

And what a client that means no harm does still works.
"""

import subprocess

import pytest

from harness import rawpg
from harness.clients import client_env
from harness.extended_wire import bind, data_rows, errors, exchange, execute, parse
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


HR_ROWS = "SELECT current_setting('search_path'), employee FROM salaries"


def test_a_commit_and_chain_ends_what_set_local_set(readonly, cluster):
    # COMMIT AND CHAIN answers 'T': the SET LOCAL is gone though no idle
    # ReadyForQuery says so.
    for queries in ([HR_FIRST, "BEGIN", "SET LOCAL search_path = public", "COMMIT AND CHAIN", HR_ROWS],
                    [HR_FIRST, "BEGIN; SELECT set_config('search_path', 'public', true); COMMIT AND CHAIN", HR_ROWS]):
        r = psql(readonly, *queries)
        assert refused(r), (queries, r.returncode, r.stdout, r.stderr)
        for name in salaries(cluster):
            assert name not in r.stdout


HOLD = "DECLARE c CURSOR WITH HOLD FOR SELECT set_config('search_path', 'hr, public', false)"


@pytest.mark.parametrize("queries", [
    ["BEGIN", HOLD, "COMMIT", HR_ROWS],
    ["BEGIN; " + HOLD + "; COMMIT", HR_ROWS],
    ["BEGIN; " + HOLD + "; COMMIT; " + HR_ROWS],
    [HOLD + "; SELECT 1", HR_ROWS],
], ids=["separate", "one string", "all in one string", "implicit transaction"])
def test_a_holdable_cursor_runs_its_set_config_at_commit(readonly, cluster, queries):
    # The server runs a WITH HOLD cursor's query to its end when the
    # transaction commits: the path becomes hr, public there.
    r = psql(readonly, *queries)
    assert refused(r), (queries, r.returncode, r.stdout, r.stderr)
    for name in salaries(cluster):
        assert name not in r.stdout


# ---- the extended protocol: a Parse runs nothing, each Execute runs it ---------

def connect(pw):
    import psycopg
    return psycopg.connect(host=pw.host, port=pw.port, user="alice", dbname="app", autocommit=True)


def rows_or_refusal(conn, sql):
    import psycopg
    try:
        return conn.execute(sql).fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        return exc


@pytest.mark.parametrize("name", [b"s1", b""], ids=["named", "unnamed"])
@pytest.mark.parametrize("parsed", [b"SET search_path = public",
                                    b"SELECT set_config('search_path', 'public', false)"],
                         ids=["SET", "set_config"])
def test_a_parse_that_never_runs_changes_no_setting(readonly, cluster, name, parsed):
    with connect(readonly) as conn:
        conn.execute(HR_FIRST)
        result = conn.pgconn.prepare(name, parsed)  # Parse and Sync, nothing bound or run
        assert result.status == 1, result.error_message  # PGRES_COMMAND_OK
        out = rows_or_refusal(conn, HR_ROWS)
        assert not isinstance(out, list), out
        assert "tables.deny: hr.*" in str(out.diag.message_detail)


def test_each_execute_of_a_prepared_set_counts(readonly, cluster):
    with connect(readonly) as conn:
        assert conn.pgconn.prepare(b"to_hr", b"SET search_path = hr, public").status == 1
        conn.execute("SET search_path = public")
        assert len(conn.execute("SELECT 1 FROM customers LIMIT 1").fetchall()) == 1
        result = conn.pgconn.exec_prepared(b"to_hr", [])
        assert result.status == 1, result.error_message
        out = rows_or_refusal(conn, HR_ROWS)
        assert not isinstance(out, list), out


def test_a_parse_of_escape_strings_does_not_change_how_sql_reads(readonly, cluster):
    # Parsed only, standard_conforming_strings stays on: 'a\' is a whole
    # literal and what follows it a second statement, which is refused.
    with connect(readonly) as conn:
        assert conn.pgconn.prepare(b"esc", b"SET standard_conforming_strings = off").status == 1
        out = rows_or_refusal(conn, "SELECT 'a\\'; SELECT employee FROM hr.salaries; --'")
        assert not isinstance(out, list), out


# A Query sent behind an Execute, before any Sync, is decided while the
# Execute's cycle is unanswered: standard_conforming_strings and
# client_encoding are reported only before its ReadyForQuery. With the
# setting off, this is two statements; pgwarden must not read it as one.
HIDDEN = "SELECT 'a\\', ' ; SELECT employee FROM hr.salaries; -- '"


@pytest.mark.parametrize("setup,batch", [
    (["BEGIN", "DECLARE c CURSOR FOR SELECT set_config('standard_conforming_strings', 'off', false)"],
     lambda: execute("c")),
    (["PREPARE p AS SELECT set_config('standard_conforming_strings', 'off', false)"],
     lambda: bind("", "p") + execute("")),
    ([], lambda: parse("", "SELECT set_config('standard_conforming_strings', 'off', false)") + bind("", "")
     + execute("")),
], ids=["a SQL cursor", "a SQL PREPARE", "a protocol statement"])
def test_an_execute_of_a_held_query_counts_its_settings(readonly, cluster, setup, batch):
    session = rawpg.Session(readonly.host, readonly.port, timeout=15)
    try:
        for q in setup:
            _, err = session.simple_query(q)
            assert err is None, err
        got = exchange(session, [batch(), rawpg.query(HIDDEN)])
        names = set(salaries(cluster))
        leaked = [r for r in data_rows(got) if r and r[0] and r[0].decode(errors="replace") in names]
        assert not leaked, leaked[:3]
        assert any("42501" == e.get("C") for e in errors(got)), [e.get("M") for e in errors(got)]
    finally:
        session.close()


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
