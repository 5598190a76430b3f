"""Recording ids, `sessions list`, the session index and retention.

A recording's id is `<host>-<tag>-<n>`: unique across engine restarts and
nodes, and the same in `sessions list`, `status`, the log and the file.
`sessions list` shows live sessions, filtered by identity, upstream and
time; `--all` adds ended ones from the recording directory, or with
`recording.index.dsn_file` from the control database, where every node
writes a row per session (two engines with their own state and recording
directories share one index here). `--dir` lists a directory offline and
names a file that does not verify. `recording.max_bytes` / `max_age` remove
the oldest closed recordings and never one being written.
"""

import json
import os
import re
import socket
import subprocess
import time

import psycopg
import pytest

from harness import conninfo
from harness.cluster import write_secret_file
from harness.pgwarden import binary_path
from test_recording import keys

DB = "pgw_recording_index"
INDEX_DB = "pgw_session_index"
ID = re.compile(r"^[A-Za-z0-9_-]+-[0-9a-f]{6}-[0-9]+$")


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    cluster.execute_app("CREATE TABLE people(id int, ssn text); INSERT INTO people VALUES (1, '123-45-6789')",
                        dbname=DB)
    yield cluster
    cluster.drop_database(DB)


def recording_pgwarden(make_pgwarden, **recording):
    pw = make_pgwarden(start=False)
    private, public = keys(pw.dir)
    rec_dir = os.path.join(pw.dir, "recordings")
    os.makedirs(rec_dir, exist_ok=True)
    pw.config["state_dir"] = os.path.join(pw.dir, "state")
    pw.config["recording"] = {"dir": rec_dir, "signing_key_file": private, **recording}
    pw.config["default"] = "deny"
    pw.config["identities"] = [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}]
    pw.config["policies"] = [{"identity": "agent", "allow": ["select", "set"], "deny": ["delete"],
                              "approve": ["ddl"], "approval": {"timeout": "1s"}}]
    return pw, rec_dir, public


def cli(*args, check=True):
    r = subprocess.run([binary_path(), *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def listing(pw, *args):
    return json.loads(cli("sessions", "list", "-j", "--admin-socket", pw.config["admin_socket"], *args).stdout)


def status(pw):
    return json.loads(cli("status", "-j", "--admin-socket", pw.config["admin_socket"]).stdout)


def files(rec_dir):
    return sorted(f for f in os.listdir(rec_dir) if f.endswith(".pgwrec"))


def session(pw, statements=("SELECT 1",), denied=0, held=0):
    """One session: the statements, `denied` DELETEs and `held` DDLs (each
    refused after its 1 s approval timeout)."""
    with pw.connect(dbname=DB, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql).fetchall()
        for _ in range(denied):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM people")
        for _ in range(held):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE never_made (i int)")


def wait_for(what, predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def ended(pw, count):
    """`sessions list --all` once `count` ended sessions are in it."""
    def ready():
        out = listing(pw, "--all")
        done = [r for r in out["recordings"] if not r["live"]]
        return out if len(done) >= count else None
    return wait_for(f"{count} ended sessions", ready)


def test_ids_are_unique_across_restarts_and_named_alike_everywhere(make_pgwarden, db):
    pw, rec_dir, public = recording_pgwarden(make_pgwarden)
    pw.start()
    ids = []
    for run in range(2):
        with pw.connect(dbname=DB, autocommit=True) as conn:
            conn.execute("SELECT 1").fetchall()
            [live] = listing(pw)["recordings"]
            assert live["live"] and live["end_time"] is None and ID.match(live["id"]), live
            assert live["node"] == socket.gethostname().split(".")[0]
            assert [s["id"] for s in status(pw)["sessions"]["list"]] == [live["id"]]
            assert f"session {live['id']} opened" in pw.log_text()
            ids.append(live["id"])
        ended(pw, 1)
        pw.stop()
        if run == 0:
            pw.start()
    # The engine's counter starts again at each run; the ids do not repeat.
    assert ids[0] != ids[1] and ids[0].rsplit("-", 2)[1] != ids[1].rsplit("-", 2)[1], ids
    names = files(rec_dir)
    assert len(names) == 2 and all(any(n.endswith(f"-{i}.pgwrec") for n in names) for i in ids), (names, ids)
    offline = json.loads(cli("sessions", "list", "-j", "--dir", rec_dir, "--public-key", public).stdout)
    assert offline["source"] == "directory"
    assert sorted(r["id"] for r in offline["recordings"]) == sorted(ids)
    assert all("problem" not in r and not r["live"] for r in offline["recordings"]), offline


def test_list_filters_live_and_ended_sessions_with_counts(make_pgwarden, db):
    pw, rec_dir, _ = recording_pgwarden(make_pgwarden)
    pw.start()
    session(pw, ["SELECT 1", "SELECT ssn FROM people"], denied=1, held=1)
    held_open = pw.connect(dbname=DB, autocommit=True)
    try:
        held_open.execute("SELECT 1").fetchall()
        held_open.execute("SELECT 2").fetchall()
        # Default: the live session only, with its counts so far.
        # (its file is made by the recording thread within 100 ms)
        [live] = wait_for("the live file", lambda: [r for r in listing(pw)["recordings"] if r["file"]])
        assert live["live"] and live["statements"] == {"allowed": 2, "denied": 0, "held": 0}, live
        assert live["file"] in files(rec_dir)
        out = ended(pw, 1)
        assert out["source"] == "directory"
        old = [r for r in out["recordings"] if not r["live"]]
        assert len(out["recordings"]) == 2 and out["recordings"][0]["live"], out  # newest first
        [done] = old
        assert done["statements"] == {"allowed": 2, "denied": 1, "held": 1}, done
        assert done["identity"] == "agent" and done["upstream"] == "main" and done["database"] == DB
        assert done["end_time"] > done["start_time"]
        # Filters apply to both.
        assert listing(pw, "--all", "--identity", "nobody")["recordings"] == []
        assert listing(pw, "--all", "--upstream", "other")["recordings"] == []
        assert len(listing(pw, "--all", "--identity", "agent", "--upstream", "main")["recordings"]) == 2
        assert len(listing(pw, "--all", "--since", "1h")["recordings"]) == 2
        assert listing(pw, "--all", "--until", "2001-01-01T00:00:00Z")["recordings"] == []
        future = listing(pw, "--all", "--since", "2199-01-01T00:00:00+02:00")["recordings"]
        assert [r["id"] for r in future] == [live["id"]], future
        # Sessions that ended before --since are left out; the live one stays.
        cutoff = done["end_time"]
        time.sleep(0.05)
        after = listing(pw, "--all", "--since", "0s")["recordings"]
        assert [r["id"] for r in after] == [live["id"]], (cutoff, after)
        text = cli("sessions", "list", "--all", "--admin-socket", pw.config["admin_socket"]).stdout
        assert done["id"] in text and "2 allowed 1 denied 1 held" in text, text
        bad = cli("sessions", "list", "--since", "yesterday", "--admin-socket", pw.config["admin_socket"],
                  check=False)
        assert bad.returncode == 1 and "since" in bad.stderr, bad.stderr
    finally:
        held_open.close()


def test_offline_listing_names_a_file_that_does_not_verify(make_pgwarden, db, tmp_path):
    pw, rec_dir, public = recording_pgwarden(make_pgwarden)
    pw.start()
    session(pw, ["SELECT 1"])
    session(pw, ["SELECT 2"])
    ended(pw, 2)
    pw.stop()
    [first, second] = files(rec_dir)
    path = os.path.join(rec_dir, second)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) - 80)  # inside the last block's records
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0x01]))
    out = json.loads(cli("sessions", "list", "-j", "--dir", rec_dir, "--public-key", public).stdout)
    by_file = {r["file"]: r for r in out["recordings"]}
    assert "problem" not in by_file[first], by_file
    assert "problem" in by_file[second], by_file
    text = cli("sessions", "list", "--dir", rec_dir, "--public-key", public).stdout
    assert "DOES NOT VERIFY" in text and by_file[second]["id"] in text, text
    # Another key: nothing verifies.
    other = tmp_path / "other"
    other.mkdir()
    _, other_public = keys(str(other))
    out = json.loads(cli("sessions", "list", "-j", "--dir", rec_dir, "--public-key", other_public).stdout)
    assert all("problem" in r for r in out["recordings"]), out


@pytest.fixture
def index_dsn(cluster, tmp_path):
    cluster.drop_database(INDEX_DB)
    cluster.create_database(INDEX_DB)
    path = str(tmp_path / "index.dsn")
    write_secret_file(path, conninfo(host=cluster.host, port=cluster.port, dbname=INDEX_DB, user=cluster.app_user,
                                     password=cluster.app_password))
    yield path
    cluster.drop_database(INDEX_DB)


def index_rows(cluster):
    return cluster.execute("SELECT id, node, identity, upstream, end_time IS NOT NULL, allowed, denied, held, file "
                           "FROM pgwarden.sessions ORDER BY start_time", dbname=INDEX_DB)


def test_two_nodes_share_one_index(make_pgwarden, db, index_dsn):
    a, a_dir, _ = recording_pgwarden(make_pgwarden, index={"dsn_file": index_dsn})
    b, b_dir, _ = recording_pgwarden(make_pgwarden, index={"dsn_file": index_dsn})
    a.start()
    b.start()
    session(a, ["SELECT 1", "SELECT 2"], denied=1)
    with b.connect(dbname=DB, autocommit=True) as conn:
        conn.execute("SELECT 1").fetchall()
        # B's live session is in the index, without an end, on A too.
        live_b = listing(b)["recordings"][0]
        row = wait_for("B's live row", lambda: [r for r in index_rows(db) if r[0] == live_b["id"]])
        assert row[0][4] is False and row[0][8] in files(b_dir), row
        on_a = listing(a, "--all")
        assert on_a["source"] == "index"
        assert [r for r in on_a["recordings"] if r["id"] == live_b["id"]][0]["live"], on_a
    rows = wait_for("both ended", lambda: (r := index_rows(db)) and len(r) == 2 and all(x[4] for x in r) and r)
    [ra, rb] = rows
    assert ra[5:8] == (2, 1, 0) and rb[5:8] == (1, 0, 0), rows
    assert ra[8] in files(a_dir) and rb[8] in files(b_dir)
    for node in (a, b):
        out = listing(node, "--all")
        assert out["source"] == "index"
        assert sorted(r["id"] for r in out["recordings"]) == sorted([ra[0], rb[0]]), out
        assert len(listing(node, "--all", "--identity", "agent")["recordings"]) == 2
        st = status(node)["recording"]["index"]
        assert st["up"] and st["written"] >= 2 and st["dropped"] == 0, st
    text = subprocess.run(["curl", "-s", "--unix-socket", a.config["admin_socket"], "http://pgwarden/metrics"],
                          capture_output=True, text=True, timeout=10).stdout
    assert "pgwarden_session_index_up 1" in text and "pgwarden_session_index_rows_written_total" in text, text
    version = db.execute("SELECT version FROM pgwarden.schema_version", dbname=INDEX_DB)
    assert [tuple(v) for v in version] == [(2,)], version


def test_rows_wait_while_the_index_is_down_and_are_written_after(make_pgwarden, db, cluster, tmp_path):
    cluster.drop_database(INDEX_DB)
    path = str(tmp_path / "later.dsn")
    write_secret_file(path, conninfo(host=cluster.host, port=cluster.port, dbname=INDEX_DB, user=cluster.app_user,
                                     password=cluster.app_password))
    pw, _, _ = recording_pgwarden(make_pgwarden, index={"dsn_file": path})
    pw.start()  # the database does not exist yet: not fatal
    try:
        session(pw, ["SELECT 1"])
        session(pw, ["SELECT 2"])
        st = wait_for("queued rows", lambda: (s := status(pw)["recording"]["index"])["queued"] >= 2 and s)
        assert not st["up"] and st["failures"] >= 1, st
        # Listing falls back to this node's directory, and says why.
        out = listing(pw, "--all")
        assert out["source"] == "directory" and "index_error" in out and len(out["recordings"]) == 2, out
        assert cluster.app_password not in json.dumps(out) + pw.log_text()
        cluster.create_database(INDEX_DB)
        wait_for("rows written", lambda: status(pw)["recording"]["index"]["queued"] == 0, timeout=40)
        rows = index_rows(cluster)
        assert len(rows) == 2 and all(r[4] for r in rows), rows
        assert listing(pw, "--all")["source"] == "index"
        assert "session index: its database answers again" in pw.log_text()
    finally:
        pw.stop()
        cluster.drop_database(INDEX_DB)


def test_max_bytes_removes_the_oldest_closed_recordings_never_an_open_one(make_pgwarden, db):
    pw, rec_dir, public = recording_pgwarden(make_pgwarden, max_bytes="40kB")
    pw.start()
    long_lived = pw.connect(dbname=DB, autocommit=True)
    try:
        long_lived.execute("SELECT 1").fetchall()
        [open_file] = wait_for("the open file", lambda: files(rec_dir))
        for i in range(8):
            session(pw, [f"SELECT md5((i * {i + 1})::text) FROM generate_series(1, 200) i"])
        # Each file is about 13 kB: the passes at each close keep two or
        # three of the newest closed ones and the open one. A pass runs
        # after its session's file is closed, which the client does not
        # wait for: the last sessions' passes may still be to come.
        def size(f):  # 0 once a pass has removed it
            try:
                return os.path.getsize(os.path.join(rec_dir, f))
            except FileNotFoundError:
                return 0

        def settled():
            s = status(pw)["recording"]["retention"]
            sizes = [size(f) for f in files(rec_dir)]
            return s["removed_files"] >= 3 and sum(sizes) <= 40000 + max(sizes) and s

        st = wait_for("retention to bring the directory within max_bytes", settled)
        assert st["max_bytes"] == 40000, st
        left = files(rec_dir)
        assert open_file in left, left
        # The oldest went first: what is left is the newest.
        closed = [f for f in left if f != open_file]
        assert closed and max(closed) == max(files(rec_dir)), left
        assert "recording retention: removed" in pw.log_text()
        long_lived.execute("SELECT 2").fetchall()
    finally:
        long_lived.close()
    metrics = subprocess.run(["curl", "-s", "--unix-socket", pw.config["admin_socket"], "http://pgwarden/metrics"],
                             capture_output=True, text=True, timeout=10).stdout
    assert re.search(r"^pgwarden_recording_retention_removed_files_total [1-9]", metrics, re.MULTILINE), metrics
    # What retention left verifies: it removes whole files, nothing else.
    r = cli("sessions", "verify", "--dir", rec_dir, "--public-key", public, check=False)
    assert "BAD" not in r.stdout, r.stdout


def test_max_age_removes_recordings_that_ended_long_enough_ago(make_pgwarden, db):
    pw, rec_dir, _ = recording_pgwarden(make_pgwarden, max_age="2s")
    pw.start()
    session(pw, ["SELECT 1"])
    [old] = wait_for("the first file", lambda: files(rec_dir))
    time.sleep(2.5)
    session(pw, ["SELECT 2"])  # its close runs a pass
    wait_for("the old one removed", lambda: old not in files(rec_dir))
    assert len(files(rec_dir)) == 1
    assert status(pw)["recording"]["retention"]["max_age_s"] == 2


def test_retention_and_index_keys_are_checked(make_pgwarden, tmp_path):
    pw = make_pgwarden(start=False)
    pw.config["recording"] = {"max_bytes": "10GiB"}
    pw.write_config()
    r = cli("policy", "check", pw.config_path, check=False)
    assert r.returncode != 0 and "need recording.dir" in r.stdout + r.stderr, (r.stdout, r.stderr)
    private, _ = keys(pw.dir)
    pw.config["recording"] = {"dir": str(tmp_path), "signing_key_file": private, "max_age": "soon"}
    pw.write_config()
    r = cli("policy", "check", pw.config_path, check=False)
    assert r.returncode != 0 and "max_age" in r.stdout + r.stderr, (r.stdout, r.stderr)
    pw.config["recording"] = {"dir": str(tmp_path), "signing_key_file": private, "max_age": "30d",
                              "max_bytes": "10GiB"}
    pw.write_config()
    r = cli("policy", "check", pw.config_path, check=False)
    assert r.returncode == 0, (r.stdout, r.stderr)
