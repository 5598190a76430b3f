"""The quickstart session: what a new user sees pgwarden do.

Transparent mode when the machine allows eBPF (root, BTF, cgroup v2): a
client in a demo cgroup connects to the database's own address with no
password and no config change, and pgwarden serves it. Elsewhere it falls
back to explicit mode (the unix socket) and says why.

Uses the integration-test harness (tests/integration/harness) for the
throwaway PostgreSQL, the demo cgroups and the daemon, so the demo and the
tests run the same way, and everything is removed at the end."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from harness import PgCluster, Pgwarden, client_env, psql  # noqa: E402
from harness import intercept  # noqa: E402
from harness.system import RunAs  # noqa: E402

DB_HOST = "127.0.0.3"  # stands for the database host a workload knows


MASK_RULES = [
    {"column": "public.customers.ssn", "with": "partial(last=4)"},
    {"column": "public.customers.card_number", "with": "partial(last=4)"},
    {"column": "public.customers.email", "with": "email"},
    {"detect": ["credit_card", "us_ssn", "email", "phone"], "with": "redact"},
]
MASKED_QUERIES = [
    "SELECT name, ssn, card_number, email FROM customers ORDER BY id LIMIT 3",
    "SELECT upper(ssn), row_to_json(c)->>'email' AS email FROM customers c ORDER BY id LIMIT 2",
    "SELECT notes FROM customers WHERE notes LIKE '%SSN%' ORDER BY id LIMIT 2",
]


def say(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def show(cmd, result):
    print(f"$ {cmd}")
    out = (result.stdout or "") + (result.stderr or "")
    print(out.rstrip())


def pgwarden_status(pw):
    r = subprocess.run([intercept.binary_path(), "status", "--admin-socket", pw.config["admin_socket"]],
                       capture_output=True, text=True)
    show("pgwarden status", r)


def approvals(pw, *args):
    argv = [intercept.binary_path(), "approvals", *args, "--admin-socket", pw.config["admin_socket"]]
    return subprocess.run(argv, capture_output=True, text=True)


def drop_waits_for_approval(pg, pw, run_psql, shown_cmd):
    """A DROP is held in pgwarden until a person approves it from the CLI."""
    say("a DROP needs a person's approval: the client waits, nothing reaches the database meanwhile")
    pg.execute_app("DROP TABLE IF EXISTS old_reports; CREATE TABLE old_reports(id int)", dbname=pg.app_db)
    sql = "DROP TABLE old_reports"
    result = {}
    client = threading.Thread(target=lambda: result.update(r=run_psql(sql)))
    client.start()
    pending = []
    for _ in range(200):
        pending = json.loads(approvals(pw, "list", "-j").stdout or "{}").get("approvals", [])
        if pending:
            break
        time.sleep(0.05)
    print(f"$ {shown_cmd(sql)} &     # waits")
    show("pgwarden approvals list", approvals(pw, "list"))
    exists = pg.execute("SELECT to_regclass('old_reports') IS NOT NULL", dbname=pg.app_db)[0][0]
    print(f"(checked directly: old_reports still exists: {exists})")
    if not pending:
        print("no request appeared; see pgwarden's log")
        client.join(30)
        return
    request_id = pending[0]["id"]
    show(f"pgwarden approvals approve {request_id}", approvals(pw, "approve", request_id))
    client.join(30)
    show(f"(the waiting client) {shown_cmd(sql)}", result["r"])
    exists = pg.execute("SELECT to_regclass('old_reports') IS NOT NULL", dbname=pg.app_db)[0][0]
    print(f"(checked directly: old_reports still exists: {exists})")


def recording_config(directory):
    """recording: every session on disk, signed with a fresh Ed25519 key."""
    key = os.path.join(directory, "recording.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True, capture_output=True)
    os.chmod(key, 0o600)
    public = os.path.join(directory, "recording.pub")
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", public], check=True, capture_output=True)
    recordings = os.path.join(directory, "recordings")
    os.makedirs(recordings, exist_ok=True)
    return {"dir": recordings, "signing_key_file": key}, public


def replay_the_drop(pw, public):
    """The session that waited for approval, as it was recorded: listed,
    replayed as its client saw it, and its signatures verified."""
    say("every session is recorded as its client saw it (masked), signed: the DROP's session, replayed")

    def sessions(*args):
        return subprocess.run([intercept.binary_path(), "sessions", *args, "--admin-socket",
                               pw.config["admin_socket"]], capture_output=True, text=True)

    deadline = time.monotonic() + 10
    held = []
    while not held and time.monotonic() < deadline:
        listed = json.loads(sessions("list", "--all", "-j").stdout or "{}").get("recordings", [])
        held = [r for r in listed if not r.get("live") and r.get("statements", {}).get("held", 0) > 0]
        if not held:
            time.sleep(0.2)
    show("pgwarden sessions list --all", sessions("list", "--all"))
    if not held:
        print("(the DROP's session is not in the list yet)")
        return
    sid = held[0]["id"]
    show(f"pgwarden sessions replay {sid} --public-key recording.pub", sessions("replay", sid, "--public-key", public))
    verify = subprocess.run([intercept.binary_path(), "sessions", "verify", "--dir", pw.config["recording"]["dir"],
                             "--public-key", public], capture_output=True, text=True)
    show(f"pgwarden sessions verify --dir {pw.config['recording']['dir']} --public-key recording.pub", verify)


def refused_without_password(pg):
    say("the database requires a password (SCRAM): a client outside the demo cgroup is refused")
    direct = psql(["-h", pg.host, "-p", str(pg.port), "-U", pg.app_user, "-d", pg.app_db], "-c", "SELECT 1",
                  env=client_env({"PGCONNECT_TIMEOUT": "5"}))
    show(f"psql -h {pg.host} -p {pg.port} -d {pg.app_db} -c 'SELECT 1'", direct)


def transparent(pg):
    rig = intercept.InterceptRig(pg, intercept.ClientScript(), DB_HOST, pg.port)
    try:
        identities = [{"name": "coding-agent", "match": {"cgroup": rig.clients.path + "/**"}}]
        policies = [{"identity": "coding-agent", "allow": ["select"], "approve": ["ddl"],
                     "deny": ["insert", "update", "delete"], "tables": {"deny": ["hr.*"]},
                     "mask": MASK_RULES}]
        pw = rig.pgwarden(identities=identities, policies=policies, start=False)
        pw.config["recording"], public = recording_config(pw.dir)
        rig.start(pw)
        say(f"pgwarden intercepts connects to port {pg.port} from cgroup {rig.clients.path} (eBPF), "
            "holds the credential and knows each workload from the kernel")
        print(open(pw.config_path).read().rstrip())

        say("a workload in the demo cgroup connects to the database's own address, with no password")
        for sql in ["SELECT current_user, inet_server_addr(), inet_server_port()"]:
            r = rig.psql("-c", sql)
            show(f"psql -h {DB_HOST} -p {pg.port} -d app -c \"{sql}\"     # inside {rig.clients.path}", r)
        r = rig.probe(sql="SELECT 1")
        print(f"the client's socket still shows its peer as {r.get('peer')} (getpeername)")

        say("personal data is masked in results, however the query is written")
        for sql in MASKED_QUERIES:
            r = rig.psql("-c", sql)
            show(f"psql -h {DB_HOST} -p {pg.port} -d app -c \"{sql}\"", r)

        say("the agent's policy allows reading only: a DELETE is refused before it reaches the database")
        for sql in ["DELETE FROM customers WHERE id = 1",
                    "WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone",
                    "SELECT * FROM hr.salaries"]:
            r = rig.psql("-c", sql)
            show(f"psql -h {DB_HOST} -p {pg.port} -d app -c \"{sql}\"", r)
        count = pg.execute("SELECT count(*) FROM customers WHERE id = 1", dbname=pg.app_db)[0][0]
        print(f"(checked directly: customer 1 is still there: {count} row)")

        # The agent runs as an unprivileged user: nobody approves a request
        # of their own uid, and the approver here is root.
        agent_uid = RunAs().uid
        drop_waits_for_approval(pg, pw, lambda sql: rig.psql("-c", sql, uid=agent_uid),
                                lambda sql: f"psql -h {DB_HOST} -p {pg.port} -d app -c \"{sql}\"     "
                                            f"# as uid {agent_uid}")
        replay_the_drop(pw, public)

        refused_without_password(pg)

        say("pgwarden status: the programs, their attach points, the maps and the sessions")
        pgwarden_status(pw)
        pw.stop()
        say("pgwarden's log: one line per session, with the workload's identity; no SQL text, no secret")
        print(open(pw.log_path).read().rstrip())
    finally:
        errors = rig.close()
        for e in errors:
            print(f"cleanup: {e}", file=sys.stderr)


def explicit(pg, reason):
    say(f"eBPF interception is not available here ({reason}): explicit mode over the unix socket")
    policy = {"allow": ["select"], "approve": ["ddl"], "mask": MASK_RULES}
    keys = tempfile.mkdtemp(prefix="pgwarden-quickstart-")
    recording, public = recording_config(keys)
    with Pgwarden(pg, overrides={"default": "deny", "recording": recording, "identities": [
            {"name": "quickstart-shell", "match": {"uid": [os.getuid()], "comm": ["psql"]}},
            {"name": "quickstart-tcp", "match": {"source": ["127.0.0.0/8"]}}],
            "policies": [dict(identity="quickstart-shell", **policy),
                         dict(identity="quickstart-tcp", **policy)]}) as pw:
        sock_dir = os.path.dirname(pw.config["unix_socket"])
        args = ["-h", sock_dir, "-p", str(pw.port), "-d", pg.app_db]
        for sql in ["SELECT current_user", *MASKED_QUERIES, "DELETE FROM customers WHERE id = 1"]:
            show(f"psql -h {sock_dir} -p {pw.port} -d {pg.app_db} -c \"{sql}\"", psql(args, "-c", sql))
        # Nobody approves a request of their own uid: the DROP comes over TCP
        # (a workload without a kernel identity), and root approves it.
        tcp = ["-h", pw.host, "-p", str(pw.port), "-d", pg.app_db]
        drop_waits_for_approval(pg, pw, lambda sql: psql(tcp, "-c", sql),
                                lambda sql: f"psql -h {pw.host} -p {pw.port} -d {pg.app_db} -c \"{sql}\"")
        replay_the_drop(pw, public)
        refused_without_password(pg)
        pgwarden_status(pw)
        pw.stop()
    shutil.rmtree(keys, ignore_errors=True)


def main():
    reason = intercept.bpf_unavailable_reason()
    host = DB_HOST if reason is None else "127.0.0.1"
    port = intercept.db_port(host) if reason is None else None
    say(f"starting a throwaway PostgreSQL 15 on {host} (SCRAM required on TCP) with sample data")
    with PgCluster(host=host, port=port) as pg:
        print(f"PostgreSQL listens on {pg.address}; database {pg.app_db}, owner {pg.app_user}")
        if reason is None:
            transparent(pg)
        else:
            explicit(pg, reason)
    say("done: PostgreSQL, pgwarden, the demo cgroups and the eBPF programs are gone")


if __name__ == "__main__":
    main()
