"""Messages that arrive outside the request/response rhythm, and errors,
pass through pgwarden exactly as they come from the server.
Every check compares pgwarden with a direct connection."""

import re
import secrets
import time

import psycopg
import pytest

from harness import psql

SCRIPT = r"""
\set VERBOSITY verbose
LISTEN pgw_chan;
NOTIFY pgw_chan, 'hello from myself';
SELECT pg_notify('pgw_chan', 'via function ' || 42);
SELECT 'after notify' AS step;
DO $$ BEGIN RAISE NOTICE 'notice % here', 42; RAISE WARNING 'a warning'; RAISE INFO 'info'; END $$;
DO $$ BEGIN RAISE NOTICE 'with detail' USING DETAIL = 'the detail', HINT = 'a hint', ERRCODE = '01000'; END $$;
SET application_name = 'pgw_app';
SHOW application_name;
SET client_min_messages = debug1;
CREATE TEMP TABLE t_notice (id int PRIMARY KEY);
RESET client_min_messages;
BEGIN;
INSERT INTO t_notice VALUES (1);
SELECT 1/0;
SELECT 'not executed';
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM t_notice;
BEGIN;
SAVEPOINT s1;
INSERT INTO t_notice VALUES (1), (1);
ROLLBACK TO SAVEPOINT s1;
INSERT INTO t_notice VALUES (2);
COMMIT;
SELECT * FROM t_notice;
SELECT 'usable' AS after_errors;
UNLISTEN *;
"""


def normalise(text):
    return re.sub(r"server process with PID \d+", "server process with PID N", text)


def test_psql_script_output_identical_to_direct(pgwarden, cluster):
    via = psql(pgwarden.psql_args(), "-a", input=SCRIPT)
    direct = psql(cluster.psql_args_app(), "-a", input=SCRIPT, env=cluster.app_env())
    assert direct.returncode == 0 and via.returncode == 0, via.stderr
    assert "Asynchronous notification \"pgw_chan\" with payload \"hello from myself\"" in direct.stdout
    assert "NOTICE:  00000: notice 42 here" in direct.stderr
    assert normalise(via.stdout) == normalise(direct.stdout)
    assert normalise(via.stderr) == normalise(direct.stderr)


def _notifications(conn_listen, conn_notify, channel):
    got = []
    conn_listen.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
    conn_listen.execute(f"LISTEN {channel}")
    for i in range(3):
        conn_notify.execute("SELECT pg_notify(%s, %s)", [channel, f"payload {i} ✓"])
    conn_notify.execute(f"NOTIFY {channel}")
    deadline = time.monotonic() + 5
    while len(got) < 4 and time.monotonic() < deadline:
        conn_listen.execute("SELECT 1")  # notifications are delivered with any response
        time.sleep(0.05)
    return got


@pytest.mark.parametrize("listener_via,notifier_via", [("pgwarden", "pgwarden"),
                                                       ("pgwarden", "direct"),
                                                       ("direct", "pgwarden")])
def test_listen_notify_between_sessions(pgwarden, cluster, listener_via, notifier_via):
    def open_conn(via):
        return (pgwarden.connect(autocommit=True) if via == "pgwarden"
                else cluster.connect_app(autocommit=True))
    channel = "pgw_" + secrets.token_hex(4)
    with open_conn(listener_via) as listener, open_conn(notifier_via) as notifier:
        got = _notifications(listener, notifier, channel)
    assert got == [(channel, "payload 0 ✓"), (channel, "payload 1 ✓"),
                   (channel, "payload 2 ✓"), (channel, "")]


def _notices(conn, sql):
    seen = []
    conn.add_notice_handler(lambda d: seen.append(
        (d.severity, d.sqlstate, d.message_primary, d.message_detail, d.message_hint, d.context)))
    conn.execute(sql)
    return seen


NOTICE_SQL = """DO $$ BEGIN
  RAISE NOTICE 'plain notice';
  RAISE WARNING 'warning with detail' USING DETAIL = 'd', HINT = 'h';
  RAISE NOTICE 'custom code' USING ERRCODE = 'P0042';
END $$"""


def test_notices_identical_to_direct(pgwarden, cluster):
    with pgwarden.connect(autocommit=True) as via, cluster.connect_app(autocommit=True) as direct:
        got, want = _notices(via, NOTICE_SQL), _notices(direct, NOTICE_SQL)
    assert len(want) == 3
    assert got == want


def test_notices_in_the_middle_of_copy_out(pgwarden, cluster):
    """A NoticeResponse may arrive between CopyData messages."""
    setup = """CREATE FUNCTION pg_temp.noisy(i int) RETURNS int LANGUAGE plpgsql AS
               $$ BEGIN RAISE NOTICE 'row %', i; RETURN i * 10; END $$"""
    sql = "COPY (SELECT i, pg_temp.noisy(i) FROM generate_series(1, 200) i) TO STDOUT"

    def run(conn):
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute(setup)
        data = b""
        with conn.cursor() as cur, cur.copy(sql) as copy:
            for chunk in copy:
                data += bytes(chunk)
        return notices, data

    with pgwarden.connect(autocommit=True) as via, cluster.connect_app(autocommit=True) as direct:
        got, want = run(via), run(direct)
    assert len(want[0]) == 200 and want[1].count(b"\n") == 200
    assert got == want


PARAMS = ["application_name", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
          "integer_datetimes", "is_superuser", "server_encoding", "server_version",
          "session_authorization", "standard_conforming_strings"]


def test_parameter_status_changes(pgwarden, cluster):
    with pgwarden.connect(autocommit=True) as via, cluster.connect_app(autocommit=True) as direct:
        for conn in (via, direct):
            conn.execute("SET application_name = 'pgw-changed'")
            conn.execute("SET TimeZone = 'Asia/Kolkata'")
            conn.execute("SET DateStyle = 'SQL, DMY'")
            conn.execute("SET IntervalStyle = 'iso_8601'")
        got = {p: via.info.parameter_status(p) for p in PARAMS}
        want = {p: direct.info.parameter_status(p) for p in PARAMS}
        assert want["application_name"] == "pgw-changed"
        assert want["TimeZone"] == "Asia/Kolkata"
        assert got == want
        # A SET rolled back with its transaction is reported back too.
        for conn in (via, direct):
            with conn.transaction(force_rollback=True):
                conn.execute("SET LOCAL application_name = 'inside-tx'")
        assert via.info.parameter_status("application_name") == \
            direct.info.parameter_status("application_name") == "pgw-changed"


def _error_fields(conn, sql):
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        d = exc.diag
        return (type(exc).__name__, d.severity, d.sqlstate, d.message_primary, d.message_detail,
                d.message_hint, d.context, d.statement_position, d.schema_name, d.table_name,
                d.constraint_name)
    raise AssertionError(f"{sql!r} did not fail")


def test_errors_inside_transactions_identical_to_direct(pgwarden, cluster):
    table = "pgw_err_" + secrets.token_hex(4)
    cluster.execute_app(f"CREATE TABLE {table} (id int PRIMARY KEY, v text NOT NULL)")
    try:
        results = []
        for conn in (pgwarden.connect(), cluster.connect_app()):
            with conn:
                run = [_error_fields(conn, "SELECT 1/0"),
                       _error_fields(conn, "SELECT 1"),  # 25P02: transaction is aborted
                       ]
                conn.rollback()
                conn.execute(f"INSERT INTO {table} VALUES (1, 'a')")
                run.append(_error_fields(conn, f"INSERT INTO {table} VALUES (1, 'b')"))
                conn.rollback()
                run.append(_error_fields(conn, f"INSERT INTO {table} VALUES (2, NULL)"))
                conn.rollback()
                run.append(_error_fields(conn, "SELECT no_such_column FROM pg_class"))
                conn.rollback()
                run.append(conn.execute(f"SELECT count(*) FROM {table}").fetchone())
                conn.commit()
                results.append(run)
        got, want = results
        assert want[0][2] == "22012" and want[1][2] == "25P02" and want[2][2] == "23505"
        assert got == want
    finally:
        cluster.execute_app(f"DROP TABLE {table}")
