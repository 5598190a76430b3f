"""A recording names the exact policy it ran under: its header's
`policy_hash` is the SHA-256 of the config file's bytes as loaded (what
`sha256sum` prints), `pgwarden status` shows the hash in force, a reload
changes both for new sessions, and a session open across the reload
records a `policy_reloaded` event before the statements decided under the
new file.
"""

import hashlib
import json
import os
import subprocess
import time

from harness import binary_path
from test_recording import DB, db, recording_pgwarden, wait_closed  # noqa: F401 (db is a fixture)
from test_recording_pii import records


def file_hash(path):
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()


def daemon_status(pw):
    r = subprocess.run([binary_path(), "status", "-j", "--admin-socket", pw.config["admin_socket"]],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["daemon"]


def recording_of(rec_dir, n):
    names = sorted(f for f in os.listdir(rec_dir) if f.endswith(".pgwrec"))
    return records(os.path.join(rec_dir, names[n]))


def test_the_header_and_status_carry_the_config_files_hash(make_pgwarden, db):
    pw, rec_dir, public = recording_pgwarden(make_pgwarden)
    pw.start()
    first = file_hash(pw.config_path)
    st = daemon_status(pw)
    assert st["policy_hash"] == first and st["config_generation"] == 1, st
    text = subprocess.run([binary_path(), "status", "--admin-socket", pw.config["admin_socket"]],
                          capture_output=True, text=True, timeout=20).stdout
    assert f"policy: {first}  generation 1" in text, text

    across = pw.connect(dbname=DB, autocommit=True)
    across.execute("SELECT 1").fetchall()
    # Another policy: DELETE allowed now.
    pw.config["policies"][0]["allow"].append("delete")
    pw.config["policies"][0]["deny"] = []
    pw.reload(pw.config)
    second = file_hash(pw.config_path)
    assert second != first
    deadline = time.monotonic() + 10
    while daemon_status(pw)["policy_hash"] != second and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon_status(pw)["config_generation"] == 2
    across.execute("DELETE FROM people WHERE id = 99")
    across.close()
    with pw.connect(dbname=DB, autocommit=True) as later:
        later.execute("SELECT 1").fetchall()
    wait_closed(rec_dir, public, count=2)

    header = json.loads(recording_of(rec_dir, 0)[0][1])
    assert header["policy_hash"] == first and header["config"] == pw.config_path, header
    events = [json.loads(p) for t, p in recording_of(rec_dir, 0) if t == "event"]
    reloaded = [e for e in events if e["event"] == "policy_reloaded"]
    assert reloaded and reloaded[0]["policy_hash"] == second and reloaded[0]["config_generation"] == 2, events
    # The DELETE came after it, allowed by the new file.
    after = events[events.index(reloaded[0]) + 1:]
    assert any(e.get("decision") == "allow" and "delete" in e.get("classes", "") for e in after), after
    assert json.loads(recording_of(rec_dir, 1)[0][1])["policy_hash"] == second
    pw.stop()
