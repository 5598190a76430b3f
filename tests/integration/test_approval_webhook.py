"""approval.notify with a real receiver: a python http.server on a free
loopback port, taking pgwarden's POSTs.

Each request and each outcome arrives as JSON with the SQL, the identity
and a chat `text`; a receiver that is down at first, or that answers 500 for
a while, still gets every payload, in order, once it takes them; and
`pgwarden status -j` counts what was delivered.
"""

import json
import time

import pytest

from harness.operator_http import WebhookReceiver
from harness.system import free_port, port_accepts
from approvals import helpers
from approvals.helpers import AGENT, approval_config, cli, finish, start_psql, wait_for_request

DB = "pgw_webhook"


def make_table(cluster, name):
    helpers.make_table(cluster, name, DB)


def table_exists(cluster, name):
    return helpers.table_exists(cluster, name, DB)


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    yield cluster
    cluster.drop_database(DB)




def webhooks(pw):
    return json.loads(cli(pw, "status", "-j").stdout)["webhooks"]


def wait_for_webhook(pw, predicate, what, timeout=15.0):
    """The one webhook's status entry once predicate(entry) holds."""
    deadline = time.monotonic() + timeout
    while True:
        hooks = webhooks(pw)
        if len(hooks) == 1 and predicate(hooks[0]):
            return hooks[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook status never showed {what}: {hooks}")
        time.sleep(0.1)


def check_requested(payload, req, sql):
    assert payload["event"] == "requested"
    a = payload["approval"]
    assert a["id"] == req["id"] and a["state"] == "pending"
    assert a["sql"] == sql
    assert a["identity"]["name"] == AGENT
    assert a["database"] == DB and a["upstream"] == "main"
    assert a["rule"].startswith("approve") and a["classes"] == ["ddl", "drop"]
    text = payload["text"]
    assert text.startswith(f"pgwarden {req['id']}: {AGENT}")
    assert sql in text and f"pgwarden approvals approve {req['id']}" in text, text


def check_decided(payload, req, state, by="root"):
    assert payload["event"] == "decided"
    a = payload["approval"]
    assert a["id"] == req["id"] and a["state"] == state and a["decided_by"] == by, a
    assert f"pgwarden {req['id']}: {state} by {by}" in payload["text"], payload["text"]


def test_requested_and_decided_payloads_arrive(make_pgwarden, db):
    with WebhookReceiver() as hook:
        pw = approval_config(make_pgwarden(start=False), notify=hook.url).start()
        make_table(db, "t_hook")
        proc = start_psql(pw, "DROP TABLE t_hook", DB)
        [req] = wait_for_request(pw)
        [requested] = hook.wait_for(1)
        check_requested(requested, req, "DROP TABLE t_hook")
        # Posted as JSON to the URL as configured, path included.
        status, path, content_type, body = hook.attempts[0]
        assert (status, path, content_type) == (200, "/hooks/pgwarden", "application/json")
        assert proc.poll() is None  # the notification does not decide anything
        cli(pw, "approvals", "approve", req["id"])
        code, out, err = finish(proc)
        assert (code, out.strip()) == (0, "DROP TABLE"), err
        requested_again, decided = hook.wait_for(2)
        check_decided(decided, req, "approved")
        assert not table_exists(db, "t_hook")
        # A denial's reason reaches the receiver too.
        make_table(db, "t_hook_deny")
        proc = start_psql(pw, "DROP TABLE t_hook_deny", DB)
        [req2] = wait_for_request(pw)
        cli(pw, "approvals", "deny", req2["id"], "--reason", "not on a Friday")
        finish(proc)
        payloads = hook.wait_for(4)
        check_requested(payloads[2], req2, "DROP TABLE t_hook_deny")
        check_decided(payloads[3], req2, "denied")
        assert payloads[3]["approval"]["reason"] == "not on a Friday"
        assert "(not on a Friday)" in payloads[3]["text"]
        entry = wait_for_webhook(pw, lambda h: h["delivered"] == 4, "4 delivered")
        assert entry["queued"] == 0 and entry["failed_attempts"] == 0 and entry["dropped"] == 0
        assert len(hook.attempts) == 4


def test_a_receiver_that_is_down_at_first_gets_everything_in_order(make_pgwarden, db):
    port = free_port()  # nothing listens here until the receiver starts
    hook = WebhookReceiver(port=port)
    assert not port_accepts("127.0.0.1", port)
    pw = approval_config(make_pgwarden(start=False), notify=hook.url).start()
    make_table(db, "t_hook_down")
    proc = start_psql(pw, "DROP TABLE t_hook_down", DB)
    [req] = wait_for_request(pw)
    cli(pw, "approvals", "approve", req["id"])
    code, out, err = finish(proc)
    assert (code, out.strip()) == (0, "DROP TABLE"), err  # the receiver being down holds nothing up
    entry = wait_for_webhook(pw, lambda h: h["failed_attempts"] >= 1 and h["queued"] == 2,
                             "2 queued after a failed attempt")
    assert entry["delivered"] == 0 and entry["dropped"] == 0
    assert entry["url"] == f"http://127.0.0.1:{port}/…"  # the path (often a secret) is not shown
    assert "Connection refused" in entry["last_error"] or "connect" in entry["last_error"].lower(), entry
    assert "hooks/pgwarden" not in pw.log_text()
    with hook:
        # The backoff grows while the receiver is down: allow a few rounds.
        requested, decided = hook.wait_for(2, timeout=45)
        check_requested(requested, req, "DROP TABLE t_hook_down")
        check_decided(decided, req, "approved")
        entry = wait_for_webhook(pw, lambda h: h["delivered"] == 2, "2 delivered")
        assert entry["queued"] == 0 and entry["dropped"] == 0 and entry["failed_attempts"] >= 1
        assert entry["last_success_age_s"] >= 0
        assert [p["event"] for p in hook.payloads] == ["requested", "decided"]


def test_a_receiver_answering_500_for_a_while_still_gets_everything(make_pgwarden, db):
    with WebhookReceiver(fail_first=3, fail_status=500) as hook:
        pw = approval_config(make_pgwarden(start=False), notify=hook.url).start()
        make_table(db, "t_hook_500")
        proc = start_psql(pw, "DROP TABLE t_hook_500", DB)
        [req] = wait_for_request(pw)
        cli(pw, "approvals", "deny", req["id"], "--reason", "retry check")
        code, out, err = finish(proc)
        assert code != 0 and f"approval {req['id']} denied by root: retry check" in err
        requested, decided = hook.wait_for(2, timeout=30)
        check_requested(requested, req, "DROP TABLE t_hook_500")
        check_decided(decided, req, "denied")
        # Three 500s for the first payload, each answered with the same body,
        # then one 200 each.
        assert [a[0] for a in hook.attempts] == [500, 500, 500, 200, 200]
        assert len({a[3] for a in hook.attempts[:4]}) == 1
        entry = wait_for_webhook(pw, lambda h: h["delivered"] == 2, "2 delivered")
        assert entry["failed_attempts"] == 3 and entry["queued"] == 0 and entry["dropped"] == 0
        assert entry["last_error"] == "answered HTTP 500"
        assert table_exists(db, "t_hook_500")
