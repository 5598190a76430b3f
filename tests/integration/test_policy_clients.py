"""The read-only agent's denials as real drivers see them: psycopg,
node-postgres (npm `pg`) and pgJDBC raise their normal exception types with
SQLSTATE 42501 and pgwarden's message, for plain statements and prepared
ones, and the connection goes on working (inside a transaction, the denial
aborts it exactly as a server error would).

psycopg comes over the unix socket (identity by uid) and over TCP; node and
JDBC over TCP to pgwarden's listen address, where an identity matches the
loopback source. Both identities get policies/readonly-agent.yaml's policy.
The database shows no effect afterwards.
"""

import subprocess
from pathlib import Path

import psycopg
import pytest

from harness import client_env, jdbc, node
from policy_clients.readonly_agent import (DatabaseWatch, ReadonlyAgentPgwarden, create_corpus_database,
                                           fingerprint_diff, source_identity, stop_cleanly, uid_identity)

DB = "pgw_policy_clients"
TCP_IDENTITY = "readonly-agent-tcp"
HERE = Path(__file__).resolve().parent / "policy_clients"


def denial(verb_object, identity):
    return f"pgwarden: {verb_object} denied by policy for {identity}"


@pytest.fixture(scope="module")
def clients_db(cluster):
    create_corpus_database(cluster, DB)
    watch = DatabaseWatch(cluster, DB)
    before = watch.fingerprint()
    yield cluster
    try:
        diff = fingerprint_diff(before, watch.fingerprint())
    finally:
        watch.close()
        cluster.drop_database(DB)
    assert not diff, "the clients' denied statements changed the database:\n" + diff


@pytest.fixture(scope="module")
def agent(clients_db):
    pw = ReadonlyAgentPgwarden(clients_db, [uid_identity(), source_identity(TCP_IDENTITY)]).start()
    try:
        yield pw
    finally:
        stop_cleanly(pw)


# ---- psycopg ----------------------------------------------------------------------

@pytest.mark.parametrize("unix, identity", [(True, "readonly-agent"), (False, TCP_IDENTITY)],
                         ids=["unix-uid", "tcp-source"])
def test_psycopg(agent, unix, identity):
    with agent.connect(unix=unix, dbname=DB, autocommit=True) as conn:
        # Simple Query (no parameters).
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute("DELETE FROM customers")
        assert info.value.sqlstate == "42501"
        assert info.value.diag.message_primary == denial("delete on public.customers", identity)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # A named prepared statement (prepare=True: Parse "_pg3_N"), twice.
        for _ in range(2):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                conn.execute("DELETE FROM orders WHERE id = %s", [1], prepare=True)
            assert info.value.diag.message_primary == denial("delete on public.orders", identity)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute("SELECT amount FROM hr.salaries WHERE employee = %s", ["x"], prepare=True)
        assert info.value.diag.message_primary == denial("select on hr.salaries", identity)
        for _ in range(3):  # an allowed prepared statement is prepared once and reused
            assert conn.execute("SELECT count(*) FROM customers WHERE id <= %s", [10],
                                prepare=True).fetchone() == (10,)
        # Pipeline mode: the denial fails its statement, the rest of the
        # pipeline is skipped as after a server error, then the session goes on.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with conn.pipeline():
                first = conn.execute("SELECT 1")
                conn.execute("UPDATE customers SET name = %s WHERE id = 1", ["x"])
                conn.execute("SELECT 2")
        assert first.fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3000,)

    # psycopg's default: a transaction opened before the first statement.
    with agent.connect(unix=unix, dbname=DB) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE customers SET name = %s WHERE id = 1", ["x"])
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


# ---- node-postgres and JDBC: one protocol of steps ------------------------------------

def parse_steps(stdout):
    steps = {}
    for line in stdout.splitlines():
        name, status, sqlstate, kind, text = line.split("\t")
        steps[name] = (status, sqlstate, kind, text)
    return steps


def expect_steps(steps, expected, denied_type):
    """expected: {step: ('ok', first value) | ('deny', verb on object) | ('error', sqlstate)}."""
    problems = []
    for name, (want, arg) in expected.items():
        got = steps.get(name)
        if got is None:
            problems.append(f"{name}: did not run")
            continue
        status, sqlstate, kind, text = got
        if want == "ok" and (status, text) != ("ok", arg):
            problems.append(f"{name}: {got}, expected ok {arg!r}")
        elif want == "deny" and (status, sqlstate, kind) != ("error", "42501", denied_type):
            problems.append(f"{name}: {got}, expected {denied_type} 42501")
        elif want == "deny" and denial(arg, TCP_IDENTITY) not in text:
            problems.append(f"{name}: message {text!r} lacks {denial(arg, TCP_IDENTITY)!r}")
        elif want == "error" and (status, sqlstate) != ("error", arg):
            problems.append(f"{name}: {got}, expected error {arg}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def node_pg():
    return node.node_pg_modules()


def test_node_postgres(agent, node_pg):
    result = subprocess.run(["node", str(HERE / "denials.js"), agent.host, str(agent.port), DB],
                            env=client_env({"NODE_PATH": node_pg}), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    expect_steps(parse_steps(result.stdout), {
        "simple_delete": ("deny", "delete on public.customers"),
        "after_simple": ("ok", "1"),
        "unnamed_delete": ("deny", "delete on public.orders"),
        "named_delete": ("deny", "delete on public.orders"),
        "named_delete_again": ("deny", "delete on public.orders"),
        "named_hr_read": ("deny", "select on hr.salaries"),
        "named_select": ("ok", "10"),
        "begin": ("ok", ""),
        "in_tx_update": ("deny", "update on public.customers"),
        "in_tx_next": ("error", "25P02"),
        "rollback": ("ok", ""),
        "after_all": ("ok", "3000"),
    }, denied_type="DatabaseError")


@pytest.fixture(scope="module")
def jdbc_classpath():
    with jdbc.compiled(HERE / "DenialsJdbc.java") as classpath:
        yield classpath


def test_jdbc(agent, jdbc_classpath):
    result = subprocess.run(["java", "-cp", jdbc_classpath, "DenialsJdbc", agent.host,
                             str(agent.port), DB],
                            env=client_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    expect_steps(parse_steps(result.stdout), {
        "statement_delete": ("deny", "delete on public.customers"),
        "after_statement": ("ok", "1"),
        "prepared_delete": ("deny", "delete on public.orders"),
        "prepared_hr_read": ("deny", "select on hr.salaries"),
        "prepared_select": ("ok", "10"),
        "in_tx_update": ("deny", "update on public.customers"),
        "in_tx_next": ("error", "25P02"),
        "rollback": ("ok", ""),
        "after_all": ("ok", "3000"),
    }, denied_type="org.postgresql.util.PSQLException")
