"""A statement that changes the role or the search_path where its text does
not show cannot leave the session somewhere the policy does not allow.

`SELECT set_config(n, 'x', false) FROM (VALUES ('role')) v(n)` computes the
setting's name; a function an admin wrote may run `SET ROLE` or `SET
search_path` inside. pgwarden lets them run (pg_dump needs the first), asks
the server right behind them what the role, session authorization and
search_path are, and holds the client's next messages until it knows:
under policies/readonly-agent.yaml (role denied) a role change ends the
session with 42501, and PostgreSQL's log shows no statement of that session
after it but pgwarden's question. A search_path changed by a function is
tracked, so `salaries` then means hr.salaries and is refused.

The server logs every statement (log_statement = all) of a cluster of this
module's own, with its backend's pid, so the log says what ran.
"""

import re
import time

import psycopg
import pytest

from harness import PgCluster, psql
from harness.extended_wire import FLUSH, SYNC, bind, execute, parse
from harness.rawpg import Session, parse_fields
from policy_clients.readonly_agent import ReadonlyAgentPgwarden, stop_cleanly, uid_identity

DB = "app"
PROBE = "pg_catalog.current_setting('role')"

ADMIN_SQL = """
CREATE ROLE other_role;
GRANT other_role TO app_owner;
CREATE FUNCTION public.become_other() RETURNS text LANGUAGE plpgsql AS
  $$BEGIN SET ROLE other_role; RETURN current_user; END$$;
CREATE FUNCTION public.into_hr() RETURNS text LANGUAGE plpgsql AS
  $$BEGIN SET search_path = hr; RETURN current_setting('search_path'); END$$;
CREATE FUNCTION public.harmless() RETURNS int LANGUAGE sql AS 'SELECT 42';
GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO app_owner;
"""


@pytest.fixture(scope="module")
def logged_cluster():
    with PgCluster(settings={"log_statement": "'all'"}) as pg:
        for statement in ADMIN_SQL.strip().split(";\n"):
            pg.execute(statement, dbname=DB)
        yield pg


@pytest.fixture(scope="module")
def agent(logged_cluster):
    pw = ReadonlyAgentPgwarden(logged_cluster, [uid_identity()]).start()
    try:
        yield pw
    finally:
        stop_cleanly(pw)


def backend_log(cluster, pid):
    """The statements the backend `pid` logged, in order."""
    time.sleep(0.3)  # the logging collector is not involved, but give the write a moment
    out = []
    for line in cluster.log_text().splitlines():
        if f"[{pid}]" in line and "statement: " in line:
            out.append(line.split("statement: ", 1)[1])
        elif f"[{pid}]" in line and re.search(r"execute [^:]*: ", line):
            out.append(re.split(r"execute [^:]*: ", line, maxsplit=1)[1])
    return out


def after(statements, marker):
    """What the backend ran after the last statement containing `marker`."""
    index = max(i for i, s in enumerate(statements) if marker in s)
    return statements[index + 1:]


@pytest.mark.parametrize("sql", [
    "SELECT set_config(n, 'other_role', false) FROM (VALUES ('role')) v(n)",
    "SELECT public.become_other()",
], ids=["computed-set_config", "function-set-role"])
def test_simple_query_role_change_ends_the_session(agent, logged_cluster, sql):
    conn = agent.connect(unix=True, dbname=DB, autocommit=True)
    notices = []
    # The FATAL arrives after the statement's ReadyForQuery: libpq hands an
    # error that comes while it is idle to the notice handler.
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    conn.execute(sql)  # no parameters: a simple Query; its own result reaches the client
    with pytest.raises(psycopg.OperationalError) as info:
        conn.execute("SELECT 'after the change', current_user")
    # Read with the next command, or (when it came first) as a notice.
    told = [str(info.value)] + [n or "" for n in notices]
    assert any("pgwarden: the session was ended" in t and "role" in t for t in told), told
    conn.close()
    ran = backend_log(logged_cluster, pid)
    assert any(sql in s for s in ran), ran
    assert after(ran, sql) in ([], [s for s in after(ran, sql) if PROBE in s]), ran
    assert not any("after the change" in s for s in ran), ran


def test_role_change_in_a_pipeline_runs_nothing_after_it(agent, logged_cluster):
    """Extended protocol, pipelined: the statements after the function call
    are in pgwarden's hands when the answer comes, and never reach the server."""
    with Session(agent.config["unix_socket"], 0, user="alice", database=DB) as s:
        rows, error = s.simple_query("SELECT pg_backend_pid()")
        pid = int(rows[0][0])
        s.send(b"".join([parse("", "SELECT public.become_other()"), bind("", ""), execute(""),
                         parse("", "SELECT 'after the change', current_user"), bind("", ""), execute(""),
                         SYNC]))
        fields = None
        for _ in range(50):
            try:
                kind, payload = s.read_message()
            except (ConnectionError, OSError, EOFError):
                break
            if kind == b"E":
                fields = parse_fields(payload)
                break
        assert fields is not None and fields["C"] == "42501", fields
        assert fields["M"].startswith("pgwarden: the session was ended"), fields
    ran = backend_log(logged_cluster, pid)
    assert any("become_other" in s for s in ran), ran
    assert not any("after the change" in s for s in ran), ran


def test_psycopg_extended_role_change_ends_the_session(agent, logged_cluster):
    with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with pytest.raises(psycopg.OperationalError) as info:
            conn.execute("SELECT public.become_other(), %s::int", [1])
            conn.execute("SELECT 'after the change', current_user")
    assert "pgwarden: the session was ended" in str(info.value), info.value
    ran = backend_log(logged_cluster, pid)
    assert any("become_other" in s for s in ran), ran
    assert not any("after the change" in s for s in ran), ran


def test_psql_role_change_ends_the_session(agent, logged_cluster):
    result = psql(agent.psql_args(unix=True, dbname=DB) + ["-X", "-At", "-c", "SELECT pg_backend_pid()",
                                                           "-c", "SELECT public.become_other()",
                                                           "-c", "SELECT 'after the change'"])
    assert "pgwarden: the session was ended" in result.stderr, result.stderr
    pid = int(result.stdout.split()[0])
    ran = backend_log(logged_cluster, pid)
    assert any("become_other" in s for s in ran), ran
    assert not any("after the change" in s for s in ran), ran


def test_harmless_unseen_changes_keep_the_session(agent):
    """pg_dump's statement, and a function that sets nothing: the session goes
    on and reads as before (the answer settled the tracked state)."""
    with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
        conn.execute("SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings "
                     "WHERE name = 'restrict_nonsystem_relation_kind'")
        assert conn.execute("SELECT public.harmless()").fetchone() == (42,)
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] > 0
        assert conn.execute("SELECT current_user").fetchone()[0] == "app_owner"


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_function_search_path_change_is_tracked(agent, extended):
    with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
        if extended:
            conn.execute("SELECT public.into_hr(), %s::int", [1])
        else:
            conn.execute("SELECT public.into_hr()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute("SELECT * FROM salaries")
        assert "hr.salaries" in info.value.diag.message_primary
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_statement_that_may_change_settings_must_end_its_string(agent):
    with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute("SELECT public.become_other(); SELECT current_user")
        assert "last statement" in (info.value.diag.message_detail or ""), info.value.diag.message_detail
        assert conn.execute("SELECT current_user").fetchone()[0] == "app_owner"


def test_role_default_off_standard_conforming_strings_is_read_from_the_server(logged_cluster):
    """The server reports standard_conforming_strings at login; a role whose
    default turns it off must not make pgwarden read strings the other way."""
    logged_cluster.execute("CREATE TABLE public.victim (id int)", dbname=DB)
    logged_cluster.execute("INSERT INTO public.victim VALUES (1)", dbname=DB)
    logged_cluster.execute("ALTER ROLE app_owner IN DATABASE app SET standard_conforming_strings = off")
    pw = ReadonlyAgentPgwarden(logged_cluster, [uid_identity()]).start()
    try:
        with pw.connect(unix=True, dbname=DB, autocommit=True) as conn:
            assert conn.execute("SHOW standard_conforming_strings").fetchone()[0] == "off"
            with pytest.raises(psycopg.Error):
                conn.execute("SELECT '\\' -- ' ; DELETE FROM public.victim; --")
        assert logged_cluster.execute("SELECT count(*) FROM public.victim", dbname=DB) == [(1,)]
    finally:
        logged_cluster.execute("ALTER ROLE app_owner IN DATABASE app RESET standard_conforming_strings")
        stop_cleanly(pw)


def test_in_an_aborted_transaction_the_session_goes_on(agent):
    """The statement fails (25P02) and so does pgwarden's question after it:
    the aborted transaction undid whatever the statement set, the session
    goes on, and ROLLBACK ends the transaction as usual."""
    with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
        conn.execute("BEGIN")
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT public.become_other()")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT current_user").fetchone()[0] == "app_owner"


def test_in_a_transaction_block_a_role_change_ends_the_session(agent, logged_cluster):
    with agent.connect(unix=True, dbname=DB, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("BEGIN")
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT public.become_other()")
            conn.execute("SELECT 'after the change', current_user")
    ran = backend_log(logged_cluster, pid)
    assert any("become_other" in s for s in ran), ran
    assert not any("after the change" in s for s in ran), ran
