"""`pgwarden policy explain` shows what masking makes of a statement, with the
catalog loaded live: columns traced through the admin's views and SQL
function, and the statements masking refuses (exit 1)."""

import json
import subprocess

import pytest

from harness import Pgwarden, binary_path
from harness import masking


@pytest.fixture(scope="module")
def config_path(cluster, tmp_path_factory):
    masking.create_database(cluster)
    pw = Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path_factory.mktemp("explain")), strict=True))
    try:
        pw.write_config()  # explain reads the file; nothing is served
        yield pw.config_path
    finally:
        pw.close()


def explain(config_path, sql):
    argv = [binary_path(), "policy", "explain", config_path, "--identity", "agent", "--sql", sql,
            "--live", "--dbname", masking.DB, "-j"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def taints(out):
    return [c["taint"] for st in out["masking"]["statements"] for c in st["columns"]]


def test_columns_are_traced_through_views_and_functions(config_path):
    code, out = explain(config_path, "SELECT id, name, upper(email), customer_ssn(id) FROM customers")
    assert code == 0
    assert taints(out) == ["clean", "clean", "tainted", "tainted"]
    code, out = explain(config_path, "SELECT id, lower(tax_id) FROM tax_ids")
    assert code == 0
    assert taints(out) == ["clean", "tainted"]
    code, out = explain(config_path, "SELECT label FROM regions")
    assert code == 0 and taints(out) == ["clean"]
    assert out["masking"]["statements"][0]["reads_masked"] is False


@pytest.mark.parametrize("sql, refusal", [
    ("SELECT id FROM customers WHERE ssn LIKE '1%'", "filtering on masked values"),
    ("UPDATE customers SET notes = ssn", "update customers of masked values"),
    ("COPY customers TO STDOUT (FORMAT binary)", "binary COPY of masked values"),
])
def test_refusals_exit_1_and_say_why(config_path, sql, refusal):
    code, out = explain(config_path, sql)
    assert code == 1
    assert out["decision"] == "allow"  # the policy itself allows it ...
    assert refusal in out["masking"]["refused"]  # ... masking does not
