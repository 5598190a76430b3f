"""The quickstart session: what a new user sees pgwarden do.

Uses the integration-test harness (tests/integration/harness) for the
throwaway PostgreSQL and the daemon, so the demo and the tests run the same
way."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from harness import PgCluster, Pgwarden, client_env, psql  # noqa: E402


def say(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def show(cmd, result):
    print(f"$ {cmd}")
    out = (result.stdout or "") + (result.stderr or "")
    print(out.rstrip())


def main():
    say("starting a throwaway PostgreSQL 15 (SCRAM required on TCP) with sample data")
    with PgCluster() as pg:
        print(f"PostgreSQL listens on {pg.address}; database {pg.app_db}, owner {pg.app_user}")

        say("a client without the password is refused by PostgreSQL itself")
        direct = psql(["-h", pg.host, "-p", str(pg.port), "-U", pg.app_user, "-d", pg.app_db],
                      "-c", "SELECT 1", env=client_env({"PGCONNECT_TIMEOUT": "5"}))
        show(f"psql -h {pg.host} -p {pg.port} -U {pg.app_user} -d {pg.app_db} -c 'SELECT 1'", direct)

        with Pgwarden(pg, overrides={"default": "deny", "identities": [
                {"name": "quickstart-shell", "match": {"uid": [os.getuid()], "comm": ["psql"]}}],
                "policies": [{"identity": "quickstart-shell", "allow": ["select"]}]}) as pw:
            sock_dir = os.path.dirname(pw.config["unix_socket"])
            say("pgwarden holds the credential; it knows the client from the kernel (SO_PEERCRED, cgroup)")
            print(open(pw.config_path).read().rstrip())

            args = ["-h", sock_dir, "-p", str(pw.port), "-d", pg.app_db]
            for sql in ["SELECT current_user, session_user",
                        "SELECT name, email, phone FROM customers ORDER BY id LIMIT 3"]:
                r = psql(args, "-c", sql)
                show(f"psql -h {sock_dir} -p {pw.port} -d {pg.app_db} -c \"{sql}\"", r)

            say("a workload no identity matches is refused (default: deny)")
            r = subprocess.run(["python3", "-c", "import psycopg; psycopg.connect(host=%r, port=%d, dbname=%r)"
                                % (sock_dir, pw.port, pg.app_db)],
                               env=client_env(), capture_output=True, text=True, executable="/usr/bin/python3")
            show("python3 -c 'psycopg.connect(...)'", r)

            say("pgwarden status")
            r = subprocess.run([pw.binary, "status", "--admin-socket", pw.config["admin_socket"]],
                               capture_output=True, text=True)
            show("pgwarden status", r)

            pw.stop()
            say("pgwarden's log (one line per session; no SQL text, no secret)")
            print(pw.log_tail() if hasattr(pw, "log_tail") else open(pw.log_path).read())
    say("done: PostgreSQL and pgwarden are stopped and their files removed")


if __name__ == "__main__":
    main()
