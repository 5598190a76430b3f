"""One approval queue for several pgwarden nodes (`approval.store`).

Two daemons, A and B, keep their approval requests in a database of the
session cluster (`pgw_control`, owned by app_owner, reached over TCP with
its password, as a team's own database would be). A client held by A is
listed, approved or denied through B's admin socket; A learns the outcome
through LISTEN/NOTIFY and answers its client at once. With the store's
database unreachable, nothing can be approved: a held statement times out
denied and does not run. A database whose schema is newer than this
pgwarden is refused at startup.
"""

import json
import os
import subprocess
import threading
import time

import pytest

from harness import PgCluster, client_env, conninfo
from harness.cluster import write_secret_file
from harness.pgwarden import binary_path
from harness.system import free_port

CONTROL_DB = "pgw_control"
IDENTITY = "agent"


def write_dsn(path, host, port, dbname, user, password):
    write_secret_file(path, conninfo(host=host, port=port, dbname=dbname, user=user, password=password))
    assert os.stat(path).st_mode & 0o777 == 0o600
    return path


def shared_overrides(dsn_file, timeout):
    return {
        "default": "deny",
        "identities": [{"name": IDENTITY, "match": {"source": ["127.0.0.0/8"]}}],
        "policies": [{"identity": IDENTITY, "upstream": "main", "allow": ["select", "insert"], "approve": ["ddl"]}],
        "approval": {"store": {"dsn_file": dsn_file}, "timeout": timeout},
    }


def approvals(pw, *args, check=True):
    """`pgwarden approvals ARGS --admin-socket` of daemon pw."""
    result = subprocess.run([binary_path(), "approvals", *args, "--admin-socket", pw.config["admin_socket"]],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def listed(pw, everything=False):
    result = approvals(pw, "list", "-j", *(["--all"] if everything else []))
    return json.loads(result.stdout)


def wait_listed(pw, sql, timeout=10.0):
    """The pending request for `sql` as pw lists it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in listed(pw)["approvals"] if r["sql"] == sql and r["state"] == "pending"]
        if found:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, f"{sql!r} never listed by {pw.config['admin_socket']}"
        time.sleep(0.05)


def held_client(pw, sql):
    """psql through pw running `sql`; it waits while the statement is held."""
    return subprocess.Popen(["psql", "-X", *pw.psql_args(), "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                             "-c", sql],
                            env=client_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def table_exists(cluster, name):
    return cluster.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{name}"], dbname=cluster.app_db)[0][0]


def stored_row(cluster, request_id, dbname=CONTROL_DB):
    rows = cluster.execute("SELECT node, state, approved_by, decided_by, reason, grant_for_ms, request->>'sql' "
                           "FROM pgwarden.approvals WHERE id = %s", [request_id], dbname=dbname)
    return rows[0] if rows else None


def start_together(*daemons):
    """Start daemons at the same time (both create the schema if missing)."""
    errors = []

    def start(pw):
        try:
            pw.start()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(pw,)) for pw in daemons]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return daemons


@pytest.fixture(scope="module")
def control_dsn(cluster, tmp_path_factory):
    cluster.drop_database(CONTROL_DB)
    cluster.create_database(CONTROL_DB)  # owned by app_owner: pgwarden creates the schema
    path = str(tmp_path_factory.mktemp("approval-store") / "control.dsn")
    write_dsn(path, cluster.host, cluster.port, CONTROL_DB, cluster.app_user, cluster.app_password)
    yield path
    cluster.drop_database(CONTROL_DB)


@pytest.fixture
def nodes(make_pgwarden, control_dsn):
    a = make_pgwarden(start=False, overrides=shared_overrides(control_dsn, "30s"))
    b = make_pgwarden(start=False, overrides=shared_overrides(control_dsn, "30s"))
    return start_together(a, b)


def test_a_request_held_on_one_node_is_listed_and_approved_on_another(nodes, cluster):
    a, b = nodes
    cluster.execute_app("DROP TABLE IF EXISTS shared_x; CREATE TABLE shared_x (i int)")
    sql = "DROP TABLE shared_x"
    client = held_client(a, sql)
    try:
        request = wait_listed(b, sql)
        assert request["identity"]["name"] == IDENTITY
        assert request["rule"] == "approve: ddl", request
        # The same request, as A holds it: the id is A's.
        assert [r["id"] for r in listed(a)["approvals"]] == [request["id"]]
        assert f"approval {request['id']}: requested" in a.log_text()
        assert client.poll() is None  # still waiting
        assert table_exists(cluster, "shared_x")

        started = time.monotonic()
        decided = approvals(b, "approve", request["id"])
        out, err = client.communicate(timeout=10)
        released_after = time.monotonic() - started
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, err
    assert request["id"] in decided.stdout and "approved" in decided.stdout
    assert out.strip() == "DROP TABLE"
    assert released_after < 1.0, f"the client was released {released_after:.2f}s after the approval"
    assert not table_exists(cluster, "shared_x")
    node, state, approved_by, decided_by, _, _, stored_sql = stored_row(cluster, request["id"])
    assert (state, approved_by, decided_by, stored_sql) == ("approved", ["root"], "root", sql)
    assert node == request["node"]
    # A delivered it, and counts it; the request is no longer pending anywhere.
    assert f"approval {request['id']}: approved by root in the shared store" in a.log_text()
    assert listed(a)["approvals"] == [] and listed(b)["approvals"] == []
    done = [r for r in listed(b, everything=True)["approvals"] if r["id"] == request["id"]]
    assert done and done[0]["state"] == "approved" and done[0]["decided_by"] == "root"
    # Deciding it again, on either node, is refused as decided.
    again = approvals(a, "approve", request["id"], check=False)
    assert again.returncode != 0 and "no longer pending: approved by root" in again.stderr, again.stderr


def test_a_standing_grant_made_on_another_node_serves_the_owning_node(nodes, cluster):
    a, b = nodes
    cluster.execute_app("DROP TABLE IF EXISTS shared_grant")
    sql = "CREATE TABLE IF NOT EXISTS shared_grant (i int)"
    client = held_client(a, sql)
    try:
        request = wait_listed(b, sql)
        approvals(b, "approve", request["id"], "--for", "10m")
        out, err = client.communicate(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0 and out.strip() == "CREATE TABLE", err
    assert stored_row(cluster, request["id"])[5] == 600_000
    grants = listed(a)["grants"]
    assert [(g["identity"], g["approver"]) for g in grants] == [(IDENTITY, "root")], grants
    # The same statement again on A runs under the grant, with no new request.
    again = held_client(a, sql)
    out, err = again.communicate(timeout=10)
    assert again.returncode == 0 and out.strip() == "CREATE TABLE", err
    assert listed(b)["approvals"] == []
    cluster.execute_app("DROP TABLE shared_grant")


def test_a_denial_on_another_node_reaches_the_client(nodes, cluster):
    a, b = nodes
    cluster.execute_app("DROP TABLE IF EXISTS shared_y; CREATE TABLE shared_y (i int)")
    sql = "DROP TABLE shared_y"
    client = held_client(a, sql)
    try:
        request = wait_listed(b, sql)
        decided = approvals(b, "deny", request["id"], "--reason", "not during business hours")
        assert "denied" in decided.stdout
        out, err = client.communicate(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode != 0, out
    assert "42501" in err and f"approval {request['id']} denied by root: not during business hours" in err, err
    assert table_exists(cluster, "shared_y")
    assert stored_row(cluster, request["id"])[1:5] == ("denied", [], "root", "not during business hours")
    cluster.execute_app("DROP TABLE shared_y")


def test_a_client_that_gives_up_withdraws_the_shared_request(nodes, cluster):
    a, b = nodes
    sql = "CREATE TABLE shared_never (i int)"
    client = held_client(a, sql)
    request = wait_listed(b, sql)
    client.kill()
    client.wait()
    deadline = time.monotonic() + 10
    while stored_row(cluster, request["id"])[1] == "pending":
        assert time.monotonic() < deadline, "the withdrawal never reached the store"
        time.sleep(0.05)
    assert stored_row(cluster, request["id"])[1] == "withdrawn"
    assert listed(b)["approvals"] == []
    late = approvals(b, "approve", request["id"], check=False)
    assert late.returncode != 0 and "no longer pending: withdrawn" in late.stderr, late.stderr
    assert not table_exists(cluster, "shared_never")


def test_with_the_store_unreachable_a_held_statement_times_out_denied(make_pgwarden, cluster, tmp_path):
    # Nothing listens on this port: the database is down for the whole test.
    dsn = write_dsn(str(tmp_path / "down.dsn"), "127.0.0.1", free_port(), CONTROL_DB, cluster.app_user,
                    cluster.app_password)
    c = make_pgwarden(start=False, overrides=shared_overrides(dsn, "3s"))
    d = make_pgwarden(start=False, overrides=shared_overrides(dsn, "3s"))
    start_together(c, d)
    cluster.execute_app("DROP TABLE IF EXISTS shared_z; CREATE TABLE shared_z (i int)")
    sql = "DROP TABLE shared_z"
    client = held_client(c, sql)
    try:
        # C still holds the client, and shows it; nobody can approve it.
        deadline = time.monotonic() + 10
        while not (own := listed(c)["approvals"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        request_id = own[0]["id"]
        refused = approvals(c, "approve", request_id, check=False)
        assert refused.returncode != 0 and "cannot reach the approval store" in refused.stderr, refused.stderr
        refused = approvals(d, "approve", request_id, check=False)
        assert refused.returncode != 0 and "cannot reach the approval store" in refused.stderr, refused.stderr
        assert listed(d)["approvals"] == []  # D holds nothing and cannot see C's
        out, err = client.communicate(timeout=15)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode != 0, out
    assert "42501" in err and f"approval {request_id} timed out" in err, err
    assert table_exists(cluster, "shared_z")
    cluster.execute_app("DROP TABLE shared_z")
    # One warning about the outage, not one per reconnect attempt.
    assert c.log_text().count("approval store: cannot reach its database") == 1, c.log_tail()
    assert "approval store: lost its database" not in c.log_text(), c.log_tail()


def test_the_store_going_away_and_coming_back(make_pgwarden, cluster, tmp_path):
    """A store of its own, stopped and started under the daemons: held
    statements time out while it is down; after it is back, decisions work
    again without restarting pgwarden."""
    with PgCluster(sample_data=False) as store:
        store.create_database(CONTROL_DB)
        dsn = write_dsn(str(tmp_path / "own.dsn"), store.host, store.port, CONTROL_DB, store.app_user,
                        store.app_password)
        a = make_pgwarden(start=False, overrides=shared_overrides(dsn, "3s"))
        b = make_pgwarden(start=False, overrides=shared_overrides(dsn, "3s"))
        start_together(a, b)
        cluster.execute_app("DROP TABLE IF EXISTS shared_w; CREATE TABLE shared_w (i int)")
        sql = "DROP TABLE shared_w"

        store.stop()
        client = held_client(a, sql)
        out, err = client.communicate(timeout=15)
        assert client.returncode != 0 and "42501" in err and "timed out" in err, (out, err)
        assert table_exists(cluster, "shared_w")

        store.start()
        # Both nodes reconnect within their backoff (at most 30 s apart).
        deadline = time.monotonic() + 40
        while not all("approval store: its database answers again" in pw.log_text() for pw in (a, b)):
            assert time.monotonic() < deadline, a.log_tail() + b.log_tail()
            time.sleep(0.1)
        client = held_client(a, sql)
        try:
            request = wait_listed(b, sql, timeout=40)
            approvals(b, "approve", request["id"])
            out, err = client.communicate(timeout=10)
        finally:
            if client.poll() is None:
                client.kill()
        assert client.returncode == 0 and out.strip() == "DROP TABLE", err
        assert not table_exists(cluster, "shared_w")
        log = a.log_text()
        assert log.count("approval store: lost its database") == 1, a.log_tail()
        assert "approval store: its database answers again" in log, a.log_tail()


def test_a_store_with_a_newer_schema_is_refused_at_startup(make_pgwarden, cluster, tmp_path):
    db = "pgw_control_future"
    cluster.drop_database(db)
    cluster.create_database(db)
    try:
        cluster.execute_app("CREATE SCHEMA pgwarden; CREATE TABLE pgwarden.schema_version (version int); "
                            "INSERT INTO pgwarden.schema_version VALUES (99)", dbname=db)
        dsn = write_dsn(str(tmp_path / "future.dsn"), cluster.host, cluster.port, db, cluster.app_user,
                        cluster.app_password)
        pw = make_pgwarden(start=False, overrides=shared_overrides(dsn, "30s"))
        pw.write_config()
        run = subprocess.run([binary_path(), "run", "--config", pw.config_path], capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL)
        assert run.returncode == 1, (run.stdout, run.stderr)
        assert "pgwarden schema is version 99, newer than this pgwarden knows (2)" in run.stderr, run.stderr
        assert cluster.app_password not in run.stdout + run.stderr
    finally:
        cluster.drop_database(db)


def test_a_node_with_only_the_documented_grants_uses_a_store_another_made(make_pgwarden, cluster, tmp_path):
    """docs/operations.md's least privileges: once the schema exists, a role
    with CONNECT, USAGE on the schema, SELECT on schema_version and SELECT,
    INSERT, UPDATE on approvals runs a node."""
    db, role, password = "pgw_control_grants", "pgw_store_node", "pw-store-node-7f3a"
    cluster.drop_database(db)
    cluster.execute(f"DROP ROLE IF EXISTS {role}")
    cluster.create_database(db)
    try:
        owner_dsn = write_dsn(str(tmp_path / "owner.dsn"), cluster.host, cluster.port, db, cluster.app_user,
                              cluster.app_password)
        a = make_pgwarden(overrides=shared_overrides(owner_dsn, "30s"))  # creates the schema
        cluster.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        cluster.execute(f"GRANT CONNECT ON DATABASE {db} TO {role}")
        cluster.execute_app(f"GRANT USAGE ON SCHEMA pgwarden TO {role}; "
                            f"GRANT SELECT ON pgwarden.schema_version TO {role}; "
                            f"GRANT SELECT, INSERT, UPDATE ON pgwarden.approvals TO {role}", dbname=db)
        node_dsn = write_dsn(str(tmp_path / "node.dsn"), cluster.host, cluster.port, db, role, password)
        b = make_pgwarden(overrides=shared_overrides(node_dsn, "30s"))
        assert "cannot reach" not in b.log_text(), b.log_tail()
        sql = "CREATE TABLE shared_grants_probe (i int)"
        cluster.execute_app("DROP TABLE IF EXISTS shared_grants_probe")
        client = held_client(b, sql)
        try:
            request = wait_listed(a, sql)
            approvals(a, "approve", request["id"])
            out, err = client.communicate(timeout=10)
        finally:
            if client.poll() is None:
                client.kill()
        assert client.returncode == 0 and out.strip() == "CREATE TABLE", err
        cluster.execute_app("DROP TABLE shared_grants_probe")
        a.stop()
        b.stop()
    finally:
        cluster.drop_database(db)
        cluster.execute(f"DROP ROLE IF EXISTS {role}")
