"""Errors, notices, NOTIFY payloads and ParameterStatus are scrubbed with the
policy's own rules and nothing else:

- a policy without any mask rule changes no byte of them, however much a
  message looks like PII (`value "-9223372036854775809" is out of range for
  type bigint` used to arrive starred);
- a policy whose rules name columns only (no `detect:`) leaves the side
  channels of statements that read no masked value alone, but for NOTIFY
  payloads, which meet every detector (a trigger can notify masked rows);
- an error or notice of a statement that reads masked values keeps its
  SQLSTATE, severity and the fixed wording of PostgreSQL's message format,
  and nothing the server filled in: `chr(replace(ssn, '-', '')::int)` gives
  `requested character too large for encoding: ***`.

The leak corpus (masking/leak_corpus.tsv) holds the error-raising built-ins
over masked values, each checked to leak when run directly.
"""

import re
import subprocess

import psycopg
import pytest

from harness import Pgwarden, client_env, psql
from harness import masking

PII = "card 4111 1111 1111 1111, ssn 123-45-6789, mail jane.doe@example.com"

# Statements that read no masked value, with PII-looking text in every side
# channel; run with psql -a so each statement's output follows it.
SCRIPT = f"""
\\set VERBOSITY verbose
SELECT '-9223372036854775809'::bigint;
SELECT '{PII}'::int;
SELECT chr(820335340);
SELECT txid_status(4758920475812025);
LISTEN pii;
NOTIFY pii, '{PII}';
SELECT 'after notify';
SET application_name = 'jane.doe@example.com';
SHOW application_name;
"""

PROCEDURAL = f"""
\\set VERBOSITY verbose
DO $$ BEGIN RAISE NOTICE '{PII}'; END $$;
DO $$ BEGIN RAISE WARNING '{PII}' USING DETAIL = '{PII}', HINT = '{PII}'; END $$;
DO $$ BEGIN RAISE EXCEPTION '{PII}' USING DETAIL = '{PII}'; END $$;
"""

ALL_CLASSES = ["select", "set", "procedural", "listen", "notify", "transaction"]


def normalise(text):
    return re.sub(r"server process with PID \d+", "server process with PID N", text)


def policy(mask=None, allow=ALL_CLASSES):
    p = {"identity": "agent", "allow": list(allow)}
    if mask:
        p["mask"] = mask
    return {"default": "deny", "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
            "policies": [p]}


def run_both(cluster, pw, script):
    via = psql(pw.psql_args(), "-a", input=script)
    direct = psql(cluster.psql_args_app(), "-a", input=script, env=cluster.app_env())
    return normalise(via.stdout + via.stderr), normalise(direct.stdout + direct.stderr)


def parameter_status_after_set(conninfo, value):
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"SET application_name = '{value}'")
        return conn.info.parameter_status("application_name")


def notification_payload(listen_conninfo, cluster, payload):
    with psycopg.connect(listen_conninfo, autocommit=True) as conn:
        got = []
        conn.add_notify_handler(got.append)
        conn.execute("LISTEN side_channel")
        cluster.execute(f"NOTIFY side_channel, '{payload}'", dbname="app")
        for _ in range(50):
            conn.execute("SELECT pg_sleep(0.02)")
            if got:
                break
        assert len(got) == 1
        return got[0].payload


@pytest.mark.parametrize("script", [SCRIPT, PROCEDURAL], ids=["statements", "procedural"])
def test_a_policy_without_mask_rules_changes_no_byte(cluster, make_pgwarden, script):
    pw = make_pgwarden(overrides=policy())
    via, direct = run_both(cluster, pw, script)
    assert "4111 1111 1111 1111" in direct or "9223372036854775809" in direct
    assert via == direct
    conninfo = f"host=127.0.0.1 port={pw.port} user=alice dbname=app"
    assert parameter_status_after_set(conninfo, "jane.doe@example.com") == "jane.doe@example.com"
    assert notification_payload(conninfo, cluster, PII) == PII


def test_column_rules_alone_leave_other_statements_side_channels_alone(cluster, make_pgwarden):
    """... except NOTIFY payloads: a trigger can notify a masked table's
    rows, so while column rules are in force every detector runs on them
    (test_hidden_calls.py has the trigger)."""
    pw = make_pgwarden(overrides=policy(mask=[{"column": "public.customers.ssn", "with": "redact"}]))
    via, direct = run_both(cluster, pw, SCRIPT)
    conninfo = f"host=127.0.0.1 port={pw.port} user=alice dbname=app"
    assert parameter_status_after_set(conninfo, "jane.doe@example.com") == "jane.doe@example.com"
    payload = notification_payload(conninfo, cluster, PII)
    assert payload == "card *******************, ssn ***********, mail ********************", payload
    assert via == direct.replace(f'payload "{PII}"', f'payload "{payload}"')


def test_the_policys_own_detectors_only(cluster, make_pgwarden):
    """A detect rule for emails masks emails in side channels, not cards."""
    pw = make_pgwarden(overrides=policy(mask=[{"detect": ["email"], "with": "redact"}]))
    conninfo = f"host=127.0.0.1 port={pw.port} user=alice dbname=app"
    assert notification_payload(conninfo, cluster, PII) == \
        "card 4111 1111 1111 1111, ssn 123-45-6789, mail ********************"
    assert parameter_status_after_set(conninfo, "jane.doe@example.com") == "*" * 20
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
            conn.execute(f"SELECT '{PII}'::int")
    assert e.value.diag.message_primary == \
        'invalid input syntax for type integer: "card 4111 1111 1111 1111, ssn 123-45-6789, mail ********************"'


@pytest.fixture(scope="module")
def masked_db(cluster):
    return masking.create_database(cluster)


@pytest.fixture(scope="module")
def masked(cluster, masked_db, tmp_path_factory):
    with Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path_factory.mktemp("side")))) as pw:
        yield pw


def error_of(port, sql):
    with psycopg.connect(f"host=127.0.0.1 port={port} user=alice dbname={masking.DB}", autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as e:
            conn.execute(sql)
    d = e.value.diag
    return d.sqlstate, d.severity_nonlocalized, d.message_primary, d.message_detail, d.message_hint


@pytest.mark.parametrize("sql,sqlstate,message", [
    ("SELECT chr(replace(ssn, '-', '')::int) FROM customers WHERE id = 1", "54000",
     "requested character too large for encoding: ***"),
    ("SELECT make_date(substr(ssn, 1, 3)::int, substr(ssn, 5, 2)::int, substr(ssn, 8)::int) "
     "FROM customers WHERE id = 8", "22008", "date field value out of range: ***-***-***"),
    ("SELECT txid_status(replace(ssn, '-', '')::bigint) FROM customers WHERE id = 1", "22023",
     "transaction ID *** is in the future"),
    ("SELECT get_byte('\\x00'::bytea, replace(ssn, '-', '')::int) FROM customers WHERE id = 1", "2202E",
     "index *** out of valid range, 0..***"),
    ("SELECT ssn::int FROM customers WHERE id = 1", "22P02", 'invalid input syntax for type ***: "***"'),
    ("SELECT customer_ssn(1)::int", "22P02", 'invalid input syntax for type ***: "***"'),
])
def test_errors_of_masked_statements_keep_only_fixed_wording(cluster, masked, sql, sqlstate, message):
    got_state, severity, got_message, detail, _ = error_of(masked.port, sql)
    assert (got_state, severity, got_message) == (sqlstate, "ERROR", message)
    assert "withheld" in (detail or "")
    # Directly, the same error prints the value.
    with psycopg.connect(**cluster.app_conninfo(masking.DB)) as conn:
        with pytest.raises(psycopg.Error) as e:
            conn.execute(sql)
    assert e.value.diag.message_primary != message and e.value.diag.sqlstate == sqlstate


def test_warnings_of_masked_statements_keep_only_fixed_wording(cluster, masked_db, make_pgwarden, tmp_path):
    """pg_terminate_backend of a number derived from an SSN would warn with
    the number in it (a policy may allow it by name): masking refuses it
    before it runs, since its argument is read back in the warning; the
    warning's wording rule is the second line of defence (side_channels_test)."""
    overrides = masking.config_overrides(str(tmp_path))
    overrides["policies"][0]["allow"].append("function:pg_terminate_backend")
    pw = make_pgwarden(overrides=overrides)
    notices = []
    with psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={masking.DB}",
                         autocommit=True) as conn:
        conn.add_notice_handler(lambda n: notices.append((n.severity_nonlocalized, n.sqlstate, n.message_primary)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_terminate_backend(replace(ssn, '-', '')::int) FROM customers WHERE id = 1")
        # A warning of a statement that only reads masked values keeps its
        # fixed wording: the PID comes from a clean column here, and the
        # statement reads an SSN beside it.
        conn.execute("SELECT pg_terminate_backend(2000000000 + id), ssn FROM customers WHERE id = 1")
    assert notices == [("WARNING", "01000", "PID *** is not a PostgreSQL backend process")]


def test_psql_reports_withheld_errors_like_any_other(masked):
    r = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(masked.port), "-U", "alice", "-d", masking.DB,
                        "-v", "VERBOSITY=verbose", "-c",
                        "SELECT chr(replace(ssn, '-', '')::int) FROM customers WHERE id = 1"],
                       capture_output=True, text=True, env=client_env(), timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith("ERROR:  54000: requested character too large for encoding: ***\n"), r.stderr
