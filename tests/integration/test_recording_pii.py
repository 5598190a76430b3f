"""No recording, log line, status or metrics output carries a masked value
(issue 12, test 4).

PII is seeded in a table the policy masks, by column rules (ssn, email, card,
phone) and by detectors only (the free-text `notes`, which holds all four
again). A session then tries hard to see it: plain SELECT, row_to_json,
to_jsonb, string_agg, format(), COPY TO STDOUT as text, csv and binary, the
extended protocol with binary results, a cursor, casts whose errors echo the
value, a notice, a warning and an error raised with it by a PL/pgSQL
function (DO blocks too, which the policy refuses while masking is in
force), a denied statement and a statement held for approval. Afterwards EVERY file pgwarden wrote is
searched: the recording directory (the raw file bytes, and every record
decoded, compressed blocks unpacked with zstd), pgwarden's log, its state
directory, and everything it answers: `status -j`, /metrics,
/v1/decisions, /v1/approvals and the approval webhook's bodies. The needles
are each seeded value, its simple transforms (case, reversed, digits only,
without separators, base64, hex, URL-encoded, split by separators) and the
upstream password with the same transforms. One hit is a leak.

What the product promises about values the *client types itself* (a literal
in its own SQL): they are the client's input, not something pgwarden read
from the database, so they are not masked. They are recorded as the client
sent them (the recording's client messages: an auditor must see what was
sent) and shown where a person must judge the statement: the approval
request (/v1/approvals, the webhook, the console), the console's recent
refusals (/v1/decisions: in memory, behind the admin socket or a console
token) and the recording's approval events. They are kept out of
pgwarden's log, `status` and /metrics, which never carry statement text.
This test checks both halves with literals of its own (TYPED), distinct
from the seeded values.

The search is proven able to find: the same seeded values, fetched with
masking off (direct from PostgreSQL), are found by the same search.
"""

import base64
import json
import os
import struct
import subprocess
import threading
import time
import urllib.parse

import psycopg
import pytest

from harness import binary_path
from harness.operator_http import WebhookReceiver, unix_request
from test_recording import keys, wait_closed

DB = "pgw_recording_pii"


def luhn(prefix, length=16):
    """A card number starting with prefix, with a valid Luhn check digit
    (detectors only recognise valid ones)."""
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append((len(digits) * 7 + 3) % 10)
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return " ".join(s[i:i + 4] for i in range(0, 16, 4))


# Values no other test uses, so a hit means this test's data.
SEEDED = {
    "ssn": "536-27-4918",
    "email": "orla.quennell.7731@pii-seed.example.org",
    "card": luhn("453957"),
    "phone": "+1 415 555 0193",
}
# Literals the client types in its own SQL (see the module docstring).
TYPED = {
    "denied_ssn": "618-44-2093",
    "held_email": "typed.holder.5521@typed.example.net",
}


def transforms(value):
    """The value and what an agent would turn it into to sneak it past."""
    raw = value.encode()
    out = {
        value: "raw", value.upper(): "upper", value.lower(): "lower", value[::-1]: "reversed",
        raw.hex(): "hex", raw.hex().upper(): "HEX",
        base64.b64encode(raw).decode(): "base64", base64.b64encode(raw).decode().rstrip("="): "base64 unpadded",
        base64.urlsafe_b64encode(raw).decode(): "base64url",
        urllib.parse.quote(value, safe=""): "URL-encoded", urllib.parse.quote_plus(value): "URL-encoded (+)",
    }
    bare = "".join(c for c in value if c not in " -.+()")
    if len(bare) >= 8:
        out[bare] = "without separators"
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 8:
        out[digits] = "digits only"
        out[digits[::-1]] = "digits reversed"
        out[",".join(digits)] = "digits split by ','"
    out[",".join(value)] = "split by ','"
    out[" ".join(value)] = "split by ' '"
    return out


def needles(values, label):
    found = {}
    for name, value in values.items():
        for needle, how in transforms(value).items():
            found[needle] = f"{label} {name} ({how})"
    return found


def search(blobs, needles_map):
    """[(where, what, needle)] for every needle in every (where, bytes)."""
    hits = []
    for where, data in blobs:
        text = data.decode("utf-8", errors="replace")
        for needle, what in needles_map.items():
            if needle.encode() in data or needle in text:
                hits.append((where, what, needle))
    return hits


# ---- reading recordings (docs/recording-format.md) -------------------------

MAGIC = b"PGWREC 1\n"
BLOCK = struct.Struct("<4sB3xQIII")
RECORD = struct.Struct("<BQI")
TYPES = {1: "header", 2: "client", 3: "server", 4: "event"}


def records(path):
    """[(type, payload)] of every record of a recording, compressed blocks
    unpacked with the zstd tool."""
    data = open(path, "rb").read()
    assert data[:len(MAGIC)] == MAGIC, path
    off, out = 41, []
    while off + BLOCK.size <= len(data):
        magic, flags, _, count, stored, _raw = BLOCK.unpack_from(data, off)
        assert magic == b"PGWB", (path, off)
        body = data[off + BLOCK.size:off + BLOCK.size + stored]
        if flags & 1:
            body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=True).stdout
        p = 0
        for _ in range(count):
            rtype, _, length = RECORD.unpack_from(body, p)
            out.append((TYPES[rtype], body[p + RECORD.size:p + RECORD.size + length]))
            p += RECORD.size + length + 32
        off += BLOCK.size + stored + 64
    return out


# ---- the setup -----------------------------------------------------------

@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    notes = (f"call {SEEDED['phone']} or mail {SEEDED['email']}; ssn {SEEDED['ssn']}, "
             f"card {SEEDED['card']}")
    cluster.execute_app(
        "CREATE TABLE people(id int PRIMARY KEY, name text, ssn text, email text, card text, phone text, notes text)",
        dbname=DB)
    cluster.execute_app(
        "INSERT INTO people VALUES (1, 'Orla', %s, %s, %s, %s, %s), (2, 'Nobody', '000-00-0000', "
        "'n@example.com', '0000 0000 0000 0000', '+1 000', 'nothing here')",
        (SEEDED["ssn"], SEEDED["email"], SEEDED["card"], SEEDED["phone"], notes), dbname=DB)
    # Functions that echo their argument in a notice, a warning and an error
    # (made by the table's owner, as an admin would; callable by SELECT).
    cluster.execute_app(
        "CREATE FUNCTION public.shout(v text) RETURNS text LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE NOTICE 'value: %', v; RAISE WARNING 'again: %', v; RETURN 'ok'; END $$", dbname=DB)
    cluster.execute_app(
        "CREATE FUNCTION public.boom(v text) RETURNS text LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'boom: %', v USING DETAIL = 'detail ' || v, HINT = 'hint ' || v; END $$",
        dbname=DB)
    yield cluster
    cluster.drop_database(DB)


MASK = [
    {"column": "public.people.ssn", "with": "partial(last=4)"},
    {"column": "public.people.email", "with": "email"},
    {"column": "public.people.card", "with": "partial(last=4)"},
    {"column": "public.people.phone", "with": "redact"},
    {"detect": ["credit_card", "us_ssn", "email", "phone"], "with": "redact"},
]


def pii_pgwarden(make_pgwarden, hook_url):
    pw = make_pgwarden(start=False)
    private, _ = keys(pw.dir)
    rec_dir = os.path.join(pw.dir, "recordings")
    state_dir = os.path.join(pw.dir, "state")
    os.makedirs(rec_dir)
    os.makedirs(state_dir)
    pw.config["state_dir"] = state_dir
    pw.config["recording"] = {"dir": rec_dir, "signing_key_file": private, "required": True}
    pw.config["default"] = "deny"
    pw.config["identities"] = [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}]
    pw.config["policies"] = [{
        "identity": "agent",
        "allow": ["select", "copy_to", "set", "transaction", "prepare", "execute", "deallocate", "procedural"],
        "approve": ["update"],
        "deny": ["delete"],
        "mask": MASK,
    }]
    pw.config["approval"] = {"timeout": "20s", "notify": hook_url}
    pw.start()
    return pw, rec_dir


def attempt(conn, sql, params=None, binary=False, prepare=None):
    """Runs sql and fetches everything; an error (the policy refusing, a cast
    failing) is an outcome like any other: what matters is where its text went."""
    try:
        cur = conn.cursor(binary=binary)
        cur.execute(sql, params, prepare=prepare)
        if cur.description is not None:
            return cur.fetchall()
    except psycopg.Error as e:
        return e
    return None


# Queries that read the PII in every shape the issue names.
READS = [
    "SELECT * FROM people",
    "SELECT ssn, email, card, phone, notes FROM people WHERE id = 1",
    "SELECT row_to_json(p) FROM people p",
    "SELECT to_jsonb(p) FROM people p",
    "SELECT to_jsonb(p)->>'ssn', (row_to_json(p))::text FROM people p",
    "SELECT string_agg(ssn, ','), string_agg(email, ';'), string_agg(card || phone, '|') FROM people",
    "SELECT format('%s/%s/%s/%s', ssn, email, card, phone) FROM people",
    "SELECT format('%s', notes) FROM people",
    "SELECT upper(email), lower(ssn), reverse(card), replace(ssn, '-', ''), regexp_replace(card, '\\D', '', 'g') "
    "FROM people",
    "SELECT encode(convert_to(ssn, 'UTF8'), 'base64'), encode(convert_to(email, 'UTF8'), 'hex') FROM people",
    "SELECT array_agg(ssn), json_agg(email), jsonb_agg(jsonb_build_object('c', card)) FROM people",
    "SELECT ssn FROM people WHERE ssn LIKE '536%'",
    "WITH x AS (SELECT ssn AS s, notes AS n FROM people) SELECT s, n FROM x",
    "SELECT (SELECT ssn FROM people WHERE id = 1) AS sub",
]
# Errors whose text would echo a value (invalid input syntax: "<value>").
ECHOES = [
    "SELECT ssn::int FROM people WHERE id = 1",
    "SELECT email::int FROM people WHERE id = 1",
    "SELECT card::numeric FROM people WHERE id = 1",
    "SELECT phone::int FROM people WHERE id = 1",
    "SELECT notes::int FROM people WHERE id = 1",
    "SELECT ssn::date FROM people WHERE id = 1",
    "SELECT to_jsonb(p)->>'ssn' FROM people p WHERE (p.email)::int > 0",
    "SELECT 1 FROM people WHERE ssn::uuid IS NOT NULL",
]
NOTICES = [
    "SELECT shout(ssn), shout(email), shout(card), shout(phone), shout(notes) FROM people WHERE id = 1",
    "SELECT shout(s) FROM (SELECT ssn || '/' || email AS s FROM people) x",
    "SELECT boom(ssn) FROM people WHERE id = 1",
    "SELECT boom(notes) FROM people WHERE id = 1",
    # Refused while masking is in force (pgwarden cannot see into the block).
    "DO $$ BEGIN RAISE NOTICE '%', (SELECT ssn || ' ' || email || ' ' || card FROM people WHERE id = 1); END $$",
    "DO $$ BEGIN RAISE EXCEPTION 'x %', (SELECT phone FROM people WHERE id = 1); END $$",
    "DO $$ DECLARE r record; BEGIN FOR r IN SELECT notes FROM people LOOP RAISE NOTICE '%', r.notes; END LOOP; END $$",
]


def run_sessions(pw):
    notices = []
    with pw.connect(dbname=DB, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        outcomes = {sql: attempt(conn, sql) for sql in READS + ECHOES + NOTICES}
        # The reads ran, masked (the search below would prove little otherwise).
        assert outcomes[READS[1]][0][0] == "***-**-" + SEEDED["ssn"][-4:], outcomes[READS[1]]
        assert all(isinstance(outcomes[sql], psycopg.Error) for sql in ECHOES), outcomes
        # Extended protocol: binary results, prepared and not.
        for sql in READS[:8]:
            attempt(conn, sql, binary=True, prepare=True)
            attempt(conn, sql, binary=True, prepare=False)
        attempt(conn, "SELECT ssn, email FROM people WHERE id = %s", (1,), binary=True, prepare=True)
        for sql in ECHOES[:3]:
            attempt(conn, sql, binary=True, prepare=True)
        # COPY TO STDOUT in the three formats.
        for fmt in ("text", "csv", "binary"):
            for source in ("people", "(SELECT ssn, email, card, phone, notes FROM people)"):
                try:
                    with conn.cursor().copy(f"COPY {source} TO STDOUT (FORMAT {fmt})") as copy:
                        for _ in copy:
                            pass
                except psycopg.Error:
                    pass
        # A server-side cursor, and one declared by hand.
        try:
            with conn.transaction():
                with conn.cursor(name="pii_cursor") as cur:
                    cur.execute("SELECT ssn, email, card, phone, notes FROM people")
                    cur.fetchmany(1)
                    cur.fetchall()
        except psycopg.Error:
            pass
        try:
            with conn.transaction():
                conn.execute("DECLARE c CURSOR FOR SELECT * FROM people")
                conn.execute("FETCH 1 FROM c").fetchall()
                conn.execute("FETCH ALL FROM c").fetchall()
        except psycopg.Error:
            pass
        # Denied, with a literal the client typed.
        denied = attempt(conn, f"DELETE FROM people WHERE ssn = '{TYPED['denied_ssn']}'")
        assert isinstance(denied, psycopg.errors.InsufficientPrivilege), denied
    return notices


def run_held(pw):
    """An UPDATE with a typed value waits for people; root denies it."""
    result = {}

    def client():
        with pw.connect(dbname=DB, autocommit=True) as conn:
            result["outcome"] = attempt(conn, f"UPDATE people SET notes = '{TYPED['held_email']}' WHERE id = 2")

    t = threading.Thread(target=client)
    t.start()
    deadline = time.monotonic() + 15
    pending = []
    while time.monotonic() < deadline and not pending:
        reply = unix_request(pw.config["admin_socket"], "GET", "/v1/approvals").json()
        pending = [a for a in reply["approvals"] if a["state"] == "pending"]
        time.sleep(0.05)
    assert pending, pw.log_tail()
    r = subprocess.run([binary_path(), "approvals", "deny", pending[0]["id"], "--admin-socket",
                        pw.config["admin_socket"]], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    t.join(30)
    assert isinstance(result.get("outcome"), psycopg.Error), result


def gather(pw, rec_dir, hook):
    """(where, bytes) of everything pgwarden wrote or answers."""
    blobs = []
    skip = {os.path.realpath(pw.password_file)}
    for root, _, names in os.walk(pw.dir):
        for name in names:
            path = os.path.join(root, name)
            if os.path.realpath(path) in skip or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                blobs.append((path, f.read()))
    recordings = sorted(f for f in os.listdir(rec_dir) if f.endswith(".pgwrec"))
    assert recordings, "no recordings were written"
    decoded = 0
    for name in recordings:
        for i, (rtype, payload) in enumerate(records(os.path.join(rec_dir, name))):
            blobs.append((f"{name} record {i} ({rtype})", payload))
            decoded += 1
    assert decoded > 100, decoded
    sock = pw.config["admin_socket"]
    st = subprocess.run([binary_path(), "status", "-j", "--admin-socket", sock], capture_output=True, timeout=20)
    blobs.append(("status -j", st.stdout + st.stderr))
    st = subprocess.run([binary_path(), "status", "--admin-socket", sock], capture_output=True, timeout=20)
    blobs.append(("status", st.stdout + st.stderr))
    for path in ("/metrics", "/v1/decisions", "/v1/approvals?all", "/v1/status", "/v1/sessions"):
        blobs.append((path, unix_request(sock, "GET", path).body))
    hook.wait_for(2)  # the held UPDATE's request and its outcome
    blobs.append(("webhook bodies", json.dumps(hook.payloads).encode()))
    return blobs


def test_no_seeded_pii_or_password_in_anything_pgwarden_writes(make_pgwarden, db, cluster):
    hook = WebhookReceiver()
    hook.start()
    try:
        pw, rec_dir = pii_pgwarden(make_pgwarden, hook.url)
        notices = run_sessions(pw)
        run_held(pw)
        wait_closed(rec_dir, os.path.join(pw.dir, "recording.pub"), count=2)
        blobs = gather(pw, rec_dir, hook)
    finally:
        hook.stop()

    # What the session did is in the recordings, as the client got it: masked
    # rows, COPY data, notices and errors.
    server = [data for where, data in blobs if where.endswith("(server)")]
    kinds = {data[:1] for data in server}
    assert {b"D", b"d", b"N", b"E"} <= kinds, kinds
    assert any(("***-**-" + SEEDED["ssn"][-4:]).encode() in data for data in server)
    assert notices, "no notice reached the client"

    secret = needles(SEEDED, "seeded") | needles({"password": cluster.app_password}, "upstream")
    hits = search(blobs, secret)
    assert not hits, f"{len(hits)} leak(s):\n" + "\n".join(f"{w}: {what} {n!r}" for w, what, n in hits[:40])
    # The notices the client got were masked too.
    assert not search([("notices", "\n".join(notices).encode())], secret)

    # Typed literals: recorded as the client sent them, shown to approvers...
    typed = needles(TYPED, "typed")
    where = {w for w, _, _ in search(blobs, {TYPED["denied_ssn"]: "", TYPED["held_email"]: ""})}
    assert any("(client)" in w for w in where), where
    assert "/v1/approvals?all" in where and "webhook bodies" in where, where
    # ...and nowhere else: not in the log, status or metrics.
    reviewers = ("/v1/approvals?all", "webhook bodies", "/v1/decisions")
    loose = [(w, what, n) for w, what, n in search(blobs, typed)
             if "(client)" not in w and "(event)" not in w and w not in reviewers and not w.endswith(".pgwrec")]
    assert not loose, "typed literals outside the recording and approval views:\n" + "\n".join(map(str, loose))

    # The search finds what it looks for: the same values fetched directly.
    with psycopg.connect(**cluster.app_conninfo(dbname=DB)) as direct:
        rows = direct.execute("SELECT row_to_json(p)::text FROM people p").fetchall()
    found = {what.split(" (")[0] for _, what, _ in search([("direct", repr(rows).encode())], secret)}
    assert found >= {f"seeded {k}" for k in SEEDED}, found
