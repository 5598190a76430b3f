"""Who the client is and how pgwarden logs in upstream.

Clients connect with any user name and no password at all; the cluster
requires SCRAM on TCP; pgwarden logs in with the configured credential and the
secret never reaches anything a client or the log can show."""

import secrets

import psycopg
import pytest

from harness import psql
from harness.rawpg import Session, StartupError, try_startup


def unix_path(pw):
    return pw.config["unix_socket"]


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_psql_without_password_runs_as_upstream_user(pgwarden, cluster, transport):
    result = psql(pgwarden.psql_args(user="someone-else", unix=transport == "unix"),
                  "-At", "-c", "SELECT current_user, session_user")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "app_owner|app_owner"
    assert result.stderr == ""
    assert cluster.app_password not in pgwarden.log_text()


def test_startup_asks_client_for_no_password(pgwarden):
    """The client is never asked to authenticate: the first answer is AuthenticationOk."""
    for host, port in ((pgwarden.host, pgwarden.port), (unix_path(pgwarden), 0)):
        kind, status = try_startup(host, port, user="nobody-in-particular")
        assert kind == "ready", status
        assert status.get("session_authorization") == "app_owner"


def test_wrong_upstream_password_is_28P01_without_secrets(make_pgwarden, cluster):
    wrong = "wrong-" + secrets.token_urlsafe(16)
    pw = make_pgwarden(password=wrong)

    kind, fields = try_startup(pw.host, pw.port, user="alice")
    assert kind == "error", fields
    assert fields["C"] == "28P01", fields
    assert fields["S"] == "FATAL", fields
    assert fields["M"].startswith("pgwarden:"), fields

    outputs = [repr(fields)]
    for unix in (False, True):
        result = psql(pw.psql_args(unix=unix), "-c", "SELECT 1")
        assert result.returncode == 2, result
        assert "pgwarden:" in result.stderr
        outputs += [result.stdout, result.stderr]
    with pytest.raises(psycopg.OperationalError) as info:
        pw.connect()
    assert "pgwarden:" in str(info.value)
    outputs.append(str(info.value))

    pw.stop()  # flushes the log
    outputs.append(pw.log_text())
    assert "28P01" in outputs[0]
    for text in outputs:
        assert wrong not in text
        assert cluster.app_password not in text


def test_log_has_connection_lines_but_no_sql_text(pgwarden):
    marker = "pgw_marker_" + secrets.token_hex(8)
    before = len(pgwarden.log_text().splitlines())
    with pgwarden.connect() as conn:
        assert conn.execute(f"SELECT '{marker}'").fetchone()[0] == marker
    pgwarden.stop()
    log = pgwarden.log_text()
    assert marker not in log, "SQL text must not be logged at the default level"
    new_lines = log.splitlines()[before:]
    # One line when the connection opens and one when it closes, naming the upstream.
    assert len(new_lines) >= 2, new_lines
    assert any("main" in line or pgwarden.address in line for line in new_lines), new_lines


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_default_deny_refuses_unknown_workload_with_28000(make_pgwarden, transport):
    pw = make_pgwarden(overrides={"default": "deny"})
    host, port = (pw.host, pw.port) if transport == "tcp" else (unix_path(pw), 0)
    kind, fields = try_startup(host, port, user="alice")
    assert kind == "error", fields
    assert (fields["S"], fields["C"]) == ("FATAL", "28000"), fields
    assert fields["M"].startswith("pgwarden:"), fields


def startup_policy(allow):
    return {"default": "deny",
            "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
            "policies": [{"identity": "agent", "allow": allow}]}


def test_startup_settings_are_judged_like_set(make_pgwarden):
    """A startup setting is a SET the client makes before its first
    statement: the identity's policy judges it as it would judge SET."""
    pw = make_pgwarden(overrides=startup_policy(["select", "set", "transaction"]))
    with pw.connect(application_name="pgw-app", options="-c search_path=hr,public -c work_mem=123MB") as conn:
        assert conn.execute("SHOW application_name").fetchone()[0] == "pgw-app"
        assert conn.execute("SHOW search_path").fetchone()[0] == "hr,public"
        assert conn.execute("SHOW work_mem").fetchone()[0] == "123MB"
    with Session(pw.host, pw.port, user="alice", statement_timeout="4321") as session:
        rows, error = session.simple_query("SHOW statement_timeout")
        assert error is None and rows[0][0] == "4321ms"
    # The role is a class of its own, as in SET ROLE.
    for params in [{"role": "postgres"}, {"session_authorization": "postgres"}, {"options": "-c role=postgres"}]:
        kind, fields = try_startup(pw.host, pw.port, user="alice", **params)
        assert kind == "error", (params, fields)
        assert (fields["S"], fields["C"]) == ("FATAL", "42501"), fields
        assert fields["M"].startswith("pgwarden: startup setting \"") and "role" in fields["M"], fields

    # Under a policy without `set`, none passes, each refused by name.
    strict = make_pgwarden(overrides=startup_policy(["select", "transaction"]))
    kind, fields = try_startup(strict.host, strict.port, user="alice", search_path="evil_schema")
    assert kind == "error" and fields["C"] == "42501", fields
    assert "search_path=evil_schema" in fields["M"], fields
    with pytest.raises(psycopg.OperationalError) as info:
        strict.connect(options="-c work_mem=123MB")
    assert "work_mem=123MB" in str(info.value)
    # What drivers send by themselves to shape results passes under any policy.
    with strict.connect(application_name="pgw-app", options="-c DateStyle=German -c extra_float_digits=2") as conn:
        assert conn.execute("SHOW DateStyle").fetchone()[0] == "German, DMY"


@pytest.mark.parametrize("value", ["database", "true"])
def test_replication_connection_refused(pgwarden, value):
    kind, fields = try_startup(pgwarden.host, pgwarden.port, user="alice", replication=value)
    assert kind == "error", fields
    assert fields["M"].startswith("pgwarden:"), fields
    assert "replication" in fields["M"].lower(), fields

    result = psql(["-d", f"host={pgwarden.host} port={pgwarden.port} user=alice dbname=app "
                         f"replication={value}"], "-c", "IDENTIFY_SYSTEM")
    assert result.returncode != 0
    assert "pgwarden:" in result.stderr and "replication" in result.stderr.lower()
