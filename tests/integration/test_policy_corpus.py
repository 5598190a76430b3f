"""The policy corpus through the engine, against the real database.

Every statement of tests/unit/policy/corpus/readonly_agent.tsv runs in a
fresh session through pgwarden with policies/readonly-agent.yaml's policy
(identity matched by uid on the unix socket), as a simple Query the way
psycopg sends a statement without parameters. The TSV's expectation must
hold as the client sees it:

- allowed lines succeed, or fail only with PostgreSQL's own errors;
- denied (and held) lines get 42501 with `pgwarden: ... for readonly-agent`
  naming what the TSV names (syntax errors: 42601 with the server's message
  and a position), the session stays usable and unchanged (role,
  search_path, string mode, listeners, prepared statements, transaction
  state), and the database shows no effect at all — a fingerprint over a
  direct superuser connection (rows with their tuple versions, relations,
  columns, ACLs, functions, roles, role/database settings, ALTER SYSTEM,
  large objects, maintenance counters, slots, notifications, server files)
  is taken after every line and compared with the one before.
"""

import collections
import re
import time

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from policy_clients.readonly_agent import (POLICY_IDENTITY, DatabaseWatch, ReadonlyAgentPgwarden,
                                           create_corpus_database, fingerprint_diff, read_corpus,
                                           stop_cleanly, uid_identity)

DB = "pgw_policy_corpus"

# What a denied statement must leave as it was in the session that sent it.
SESSION_STATE_SQL = """SELECT current_user, session_user,
    current_setting('search_path'), current_setting('standard_conforming_strings'),
    current_setting('client_encoding'), current_setting('application_name'),
    current_setting('statement_timeout'), current_setting('transaction_isolation'),
    (SELECT count(*) FROM pg_listening_channels()),
    (SELECT count(*) FROM pg_prepared_statements),
    (SELECT count(*) FROM pg_cursors)"""

PARSE_ERROR_STATES = {"42601"}  # the parser's refusals answer as the server would


@pytest.fixture(scope="module")
def corpus_db(cluster):
    create_corpus_database(cluster, DB)
    yield cluster
    cluster.drop_database(DB)


@pytest.fixture(scope="module")
def agent(corpus_db):
    pw = ReadonlyAgentPgwarden(corpus_db, [uid_identity()]).start()
    try:
        yield pw
    finally:
        stop_cleanly(pw)


def session_state(conn):
    return conn.execute(SESSION_STATE_SQL).fetchone()


def check_denial(c, error):
    """'' when the client's error is the denial the TSV expects."""
    if error is None:
        return "ran, expected a denial"
    diag = error.diag
    state, message = diag.sqlstate, diag.message_primary or ""
    if c.expect not in message:
        return f"{state} {message!r} does not name {c.expect!r}"
    if state in PARSE_ERROR_STATES:
        if not diag.statement_position:
            return f"{state} {message!r} without a position"
        return ""
    if not isinstance(error, psycopg.errors.InsufficientPrivilege) or state != "42501":
        return f"{type(error).__name__} {state} {message!r}, expected 42501"
    if not message.startswith("pgwarden: ") or not message.endswith(f" for {POLICY_IDENTITY}"):
        return f"42501 {message!r} is not pgwarden's policy message"
    if c.action == "approve" and "requires approval" not in message:
        return f"held statement answered {message!r}"
    return ""


def run_line(pw, c, fresh_state):
    """Run one corpus line in a fresh session; returns (problems, error)."""
    problems, error = [], None
    with pw.connect(unix=True, dbname=DB, autocommit=True) as conn:
        try:
            if c.action == "allow" and re.match(r"(?is)^\s*COPY\b.*\bTO\s+STDOUT\s*$", c.sql):
                with conn.cursor().copy(c.sql) as copy:  # the driver reads COPY data its own way
                    for _ in copy:
                        pass
            else:
                conn.execute(c.sql)  # no parameters: a simple Query, every statement of the string
        except psycopg.Error as exc:
            error = exc
        if c.action == "allow":
            if error is not None and (error.diag.message_primary or "").startswith("pgwarden"):
                problems.append(f"refused by pgwarden: {error.diag.sqlstate} {error.diag.message_primary!r}")
            return problems, error
        problem = check_denial(c, error)
        if problem:
            problems.append(problem)
        if conn.info.transaction_status != TransactionStatus.IDLE:
            problems.append(f"session left in transaction state {conn.info.transaction_status.name}")
        if conn.execute("SELECT 1").fetchone() != (1,):
            problems.append("the session no longer answers SELECT 1")
        state = session_state(conn)
        if state != fresh_state:
            problems.append(f"session state changed: {state} (fresh: {fresh_state})")
    return problems, error


def test_readonly_agent_corpus_through_the_engine(agent, corpus_db):
    lines = read_corpus()
    assert len(lines) >= 150
    watch = DatabaseWatch(corpus_db, DB)
    try:
        with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
            fresh_state = session_state(conn)
        assert fresh_state[0] == corpus_db.app_user, fresh_state
        before = watch.fingerprint()
        counts = collections.Counter()
        failures, server_errors = [], []
        started = time.monotonic()
        for c in lines:
            counts[c.action] += 1
            problems, error = run_line(agent, c, fresh_state)
            after = watch.fingerprint()
            diff = fingerprint_diff(before, after)
            if diff:
                problems.append("the database changed:\n" + diff)
                before = after  # report each change once
            if c.action == "allow" and error is not None and not problems:
                server_errors.append(f"{c.where()}: {error.diag.sqlstate} {error.diag.message_primary}")
            if problems:
                failures.append(f"{c.where()} [{c.action}]\n    " + "\n    ".join(problems))
        elapsed = time.monotonic() - started
    finally:
        watch.close()

    print(f"corpus: {len(lines)} statements, {counts['allow']} allowed, {counts['deny']} denied, "
          f"{counts['approve']} held ({elapsed:.1f}s, one session and one fingerprint per line)")
    print("allowed lines that PostgreSQL itself refused:\n  " + "\n  ".join(server_errors))
    assert not failures, (f"{len(failures)} of {len(lines)} corpus lines did not match:\n"
                          + "\n".join(failures) + "\n" + agent.log_tail(30))


# Statements of the kinds the corpus denies, run directly (no pgwarden), and
# the part of the fingerprint each must change: the check above is only as
# good as the fingerprint's eye. (role, SQL, part)
FINGERPRINT_PROBES = [
    ("app", "UPDATE public.customers SET name = name WHERE id = 1", "public.customers"),
    ("app", "SELECT 1 FROM public.orders WHERE id = 1 FOR UPDATE", "public.orders"),
    ("app", "DELETE FROM hr.salaries WHERE employee = (SELECT min(employee) FROM hr.salaries)", "hr.salaries"),
    ("app", "SELECT nextval('public.orders_id_seq')", "sequences"),
    ("app", "CREATE TEMP TABLE probe_tt (x int)", "relations"),
    ("app", "ALTER TABLE public.orders ADD COLUMN probe int", "columns"),
    ("app", "GRANT SELECT ON hr.salaries TO PUBLIC", "relations"),
    ("app", "COMMENT ON TABLE public.customers IS 'probe'", "other_objects"),
    ("app", "CREATE INDEX ON public.orders (amount)", "relations"),
    ("app", "CREATE FUNCTION public.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'", "functions"),
    ("app", f"ALTER ROLE app_owner IN DATABASE {DB} SET search_path = hr", "role_database_settings"),
    ("app", "VACUUM public.customers", "maintenance"),
    ("app", "SELECT lo_create(0)", "large_objects"),
    ("app", "NOTIFY ch, 'probe'", "notifications"),
    ("super", "CREATE ROLE pgw_corpus_probe", "roles"),
    ("super", "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO app_owner", "catalog_acls"),
    ("super", "ALTER SYSTEM SET log_min_duration_statement = 12345", "server_settings"),
]


def test_the_fingerprint_sees_what_denied_statements_would_do(corpus_db):
    """Runs after the corpus (it changes the corpus database, which the
    module drops at the end)."""
    watch = DatabaseWatch(corpus_db, DB)
    app = corpus_db.connect_app(DB, autocommit=True)  # stays open: its temp table lives with it
    superuser = corpus_db.connect_super(DB)
    try:
        unseen = []
        for who, sql, part in FINGERPRINT_PROBES:
            before = watch.fingerprint()
            (app if who == "app" else superuser).execute(sql)
            after = watch.fingerprint()
            if before[part] == after[part]:
                unseen.append(f"{sql!r} left {part!r} unchanged")
        assert not unseen, "\n".join(unseen)
    finally:
        superuser.execute("ALTER SYSTEM RESET log_min_duration_statement")
        superuser.execute("REVOKE EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) FROM app_owner")
        superuser.execute("DROP ROLE IF EXISTS pgw_corpus_probe")
        superuser.close()
        app.close()
        watch.close()
