"""Statements held for approval, end to end with real clients.

A DROP from the agent waits in pgwarden (nothing reaches PostgreSQL) until
people decide with `pgwarden approvals`: approved, it runs and the client
reads its normal result; denied or timed out, the client reads 42501 naming
the request and the table is still there; canceled or disconnected, the
request is withdrawn and nothing runs. The database is checked after each.
"""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from harness import client_env, jdbc, rawpg
from harness import pgbench
from harness import extended_wire as ew
from approvals import helpers
from approvals.helpers import (AGENT, approval_config, cli, finish, pending, second_approver, start_psql,
                               wait_for_request, wait_no_request)

DB = "pgw_approvals"
HERE = Path(__file__).resolve().parent


def make_table(cluster, name):
    helpers.make_table(cluster, name, DB)


def table_exists(cluster, name):
    return helpers.table_exists(cluster, name, DB)


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    yield cluster
    cluster.drop_database(DB)




@pytest.fixture
def held(make_pgwarden, db):
    """A started pgwarden with the approval policy (20 s timeout)."""
    pw = approval_config(make_pgwarden(start=False))
    return pw.start()


def test_approved_drop_runs_and_the_client_gets_its_result(held, db):
    make_table(db, "t_approve")
    proc = start_psql(held, "DROP TABLE t_approve", DB)
    [req] = wait_for_request(held)
    assert req["sql"] == "DROP TABLE t_approve"
    assert req["identity"]["name"] == AGENT and req["classes"] == ["ddl", "drop"] and req["rule"].startswith("approve")
    assert req["upstream"] == "main" and req["database"] == DB and req["min_approvals"] == 1
    # Held: nothing reached the server, the client still waits.
    time.sleep(0.3)
    assert proc.poll() is None
    assert table_exists(db, "t_approve")
    r = cli(held, "approvals", "approve", req["id"])
    assert "approved" in r.stdout
    code, out, err = finish(proc)
    assert code == 0, err
    assert out.strip() == "DROP TABLE"
    assert not table_exists(db, "t_approve")
    assert not pending(held)
    assert f"approval {req['id']}: approved by root via admin socket" in held.log_text()


def test_denied_drop_reads_42501_with_the_reason(held, db):
    make_table(db, "t_deny")
    proc = start_psql(held, "DROP TABLE t_deny", DB)
    [req] = wait_for_request(held)
    cli(held, "approvals", "deny", req["id"], "--reason", "not during business hours")
    code, out, err = finish(proc)
    assert code != 0
    assert f"pgwarden: approval {req['id']} denied by root: not during business hours" in err
    assert table_exists(db, "t_deny")
    # The session goes on: a psycopg client in the same shape keeps working.
    with held.connect(dbname=DB, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM t_deny").fetchone()[0] == 1


def test_timeout_refuses_with_the_request_id(make_pgwarden, db):
    pw = approval_config(make_pgwarden(start=False), timeout="1s").start()
    make_table(db, "t_timeout")
    proc = start_psql(pw, "DROP TABLE t_timeout", DB)
    [req] = wait_for_request(pw)
    code, out, err = finish(proc)
    assert code != 0
    assert f"pgwarden: approval {req['id']} timed out after 1s without a decision" in err
    assert table_exists(db, "t_timeout")
    assert not pending(pw)


def test_unknown_id_and_double_decision_are_refused(held, db):
    r = cli(held, "approvals", "approve", "nosuch-1", check=False)
    assert r.returncode == 1 and "no approval request nosuch-1" in r.stderr
    make_table(db, "t_twice")
    proc = start_psql(held, "DROP TABLE t_twice", DB)
    [req] = wait_for_request(held)
    cli(held, "approvals", "deny", req["id"], "--reason", "no")
    finish(proc)
    r = cli(held, "approvals", "approve", req["id"], check=False)
    assert r.returncode == 1 and "is no longer pending: denied by root" in r.stderr


# ---- drivers -------------------------------------------------------------------------

def test_psycopg_waits_and_gets_its_result(held, db):
    make_table(db, "t_psycopg")
    result = {}

    def run():
        with held.connect(dbname=DB, autocommit=True) as conn:
            cur = conn.execute("DROP TABLE t_psycopg")
            result["status"] = cur.statusmessage
            result["after"] = conn.execute("SELECT 1").fetchone()[0]

    t = threading.Thread(target=run)
    t.start()
    [req] = wait_for_request(held)
    assert table_exists(db, "t_psycopg")
    cli(held, "approvals", "approve", req["id"])
    t.join(20)
    assert result == {"status": "DROP TABLE", "after": 1}
    assert not table_exists(db, "t_psycopg")


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_jdbc_waits_and_gets_its_result(held, db, decision):
    make_table(db, "t_jdbc")
    with jdbc.compiled(HERE / "approvals" / "ApprovalJdbc.java") as cp:
        proc = subprocess.Popen(["java", "-cp", cp, "ApprovalJdbc", held.host, str(held.port), DB, "DROP TABLE t_jdbc"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        [req] = wait_for_request(held, timeout=60)
        if decision == "approve":
            cli(held, "approvals", "approve", req["id"])
        else:
            cli(held, "approvals", "deny", req["id"], "--reason", "ask the DBA")
        out, err = proc.communicate(timeout=60)
    lines = out.splitlines()
    assert lines[0] == "connected", out + err
    if decision == "approve":
        assert lines[1] == "ok\t0", out + err
        assert not table_exists(db, "t_jdbc")
    else:
        assert lines[1].startswith("error\t42501\t"), out + err
        assert f"approval {req['id']} denied by root: ask the DBA" in lines[1]
        assert table_exists(db, "t_jdbc")


# ---- who decides ---------------------------------------------------------------------

@pytest.fixture
def shared_socket(make_pgwarden, db):
    """Two approvers: root, and the unprivileged test user over the admin
    socket shared with its group; a request needs both."""
    approver = second_approver()
    pw = approval_config(make_pgwarden(start=False), min_approvals=2,
                         approvers={"unix_users": [approver.name]})
    grp = __import__("grp").getgrgid(approver.gid).gr_name
    pw.config["admin_socket_group"] = grp
    os.chmod(pw.dir, 0o711)  # the approver reaches the socket inside the run dir
    pw.start()
    return pw, approver


def test_two_approvers_are_needed_and_nobody_approves_twice(shared_socket, db):
    pw, approver = shared_socket
    make_table(db, "t_two")
    proc = start_psql(pw, "DROP TABLE t_two", DB)
    [req] = wait_for_request(pw)
    r = cli(pw, "approvals", "approve", req["id"])
    assert "1 of 2" in r.stdout and "waits for another approver" in r.stdout
    r = cli(pw, "approvals", "approve", req["id"], check=False)
    assert r.returncode == 1 and "root has already approved" in r.stderr
    time.sleep(0.3)
    assert proc.poll() is None and table_exists(db, "t_two")
    [still] = pending(pw)
    assert still["approvals"] == ["root"]
    cli(pw, "approvals", "approve", req["id"], as_user=approver)
    code, out, err = finish(proc)
    assert (code, out.strip()) == (0, "DROP TABLE"), err
    assert not table_exists(db, "t_two")
    log = pw.log_text()
    assert f"approval {req['id']}: approved by root via admin socket (1 of 2)" in log
    assert f"approval {req['id']}: approved by {approver.name} via admin socket (2 of 2)" in log


def test_one_denial_ends_a_request_that_needs_two(shared_socket, db):
    pw, approver = shared_socket
    make_table(db, "t_two_deny")
    proc = start_psql(pw, "DROP TABLE t_two_deny", DB)
    [req] = wait_for_request(pw)
    cli(pw, "approvals", "approve", req["id"])
    cli(pw, "approvals", "deny", req["id"], "--reason", "second opinion: no", as_user=approver)
    code, out, err = finish(proc)
    assert code != 0 and f"denied by {approver.name}: second opinion: no" in err
    assert table_exists(db, "t_two_deny")


def test_nobody_decides_a_request_of_their_own_uid(shared_socket, db):
    """The client comes over the unix socket as root (identity by uid):
    root may not decide it; the other approver may (min_approvals 2 needs a
    third person, so here the denial is what the second approver can do)."""
    pw, approver = shared_socket
    make_table(db, "t_own")
    proc = start_psql(pw, "DROP TABLE t_own", DB, unix=True)
    [req] = wait_for_request(pw)
    assert req["identity"]["uid"] == os.getuid()
    for verb in (["approve", req["id"]], ["deny", req["id"], "--reason", "x"]):
        r = cli(pw, "approvals", *verb, check=False)
        assert r.returncode == 1 and "may not decide a request of their own identity (uid 0)" in r.stderr, r.stderr
    assert pending(pw)
    cli(pw, "approvals", "deny", req["id"], "--reason", "not yours to run", as_user=approver)
    code, out, err = finish(proc)
    assert code != 0 and "not yours to run" in err
    assert table_exists(db, "t_own")


def test_a_user_who_is_no_approver_is_refused(held, db):
    """The test user is no approver here, and the admin socket is root's."""
    make_table(db, "t_stranger")
    proc = start_psql(held, "DROP TABLE t_stranger", DB)
    [req] = wait_for_request(held)
    stranger = second_approver()
    r = cli(held, "approvals", "approve", req["id"], as_user=stranger, check=False)
    assert r.returncode == 1 and ("Permission denied" in r.stderr or "cannot reach" in r.stderr.lower()), r.stderr
    cli(held, "approvals", "deny", req["id"], "--reason", "cleanup")
    finish(proc)


# ---- standing grants -------------------------------------------------------------------

def test_approve_for_lets_the_same_shape_run_without_a_new_request(held, db):
    make_table(db, "t_for")
    proc = start_psql(held, "TRUNCATE t_for", DB)
    [req] = wait_for_request(held)
    cli(held, "approvals", "approve", req["id"], "--for", "10m")
    assert finish(proc)[:2] == (0, "TRUNCATE TABLE\n")
    # The same shape again (other spacing and case): no new request.
    r = psql_now(held, "truncate   T_FOR")
    assert r.returncode == 0 and r.stdout.strip() == "TRUNCATE TABLE", r.stderr
    listing = json.loads(cli(held, "approvals", "list", "-j").stdout)
    assert not [a for a in listing["approvals"] if a["state"] == "pending"]
    [grant] = listing["grants"]
    assert grant["identity"] == AGENT and grant["approver"] == "root" and 590 <= grant["expires_in_s"] <= 600
    # Another shape still waits.
    make_table(db, "t_for_other")
    proc = start_psql(held, "DROP TABLE t_for_other", DB)
    [req2] = wait_for_request(held)
    cli(held, "approvals", "deny", req2["id"])
    finish(proc)
    assert table_exists(db, "t_for_other")


def psql_now(pw, sql):
    return subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", *pw.psql_args(dbname=DB), "-c", sql],
                          capture_output=True, text=True, env=client_env(), timeout=20)


# ---- withdrawals ---------------------------------------------------------------------

def test_cancel_while_waiting_withdraws_the_request(held, db):
    make_table(db, "t_cancel")
    conn = held.connect(dbname=DB, autocommit=True)
    errors = []

    def run():
        try:
            conn.execute("DROP TABLE t_cancel")
        except psycopg.Error as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    [req] = wait_for_request(held)
    conn.cancel()
    t.join(10)
    assert len(errors) == 1 and errors[0].sqlstate == "57014", errors
    wait_no_request(held)
    assert conn.execute("SELECT 1").fetchone()[0] == 1  # the session goes on
    conn.close()
    assert table_exists(db, "t_cancel")
    assert f"approval {req['id']}: withdrawn: the client canceled it" in held.log_text()


def test_disconnect_while_waiting_withdraws_the_request(held, db):
    make_table(db, "t_gone")
    proc = start_psql(held, "DROP TABLE t_gone", DB)
    [req] = wait_for_request(held)
    proc.kill()
    proc.wait()
    wait_no_request(held)
    time.sleep(0.2)
    assert table_exists(db, "t_gone")
    r = cli(held, "approvals", "approve", req["id"], check=False)
    assert r.returncode == 1 and "withdrawn" in r.stderr


# ---- ordering --------------------------------------------------------------------------

@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_held_statement_inside_a_transaction(held, db, decision):
    make_table(db, "t_tx")
    db.execute_app("DROP TABLE IF EXISTS t_tx_log; CREATE TABLE t_tx_log(step text)", dbname=DB)
    result = {}

    def run():
        with held.connect(dbname=DB) as conn:
            conn.execute("INSERT INTO t_tx_log VALUES ('before')")
            try:
                conn.execute("DROP TABLE t_tx")
                result["drop"] = "ok"
                conn.execute("INSERT INTO t_tx_log VALUES ('after')")
                conn.commit()
            except psycopg.Error as e:
                result["drop"] = e.sqlstate
                try:
                    conn.execute("INSERT INTO t_tx_log VALUES ('after')")
                except psycopg.Error as e2:
                    result["next"] = e2.sqlstate
                conn.rollback()
            result["status"] = conn.info.transaction_status.name

    t = threading.Thread(target=run)
    t.start()
    [req] = wait_for_request(held)
    # The client's transaction is open on the server meanwhile.
    assert db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'idle in transaction'",
                      (DB,))[0][0] == 1
    if decision == "approve":
        cli(held, "approvals", "approve", req["id"])
    else:
        cli(held, "approvals", "deny", req["id"], "--reason", "no")
    t.join(20)
    log = [r[0] for r in db.execute_app("SELECT step FROM t_tx_log ORDER BY step", dbname=DB)]
    if decision == "approve":
        assert result == {"drop": "ok", "status": "IDLE"}
        assert log == ["after", "before"] and not table_exists(db, "t_tx")
    else:
        # As a server error would: the transaction is aborted.
        assert result == {"drop": "42501", "next": "25P02", "status": "IDLE"}
        assert log == [] and table_exists(db, "t_tx")


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_held_statement_in_the_middle_of_a_pipeline(held, db, decision):
    """INSERT, DROP (held), SELECT and Sync sent at once: the responses come
    in the order PostgreSQL gives them, the SELECT's after the DROP's."""
    make_table(db, "t_pipe")
    with rawpg.Session(held.host, held.port, database=DB, timeout=30) as s:
        s.send(b"".join([
            ew.parse("", "INSERT INTO t_pipe VALUES (2)"), ew.bind("", ""), ew.execute(""),
            ew.parse("", "DROP TABLE t_pipe"), ew.bind("", ""), ew.execute(""),
            ew.parse("", "SELECT 42"), ew.bind("", ""), ew.execute(""),
            ew.SYNC]))
        [req] = wait_for_request(held)
        if decision == "approve":
            cli(held, "approvals", "approve", req["id"])
        else:
            cli(held, "approvals", "deny", req["id"], "--reason", "no")
        received = []
        while True:
            kind, payload = s.read_message()
            received.append((kind, payload))
            if kind == b"Z":
                break
    kinds = b"".join(k for k, _ in received)
    tags = [p.rstrip(b"\0").decode() for k, p in received if k == b"C"]
    if decision == "approve":
        assert kinds == b"12C12C12DCZ", kinds
        assert tags == ["INSERT 0 1", "DROP TABLE", "SELECT 1"]
        assert ew.data_rows(received) == [[b"42"]]
        assert not table_exists(db, "t_pipe")
    else:
        # The Parse ran (nothing runs at Parse); the Bind waited and its
        # error ends the pipeline up to Sync, the whole transaction with it.
        assert kinds == b"12C1EZ", kinds
        err = ew.errors(received)[0]
        assert err["C"] == "42501" and f"approval {req['id']} denied" in err["M"]
        assert table_exists(db, "t_pipe")
        assert db.execute_app("SELECT count(*) FROM t_pipe", dbname=DB)[0][0] == 1


# ---- the daemon ----------------------------------------------------------------------

def test_reload_keeps_waiting_requests(held, db):
    make_table(db, "t_reload")
    proc = start_psql(held, "DROP TABLE t_reload", DB)
    [req] = wait_for_request(held)
    held.reload()
    time.sleep(0.5)
    assert [a["id"] for a in pending(held)] == [req["id"]]
    cli(held, "approvals", "approve", req["id"])
    assert finish(proc)[:2] == (0, "DROP TABLE\n")


def test_shutdown_answers_waiting_clients_and_runs_nothing(make_pgwarden, db):
    pw = approval_config(make_pgwarden(start=False)).start()
    make_table(db, "t_shutdown")
    proc = start_psql(pw, "DROP TABLE t_shutdown", DB)
    [req] = wait_for_request(pw)
    pw.stop()
    code, out, err = finish(proc)
    assert code != 0
    assert f"approval {req['id']} was not decided (pgwarden is shutting down); the statement did not run" in err
    assert table_exists(db, "t_shutdown")


# ---- other sessions are not slowed ----------------------------------------------------

def test_other_sessions_run_at_their_normal_rate_while_one_waits(make_pgwarden, db):
    """pgbench -S on other connections, without and then with a client
    waiting for approval, in the same run: the waiting client costs the
    loop threads nothing (its messages sit in its session), so the rates
    match within this machine's noise. A slow sample while the client
    waits is measured again (up to three, the best counts): a cost of the
    waiting client would be in every one, a burst of other work on this
    2-core machine is in one."""
    pw = approval_config(make_pgwarden(start=False), timeout="120s",
                         extra_policy={"allow": ["select", "insert", "update", "transaction", "set", "ddl",
                                                 "copy_from", "admin", "truncate"],
                                       "approve": ["drop"]}).start()
    init = pgbench.run(db.host, db.port, db.app_user, DB, ["-i", "-s", "1", "-q"], env=db.app_env())
    assert init.returncode == 0, init.stderr
    args = ["-S", "-c", "4", "-j", "2", "-T", "4", "-n"]

    def rate():
        r = pgbench.run(pw.host, pw.port, "alice", DB, args)
        assert r.returncode == 0, r.stderr
        summary = pgbench.parse_summary(r.stdout)
        assert summary["failed"] == 0
        return summary["tps"]

    rate()  # warm: catalog, caches
    before = rate()
    make_table(db, "t_waiting")
    proc = start_psql(pw, "DROP TABLE t_waiting", DB)
    [req] = wait_for_request(pw)
    during = [rate()]
    while during[-1] < 0.8 * before and len(during) < 3:
        during.append(rate())
    assert proc.poll() is None and pending(pw)  # it waited all along
    cli(pw, "approvals", "deny", req["id"], "--reason", "load test")
    finish(proc)
    after = rate()
    samples = ", ".join(f"{d:.0f}" for d in during)
    print(f"pgbench -S tps: before {before:.0f}, while a client waits {samples}, after {after:.0f}; "
          f"ratio {max(during) / max(before, after):.2f}")
    assert max(during) >= 0.8 * max(before, after)


def test_each_execution_of_a_prepared_statement_waits_with_its_parameters(make_pgwarden, db):
    """Extended protocol: the Bind waits, so people see the parameters they
    approve, and a named statement prepared once asks again at every run."""
    pw = approval_config(make_pgwarden(start=False),
                         extra_policy={"approve": ["ddl", "truncate", "update"]}).start()
    make_table(db, "t_params")
    outcomes = []

    def run():
        with pw.connect(dbname=DB, autocommit=True) as conn:
            for old, new in ((1, 10), (10, 20)):
                cur = conn.execute("UPDATE t_params SET id = %s WHERE id = %s", (new, old), prepare=True)
                outcomes.append(cur.statusmessage)

    t = threading.Thread(target=run)
    t.start()
    [first] = wait_for_request(pw)
    assert first["sql"] == "UPDATE t_params SET id = $1 WHERE id = $2"
    assert first["parameters"] == ["10", "1"]
    listing = cli(pw, "approvals", "list").stdout
    assert "parameters: $1 = '10', $2 = '1'" in listing, listing
    cli(pw, "approvals", "approve", first["id"])
    [second] = wait_for_request(pw, sql_part="t_params")
    assert second["id"] != first["id"] and second["parameters"] == ["20", "10"]
    assert db.execute_app("SELECT id FROM t_params", dbname=DB) == [(10,)]
    cli(pw, "approvals", "approve", second["id"])
    t.join(20)
    assert outcomes == ["UPDATE 1", "UPDATE 1"]
    assert db.execute_app("SELECT id FROM t_params", dbname=DB) == [(20,)]
