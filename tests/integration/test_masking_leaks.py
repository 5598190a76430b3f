"""No masked value leaves pgwarden, whatever the query shape.

Every query of masking/leak_corpus.tsv runs through pgwarden with the masking
policy (harness/masking.py), each in its own psql, through a tap that records
every byte pgwarden sends to the client. The recording is searched for each
raw value of customers 1..25 (ssn, card_number, email, phone, and the PII
planted in notes and profile) and its trivial transforms: reversed, upper and
lower case, digits only, hex, base64, split by a separator. Zero hits.

The same corpus run directly against PostgreSQL must hit: otherwise the
search would prove nothing.
"""

import os
import subprocess

import psycopg
import pytest

from harness import client_env
from harness import masking

CORPUS = os.path.join(os.path.dirname(__file__), "masking", "leak_corpus.tsv")


def load_corpus():
    entries = []
    with open(CORPUS, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            outcome, shape, sql = line.split("\t")
            entries.append(pytest.param(outcome, sql, id=f"{number}-{shape}"))
    return entries


CASES = load_corpus()
NEEDLES = masking.needles()


def run_psql(port, sql):
    return subprocess.run(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "alice", "-d", masking.DB,
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, env=client_env(), timeout=60)


@pytest.fixture(scope="module")
def masked(cluster, tmp_path_factory):
    masking.create_database(cluster)
    from harness import Pgwarden
    overrides = masking.config_overrides(str(tmp_path_factory.mktemp("mask")))
    with Pgwarden(cluster, overrides=overrides) as pw:
        with masking.Tap("127.0.0.1", pw.port) as tap:
            yield pw, tap


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("outcome,sql", CASES)
def test_no_masked_value_reaches_the_client(masked, outcome, sql):
    pw, tap = masked
    tap.take()
    r = run_psql(tap.port, sql)
    captured = tap.take()
    stderr = r.stderr.decode(errors="replace")
    hits = masking.leaks(captured, NEEDLES)
    assert not hits, f"{len(hits)} leak(s) for {sql!r}:\n" + "\n".join(hits[:20])
    if outcome == "ok":
        assert r.returncode == 0, f"{sql!r} failed: {stderr}"
    elif outcome == "denied":
        assert r.returncode != 0 and "pgwarden:" in stderr and "denied by policy" in stderr, stderr
    else:
        assert r.returncode != 0 and "ERROR" in stderr and "pgwarden:" not in stderr.split("\n")[0], stderr
    # The session ended normally: no masking failure anywhere.
    assert "could not check a result" not in stderr
    assert pw.alive()


def single_queries():
    """The corpus' plain read queries (one statement, no COPY, cursor or
    SQL-level PREPARE): those a driver can run as a prepared statement."""
    out = []
    for param in CASES:
        outcome, sql = param.values
        if outcome == "ok" and ";" not in sql and not sql.startswith(("COPY", "UPDATE")):
            out.append(sql)
    return out


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_the_corpus_through_prepared_statements(masked, binary):
    """Every plain read query of the corpus again, as psycopg runs it with
    prepare=True (extended protocol: Parse, then Bind/Describe/Execute, and
    from the second run on, Bind/Execute of the prepared statement), with
    text or binary results."""
    pw, tap = masked
    conninfo = f"host=127.0.0.1 port={tap.port} user=alice dbname={masking.DB}"
    queries = single_queries()
    assert len(queries) >= 50
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for sql in queries:
            tap.take()
            for _ in range(2):
                with conn.cursor(binary=binary) as cur:
                    cur.execute(sql, prepare=True)
                    cur.fetchall()
            hits = masking.leaks(tap.take(), NEEDLES)
            assert not hits, f"{sql!r}:\n" + "\n".join(hits[:20])


def test_prepared_statements_with_binary_results(masked):
    """psycopg in binary mode, server-side prepared statements with a
    parameter (Parse once, Bind/Execute many, results in binary format)."""
    pw, tap = masked
    tap.take()
    queries = [
        "SELECT id, ssn, email, card_number, phone FROM customers WHERE id <= %s",
        "SELECT upper(ssn), row_to_json(c), to_jsonb(c) FROM customers c WHERE c.id <= %s",
        "SELECT profile, notes FROM customers WHERE id <= %s",
        "SELECT customer_ssn(id), reverse(email) FROM customers WHERE id <= %s",
        "SELECT * FROM tax_ids WHERE id <= %s",
    ]
    conninfo = f"host=127.0.0.1 port={tap.port} user=alice dbname={masking.DB}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for q in queries:
            for _ in range(3):
                with conn.cursor(binary=True) as cur:
                    cur.execute(q, (masking.CHECKED_IDS,), prepare=True)
                    assert len(cur.fetchall()) >= 1
    hits = masking.leaks(tap.take(), NEEDLES)
    assert not hits, "\n".join(hits[:20])


def test_named_portals_and_partial_fetches(masked):
    """A server-side cursor through the extended protocol (psycopg named
    cursor: DECLARE + FETCH in batches) and binary rows."""
    pw, tap = masked
    tap.take()
    conninfo = f"host=127.0.0.1 port={tap.port} user=alice dbname={masking.DB}"
    with psycopg.connect(conninfo) as conn:
        with conn.cursor(name="agent_cursor", binary=True) as cur:
            cur.itersize = 7
            cur.execute("SELECT id, ssn, email || '' FROM customers WHERE id <= %s ORDER BY id",
                        (masking.CHECKED_IDS,))
            rows = list(cur)
        assert len(rows) == masking.CHECKED_IDS
        assert all(r[1].startswith("***-**-") for r in rows)
    hits = masking.leaks(tap.take(), NEEDLES)
    assert not hits, "\n".join(hits[:20])


def test_notifications_and_notices_are_scrubbed(masked, cluster):
    """A NOTIFY payload sent by someone else, and a notice raised by the
    server, carry values pgwarden cannot trace: the detectors scrub them."""
    pw, tap = masked
    tap.take()
    ssn = masking.checked_rows()[0]["ssn"]
    conninfo = f"host=127.0.0.1 port={tap.port} user=alice dbname={masking.DB}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        received = []
        conn.add_notify_handler(received.append)
        conn.execute("LISTEN agent_channel")
        cluster.execute(f"NOTIFY agent_channel, 'customer ssn {ssn}'", dbname=masking.DB)
        for _ in range(50):  # delivered with the next result the client reads
            conn.execute("SELECT pg_sleep(0.02)")
            if received:
                break
        assert len(received) == 1
        assert ssn not in received[0].payload
        assert received[0].payload.startswith("customer ssn ")
    hits = masking.leaks(tap.take(), NEEDLES)
    assert not hits, "\n".join(hits[:20])


def test_the_search_finds_values_when_nothing_masks_them(cluster):
    """Self-check: the same corpus, directly against PostgreSQL, leaks."""
    masking.create_database(cluster)
    with cluster.connect_app(masking.DB, autocommit=True) as conn:
        raw = bytearray()
        for param in CASES:
            outcome, sql = param.values
            if outcome != "ok" or "COPY" in sql or "BEGIN" in sql or "PREPARE" in sql:
                continue
            with conn.cursor() as cur:
                cur.execute(sql)
                if cur.description:
                    raw += repr(cur.fetchall()).encode()
        hits = masking.leaks(bytes(raw), NEEDLES)
    kinds = {h.split(":")[0].split(" (")[0].split(" ", 2)[2] for h in hits}
    # Every masked column leaks directly, and so do several transforms.
    for column in ("ssn", "card_number", "email", "phone"):
        assert column in kinds, sorted(kinds)
    transforms = {h.split("(")[1].split(")")[0] for h in hits if "(" in h}
    for t in ("raw", "reversed", "upper", "hex", "base64"):
        assert t in transforms, sorted(transforms)
