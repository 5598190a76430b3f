"""Approvals for the harness: a pgwarden whose policy holds DDL for people,
and `pgwarden approvals ...` run as root or as another unix user.

The agent's identity matches the loopback source of explicit TCP clients
(no kernel uid, so root may decide its requests); a second identity matches
unix-socket clients by uid, for the rule that nobody decides a request of
their own uid.
"""

import json
import os
import subprocess
import time

from harness import Pgwarden, binary_path, client_env
from harness.system import RunAs

AGENT = "agent"
LOCAL = "local-agent"


def approval_config(pw, timeout="20s", min_approvals=None, approvers=None, notify=None, extra_policy=None):
    """The policy the approval tests share: select/insert run, DDL and
    TRUNCATE wait for people, DELETE is refused."""
    policy = {"allow": ["select", "insert", "transaction", "set"], "approve": ["ddl", "truncate"],
              "deny": ["delete"]}
    policy.update(extra_policy or {})
    pw.config["default"] = "deny"
    pw.config["identities"] = [
        {"name": AGENT, "match": {"source": ["127.0.0.0/8"]}},
        {"name": LOCAL, "match": {"uid": [os.getuid()]}},
    ]
    pw.config["policies"] = [dict(identity=AGENT, **policy), dict(identity=LOCAL, **policy)]
    approval = {"timeout": timeout}
    if notify:
        approval["notify"] = notify
    rules = dict(approvers or {})
    if min_approvals:
        rules["min_approvals"] = min_approvals
    if rules:
        approval["approvers"] = rules
    pw.config["approval"] = approval
    return pw


def cli(pw, *args, as_user=None, check=True, timeout=20):
    """`pgwarden ARGS --admin-socket <pw's>`; as_user: a RunAs (or None: root)."""
    argv = [binary_path(), *args, "--admin-socket", pw.config["admin_socket"]]
    if as_user is not None:
        argv = as_user.argv(argv)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def pending(pw, as_user=None):
    r = cli(pw, "approvals", "list", "-j", as_user=as_user)
    return [a for a in json.loads(r.stdout)["approvals"] if a["state"] == "pending"]


def wait_for_request(pw, count=1, timeout=10.0, sql_part=None):
    """The pending requests once there are `count` of them (matching sql_part)."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found = [a for a in pending(pw) if sql_part is None or sql_part in a["sql"]]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} pending request(s), saw {found}\n{pw.log_tail(30)}")


def wait_no_request(pw, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pending(pw):
            return
        time.sleep(0.05)
    raise AssertionError(f"requests still pending: {pending(pw)}")


def start_psql(pw, sql, dbname, unix=False, extra_args=()):
    """psql -c SQL through pgwarden, in the background (it waits for people)."""
    argv = ["psql", "-X", "-v", "ON_ERROR_STOP=1", *pw.psql_args(dbname=dbname, unix=unix), *extra_args, "-c", sql]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env(),
                            stdin=subprocess.DEVNULL)


def finish(proc, timeout=20):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def make_table(cluster, name, dbname):
    """A one-row table `name` in dbname, made anew (directly, not through pgwarden)."""
    cluster.execute_app(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name}(id int); INSERT INTO {name} VALUES (1)",
                        dbname=dbname)


def table_exists(cluster, name, dbname):
    """Checked directly: whether a held or refused statement left it alone."""
    return cluster.execute_app("SELECT to_regclass(%s) IS NOT NULL", (name,), dbname=dbname)[0][0]


def second_approver():
    """The unprivileged test user, as a second approver on a shared admin
    socket (admin_socket_group is its primary group)."""
    return RunAs()
