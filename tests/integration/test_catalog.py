"""The catalog loader against a real PostgreSQL, through `pgwarden policy
explain --live`: the snapshot it loads (schemas, relations, views and their
base tables, rules, the login user's own search_path) changes decisions the
way the database would resolve the names, and its failures are one clear
line without the password.

Runs in a database of its own (the sample schema without rows), so the
views and role settings it creates touch no other test.
"""

import json
import os
import subprocess
import tempfile

import pytest

from harness import binary_path
from harness.cluster import write_secret_file
from harness import sample_data, yamlgen

DB = "pgw_catalog_test"

ADMIN_SQL = """
CREATE VIEW public.payroll AS SELECT employee, amount FROM hr.salaries;
CREATE VIEW public.payroll_summary AS SELECT count(*) AS n FROM public.payroll;
CREATE VIEW public.order_totals AS
  SELECT customer_id, sum(amount) AS total FROM public.orders GROUP BY customer_id;
CREATE TABLE public.audit_log (note text);
CREATE RULE audit_to_hr AS ON INSERT TO public.audit_log
  DO INSTEAD INSERT INTO hr.salaries VALUES (NEW.note, 0);
"""

RULES = {
    "allow": ["select", "insert", "set"],
    "deny": ["delete"],
    "tables": {"deny": ["hr.*"]},
}


@pytest.fixture(scope="module")
def catalog_db(cluster):
    cluster.drop_database(DB)
    cluster.create_database(DB)
    cluster.execute_app(sample_data.SCHEMA_SQL, dbname=DB)
    # The views and the rule come from an administrator, not the agent.
    cluster.execute(ADMIN_SQL, dbname=DB)
    yield cluster
    cluster.drop_database(DB)


def write_config(dirname, cluster, password=None, port=None):
    pw_file = os.path.join(dirname, "upstream.pw")
    write_secret_file(pw_file, password if password is not None else cluster.app_password)
    config = {
        "listen": "127.0.0.1:15999",  # never bound: explain does not serve
        "unix_socket": "",
        "admin_socket": os.path.join(dirname, "admin.sock"),
        "upstreams": [{
            "name": "app",
            "match": [f"127.0.0.1:{cluster.port}"],
            "address": f"{cluster.host}:{port or cluster.port}",
            "user": cluster.app_user,
            "password_file": pw_file,
            "tls": "disable",
            "database": DB,
        }],
        "identities": [{"name": "agent", "match": {"uid": [1000]}}],
        "policies": [dict(identity="agent", upstream="app", **RULES)],
    }
    path = os.path.join(dirname, "pgwarden.yaml")
    with open(path, "w") as f:
        f.write(yamlgen.dump(config) + "\n")
    return path


def explain(config, sql, live=True):
    argv = [binary_path(), "policy", "explain", config, "--identity", "agent", "--sql", sql, "-j"]
    if live:
        argv.append("--live")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return result


def decision(config, sql, live=True):
    result = explain(config, sql, live)
    assert result.returncode in (0, 1), result.stderr
    out = json.loads(result.stdout)
    assert (result.returncode == 0) == (out["decision"] == "allow")
    return out


@pytest.fixture
def config(catalog_db):
    with tempfile.TemporaryDirectory(prefix="pgw-catalog-") as d:
        yield write_config(d, catalog_db)


def relations(out):
    return [r for st in out["statements"] for r in st["relations"]]


def test_live_catalog_resolves_names(config):
    out = decision(config, "SELECT * FROM customers JOIN orders ON orders.customer_id = customers.id")
    assert out["decision"] == "allow"
    assert out["catalog"].startswith("live from upstream app")
    found = {(r["schema"], r["name"]): r for r in relations(out) if r["exists"]}
    assert found[("public", "customers")]["kind"] == "table"
    assert found[("public", "orders")]["kind"] == "table"
    # "$user" (app_owner) holds nothing yet, and could: it counts, as a name that does not exist.
    assert any(r["schema"] == "app_owner" and not r["exists"] for r in relations(out))


def test_view_over_denied_table_is_denied_only_with_the_catalog(config):
    out = decision(config, "SELECT * FROM payroll_summary")
    assert out["decision"] == "deny"
    assert out["message"] == ("pgwarden: select on public.payroll_summary (reads hr.salaries) "
                              "denied by policy for agent")
    via = {(r["schema"], r["name"]): r.get("via_view") for r in relations(out)}
    assert via[("public", "payroll")] == "public.payroll_summary"
    assert via[("hr", "salaries")] == "public.payroll_summary"
    # Without the catalog the view is only a name: the reason to load one.
    assert decision(config, "SELECT * FROM payroll_summary", live=False)["decision"] == "allow"
    assert decision(config, "SELECT * FROM order_totals")["decision"] == "allow"


def test_rule_on_a_table_counts(config):
    out = decision(config, "INSERT INTO audit_log VALUES ('x')")
    assert out["decision"] == "deny"
    assert "public.audit_log (its rules use hr.salaries)" in out["message"]


def test_search_path_of_the_login_user(catalog_db, config):
    assert decision(config, "SELECT * FROM salaries")["decision"] == "allow"
    catalog_db.execute(f"ALTER ROLE app_owner IN DATABASE {DB} SET search_path = hr, public")
    try:
        out = decision(config, "SELECT * FROM salaries")
        assert out["decision"] == "deny"
        assert "hr, public" in out["session"]
        assert out["message"] == "pgwarden: select on hr.salaries denied by policy for agent"
        # Shadowing: hr could gain a customers table before public's is found.
        assert decision(config, "SELECT * FROM customers")["decision"] == "deny"
    finally:
        catalog_db.execute(f"ALTER ROLE app_owner IN DATABASE {DB} RESET search_path")


def test_objects_created_after_the_snapshot(catalog_db, config):
    # A table that does not exist yet in hr is denied by name; a new public
    # table shows up in the next snapshot.
    out = decision(config, "SELECT * FROM hr.created_later")
    assert out["decision"] == "deny"
    catalog_db.execute_app("CREATE TABLE public.fresh (x int)", dbname=DB)
    out = decision(config, "SELECT * FROM fresh")
    assert out["decision"] == "allow"
    assert any(r["name"] == "fresh" and r["exists"] and r["kind"] == "table" for r in relations(out))


def test_connection_failures_are_one_clear_line(catalog_db):
    with tempfile.TemporaryDirectory(prefix="pgw-catalog-") as d:
        secret = "wrong-Password-7f3c"
        bad = write_config(d, catalog_db, password=secret)
        result = explain(bad, "SELECT 1")
        assert result.returncode == 1
        assert result.stdout == ""
        line = result.stderr.strip()
        assert "\n" not in line
        assert line.startswith(f"pgwarden: catalog of app_owner@{catalog_db.host}:{catalog_db.port}/{DB}: "
                               "cannot connect:")
        assert 'password authentication failed for user "app_owner"' in line
        assert secret not in result.stderr

    with tempfile.TemporaryDirectory(prefix="pgw-catalog-") as d:
        from harness.system import free_port
        closed = write_config(d, catalog_db, port=free_port("127.0.0.1"))
        result = explain(closed, "SELECT 1")
        assert result.returncode == 1
        assert "cannot connect" in result.stderr and "Connection refused" in result.stderr
