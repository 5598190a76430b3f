"""Replaying recorded sessions: `pgwarden sessions replay` shows each
statement of a session with what the client saw (masked rows, errors,
pgwarden's denials and approvals, COPY, a cursor) in order; `sessions
export` gives the same as JSON lines; GET /v1/recordings/{id} serves it;
pgbench's prepared statements and psycopg's bound parameters replay too; and
`--follow` shows a live session's statements as they run.

Real psql, psycopg and pgbench through a real pgwarden to a real PostgreSQL;
the transcripts are compared with what the clients printed.
"""

import json
import os
import re
import subprocess
import threading
import time

import psycopg
import pytest

from harness import binary_path, client_env
from harness import pgbench as harness_pgbench
from harness.operator_http import curl_unix
from approvals.helpers import approval_config, cli, wait_for_request
from test_recording import files, keys, wait_closed

DB = "pgw_replay"
SSN = "123-45-6789"
MASKED = "***-**-6789"


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    cluster.execute_app("CREATE TABLE people(id int, name text, ssn text);"
                        "INSERT INTO people VALUES (1, 'ada', '123-45-6789'), (2, 'bob', '987-65-4321')",
                        dbname=DB)
    yield cluster
    cluster.drop_database(DB)


@pytest.fixture
def recorded(make_pgwarden, db):
    """A started pgwarden that records every session, masks people.ssn,
    denies DELETE and holds DDL for approval."""
    pw = approval_config(make_pgwarden(start=False),
                         extra_policy={"allow": ["select", "insert", "transaction", "set", "copy_to"],
                                       "mask": [{"column": "public.people.ssn", "with": "partial(last=4)"}]})
    private, public = keys(pw.dir)
    rec_dir = os.path.join(pw.dir, "recordings")
    os.makedirs(rec_dir)
    pw.config["recording"] = {"dir": rec_dir, "signing_key_file": private}
    pw.start()
    pw.rec_dir, pw.public = rec_dir, public
    return pw


def pgwarden_cli(pw, *args, timeout=60):
    return subprocess.run([binary_path(), *args], capture_output=True, text=True, timeout=timeout)


def replay(pw, name, *extra):
    r = pgwarden_cli(pw, "sessions", "replay", name, "--dir", pw.rec_dir, "--public-key", pw.public, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def export(pw, *args):
    r = pgwarden_cli(pw, "sessions", "export", *args, "--dir", pw.rec_dir, "--public-key", pw.public)
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def session_id(path):
    """The id in <UTC start>-<id>.pgwrec."""
    return os.path.basename(path)[: -len(".pgwrec")].split("-", 1)[1]


def lines(text):
    return [line.rstrip() for line in text.splitlines()]


def assert_in_order(haystack, needles):
    at = 0
    for needle in needles:
        found = haystack.find(needle, at)
        assert found >= 0, f"{needle!r} not found after offset {at} in:\n{haystack}"
        at = found + len(needle)


def assert_block(text, block):
    """`block`'s lines appear consecutively in `text` (trailing blanks aside)."""
    want, have = lines(block), lines(text)
    for i in range(len(have) - len(want) + 1):
        if have[i:i + len(want)] == want:
            return
    raise AssertionError(f"not in the transcript:\n{block}\n--- transcript:\n{text}")


SCRIPT = """\
SELECT id, name, ssn FROM people ORDER BY id;
DELETE FROM people WHERE id = 2;
DROP TABLE t_replay;
COPY people TO STDOUT;
BEGIN;
DECLARE c CURSOR FOR SELECT id, ssn FROM people ORDER BY id;
FETCH 1 FROM c;
CLOSE c;
COMMIT;
SELECT 1 / 0 AS boom;
SELECT 'done' AS status;
"""


def run_psql_script(pw):
    """SCRIPT through psql; its DROP waits for approval, given by root."""
    argv = ["psql", "-X", "-a", *pw.psql_args(dbname=DB)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=client_env())
    proc.stdin.write(SCRIPT)
    proc.stdin.close()
    [req] = wait_for_request(pw, sql_part="DROP TABLE t_replay")
    cli(pw, "approvals", "approve", req["id"])
    out = proc.stdout.read()
    assert proc.wait(timeout=30) == 0
    return out, req["id"]


def test_a_session_replays_as_the_client_saw_it_and_exports_the_same(recorded, db):
    db.execute_app("DROP TABLE IF EXISTS t_replay; CREATE TABLE t_replay(id int)", dbname=DB)
    psql_out, approval_id = run_psql_script(recorded)
    # What the client saw: masked, the DELETE refused, the DROP run, the error.
    assert SSN not in psql_out and MASKED in psql_out, psql_out
    assert "DROP TABLE" in psql_out and "division by zero" in psql_out, psql_out
    wait_closed(recorded.rec_dir, recorded.public)
    [name] = files(recorded.rec_dir)
    sid = session_id(name)
    text = replay(recorded, sid)
    assert SSN not in text
    # Who and where.
    assert f"-- session {sid}, started " in text
    assert "-- identity agent" in text and f"database {DB}" in text and "upstream main" in text
    # Every statement, in order, each with its answer.
    assert_in_order(text, [
        "SELECT id, name, ssn FROM people ORDER BY id;", f"{MASKED}", "(2 rows)",
        "DELETE FROM people WHERE id = 2;", "-- pgwarden at", "denied by rule", "ERROR:  42501: ",
        "DROP TABLE t_replay;", "held for approval", f"approval {approval_id} requested",
        f"approval {approval_id} approved by root", "DROP TABLE",
        "COPY people TO STDOUT;", "-- COPY out: 2 rows",
        "BEGIN;", "DECLARE c CURSOR FOR SELECT id, ssn FROM people ORDER BY id;", "DECLARE CURSOR",
        "FETCH 1 FROM c;", "(1 row)", "CLOSE c;", "CLOSE CURSOR", "COMMIT;",
        "SELECT 1 / 0 AS boom;", "ERROR:  22012: division by zero",
        "SELECT 'done' AS status;", "(1 row)",
        "-- session ended at", "-- recording closed: all",
    ])
    # Each result exactly as psql printed it.
    select_table = psql_out.split("SELECT id, name, ssn FROM people ORDER BY id;\n", 1)[1].split("\n\n", 1)[0]
    assert_block(text, select_table)
    fetch_table = psql_out.split("FETCH 1 FROM c;\n", 1)[1].split("\n\n", 1)[0]
    assert_block(text, fetch_table)
    # (Offsets count from the header record, written up to 100 ms after the session's first messages.)
    assert re.search(r"^-- #1 at [+-]\d+\.\d{3}s, Time: \d+\.\d{3} ms$", text, re.M), text
    assert "signatures" in text.splitlines()[-1] and "not checked" not in text.splitlines()[-1]

    # export: the same, as JSON lines that stand alone.
    entries = export(recorded, sid)
    assert entries[-1]["type"] == "verification" and entries[-1]["verified"]["ok"]
    body = entries[:-1]
    for e in body:
        assert e["session"] == sid and e["upstream"] == "main" and e["identity"]["name"] == "agent", e
        assert e["time"].endswith("Z") and "offset_ms" in e
    assert SSN not in json.dumps(entries)
    statements = [e["sql"] for e in body if e["type"] == "statement"]
    assert [s.rstrip(";") for s in statements] == [line.rstrip(";") for line in SCRIPT.splitlines()], statements
    first = next(e for e in body if e["type"] == "result")
    assert first["rows"] == [["1", "ada", MASKED], ["2", "bob", "***-**-4321"]]
    assert [c["name"] for c in first["columns"]] == ["id", "name", "ssn"]
    events = [(e["event"], e.get("decision")) for e in body if e["type"] == "event" and e.get("decision") != "allow"]
    assert events == [("decision", "deny"), ("decision", "approve"), ("approval_requested", None),
                      ("approval_approved", None), ("session_end", None)], events
    approved = next(e for e in body if e.get("event") == "approval_approved")
    assert approved["id"] == approval_id and approved["by"].startswith("root")
    errors = [(e["sqlstate"], e["statement_n"]) for e in body if e["type"] == "error"]
    assert errors == [("42501", 2), ("22012", 10)], errors
    copy = next(e for e in body if e["type"] == "copy")
    assert copy["direction"] == "out" and copy["rows"] == 2 and copy["statement_n"] == 4
    assert all("elapsed_ms" in e for e in body if e["type"] == "statement")
    # --since finds it among the sessions of the last hour; --until before it does not.
    since = export(recorded, "--since", "1h")
    assert [e for e in since if e["type"] != "verification"] == body
    assert export(recorded, "--since", "2h", "--until", "1h") == []

    # The admin API serves the same entries.
    code, answer = curl_unix(recorded.config["admin_socket"], f"/v1/recordings/{sid}")
    assert code == 200, answer
    answer = json.loads(answer)
    assert answer["verified"]["ok"] and answer["verified"]["authenticated"]
    assert answer["session"]["session_id"] == sid and answer["session"]["database"] == DB
    assert answer["entries"] == body
    for bad in ["..", "a%2Fb", "x%00"]:
        code, _ = curl_unix(recorded.config["admin_socket"], f"/v1/recordings/{bad}")
        assert code in (400, 404), bad
    # Without --dir the daemon says where its recordings are.
    r = pgwarden_cli(recorded, "sessions", "replay", sid, "--admin-socket", recorded.config["admin_socket"])
    assert r.returncode == 0 and r.stdout.count(MASKED) >= 2, r.stdout + r.stderr


def test_psycopg_parameters_and_pgbench_prepared_statements_replay(recorded, db, tmp_path):
    with psycopg.connect(**recorded.conninfo(dbname=DB), autocommit=True) as conn:
        rows = conn.execute("SELECT id, ssn FROM people WHERE id = %s AND name = %s", (2, "bob")).fetchall()
    assert rows == [(2, "***-**-4321")]
    script = tmp_path / "bench.sql"
    script.write_text("\\set pid random(1, 2)\nSELECT ssn FROM people WHERE id = :pid;\n")
    bench = harness_pgbench.run(recorded.host, recorded.port, "alice", DB,
                                ["-n", "-M", "prepared", "-t", "3", "-f", str(script)])
    assert bench.returncode == 0, bench.stdout + bench.stderr
    # pgbench connects once to look, then once per client: three files.
    wait_closed(recorded.rec_dir, recorded.public, count=3)
    names = [os.path.join(recorded.rec_dir, f) for f in files(recorded.rec_dir)]
    psycopg_file, pgbench_file = names[0], names[-1]

    text = replay(recorded, psycopg_file)
    assert_in_order(text, ["extended protocol", "SELECT id, ssn FROM people WHERE id = $1 AND name = $2;",
                           "-- parameters: $1 = '2', $2 = 'bob'", "***-**-4321", "(1 row)"])
    assert SSN not in text and "987-65-4321" not in text

    text = replay(recorded, pgbench_file)
    assert text.count("SELECT ssn FROM people WHERE id = $1;") == 3, text
    assert text.count("prepared statement") == 3
    assert text.count("(1 row)") == 3 and "***-**-" in text
    assert "987-65-4321" not in text and SSN not in text
    entries = export(recorded, pgbench_file)
    params = [e["parameters"] for e in entries if e["type"] == "statement"]
    assert len(params) == 3 and all(p in (["1"], ["2"]) for p in params), params
    results = [e["rows"] for e in entries if e["type"] == "result"]
    assert all(r in ([[MASKED]], [["***-**-4321"]]) for r in results), results


def test_follow_shows_a_statement_run_after_it_started(recorded, db):
    conn = psycopg.connect(**recorded.conninfo(dbname=DB), autocommit=True)
    try:
        conn.execute("SELECT 'before follow'").fetchall()
        deadline = time.monotonic() + 10
        while not files(recorded.rec_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        [name] = files(recorded.rec_dir)
        follow = subprocess.Popen([binary_path(), "sessions", "replay", "--follow", os.path.join(recorded.rec_dir, name),
                                   "--public-key", recorded.public], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        seen = []
        reader = threading.Thread(target=lambda: seen.extend(iter(follow.stdout.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while not any("before follow" in line for line in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("before follow" in line for line in seen), "".join(seen)
        assert follow.poll() is None  # still following
        assert conn.execute("SELECT ssn AS after_follow FROM people WHERE id = 1").fetchone() == (MASKED,)
        deadline = time.monotonic() + 10
        while not any(MASKED in line for line in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("after_follow" in line for line in seen) and any(MASKED in line for line in seen), "".join(seen)
    finally:
        conn.close()
    assert follow.wait(timeout=15) == 0, follow.stderr.read()
    reader.join(timeout=5)
    out = "".join(seen)
    assert_in_order(out, ["before follow", "after_follow", MASKED, "-- session ended at", "-- recording closed: all"])
