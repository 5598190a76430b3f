"""No masked value leaves pgwarden, whatever the query shape.

Every query of masking/leak_corpus.tsv runs through pgwarden with the masking
policy (harness/masking.py), each in its own psql, through a tap that records
every byte pgwarden sends to the client. The recording is searched for each
raw value of customers 1..25 (ssn, card_number, email, phone, and the PII
planted in notes and profile) and its trivial transforms: reversed, upper and
lower case, digits only, hex, base64, split by a separator. Zero hits.

The PII that only detectors protect (notes, profile, the admin's planted
tickets with IBANs and secrets) is searched as stored: a query that
transforms it (reverse(notes)) is beyond what a detector can see, so the
corpus only selects it as it is.

The same corpus run directly against PostgreSQL, through the same tap and
psql, must hit for (nearly) every entry: otherwise the search would prove
nothing.
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


def run_psql(port, sql, user="alice", env=None):
    # VERBOSITY=verbose: errors show their SQLSTATE.
    return subprocess.run(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", masking.DB,
         "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", sql],
        capture_output=True, env=env or client_env(), timeout=60)


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
        # Refused by masking itself (the policy allows the verb), before it ran.
        assert r.returncode != 0, f"{sql!r} ran: {r.stdout[-500:]!r}"
        first = stderr.split("\n")[0]
        assert first.startswith("ERROR:  42501: pgwarden:"), stderr
        assert "masked values" in first or "masking" in first, stderr
    else:
        # The server's own error (its SQLSTATE, not pgwarden's), its text
        # scrubbed: the fixed wording of its format, or when the message has
        # no known format, pgwarden's sentence saying it was withheld.
        first = stderr.split("\n")[0]
        assert r.returncode != 0 and first.startswith("ERROR:  "), stderr
        assert "42501" not in first, stderr
        assert "pgwarden:" not in first or first.endswith("pgwarden: the server's message was withheld"), stderr
    # The session ended normally: no masking failure anywhere.
    assert "could not check a result" not in stderr
    assert pw.alive()


def single_queries():
    """The corpus' plain read queries (one statement, no COPY, cursor or
    SQL-level PREPARE): those a driver can run as a prepared statement."""
    out = []
    for param in CASES:
        outcome, sql = param.values
        if outcome == "ok" and ";" not in sql and not sql.startswith(("COPY", "UPDATE", "\\")):
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
    failures = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for sql in queries:
            tap.take()
            for _ in range(2):
                with conn.cursor(binary=binary) as cur:
                    cur.execute(sql, prepare=True)
                    cur.fetchall()
            hits = masking.leaks(tap.take(), NEEDLES)
            if hits:
                failures.append(f"{sql!r}:\n    " + "\n    ".join(hits[:3]))
    assert not failures, f"{len(failures)} of {len(queries)} queries leaked:\n" + "\n".join(failures)


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


GLUED_ID = 100002


@pytest.fixture
def ssn_in_an_email_domain(masked, cluster):
    """A customer whose e-mail hides an SSN in its domain, which the email
    mask keeps (found by the `mask` fuzz target). Removed afterwards, so the
    other tests see the table they expect."""
    email = "ann@ex123-45-6789xample.com"
    cluster.execute("INSERT INTO public.customers (id, name, email, ssn, card_number, phone) "
                    "VALUES (%s, 'Glued Account', %s, '987-65-4320', '4000 0000 0000 0010', '+1 415 555 0100')",
                    (GLUED_ID, email), dbname=masking.DB)
    try:
        yield email
    finally:
        cluster.execute("DELETE FROM public.customers WHERE id = %s", (GLUED_ID,), dbname=masking.DB)


def test_what_a_column_rule_keeps_goes_through_the_detectors(masked, ssn_in_an_email_domain):
    """The email mask keeps the domain and partial keeps the ends: what they
    keep is text the client sees, so the policy's detectors scan it too. In
    text and binary results, and in COPY."""
    pw, tap = masked
    masked_email = "a**@ex***********xample.com"
    tap.take()
    result = run_psql(tap.port, f"SELECT email FROM customers WHERE id = {GLUED_ID}")
    assert result.returncode == 0, result.stderr.decode()
    assert masked_email in result.stdout.decode()
    # COPY of the table applies the column rule (COPY of a query masks the
    # derived value whole).
    copy = run_psql(tap.port, "COPY customers (id, email) TO STDOUT")
    assert copy.returncode == 0, copy.stderr.decode()
    assert f"{GLUED_ID}\t{masked_email}\n" in copy.stdout.decode()
    conninfo = f"host=127.0.0.1 port={tap.port} user=alice dbname={masking.DB}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT email FROM customers WHERE id = %s", (GLUED_ID,))
            assert cur.fetchone() == (masked_email,)
    wire = tap.take()
    assert b"123-45-6789" not in wire and b"123456789" not in wire
    # An ordinary address keeps its domain: the scan masks hits, not domains.
    with psycopg.connect(conninfo, autocommit=True) as conn:
        email = conn.execute("SELECT email FROM customers WHERE id = 1").fetchone()[0]
    raw = masking.checked_rows()[0]["email"]
    assert email.endswith(raw[raw.index("@"):]) and email != raw


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


# Entries whose output, run directly, holds no searched form of a value: the
# transform is one the search does not undo (hashes, codes, translated
# digits), or the value is not what the searched rows hold. They still belong
# in the corpus: pgwarden must mask them all the same.
OPAQUE_DIRECTLY = {
    "md5 and sha", "ascii codes", "translate digits", "substr pieces", "overlay", "split_part",
    "binary COPY of a table without masked or text columns",
}


def direct_sql(outcome, sql):
    """The entry as it runs directly: what pgwarden refuses would really
    write there, so it runs inside a transaction that is rolled back."""
    if outcome == "denied" or sql.startswith(("UPDATE", "INSERT", "CREATE")):
        return f"BEGIN; {sql}; ROLLBACK"
    return sql


def test_the_search_finds_values_when_nothing_masks_them(cluster):
    """Self-check: the same corpus, directly against PostgreSQL through the
    same tap and psql, puts searched values on the wire, entry by entry."""
    masking.create_database(cluster)
    silent = []
    kinds, transforms = set(), set()
    with masking.Tap(cluster.host, cluster.port) as tap:
        for param in CASES:
            outcome, sql = param.values
            shape = param.id.split("-", 1)[1]
            tap.take()
            run_psql(tap.port, direct_sql(outcome, sql), user=cluster.app_user, env=cluster.app_env())
            hits = masking.leaks(tap.take(), NEEDLES)
            # A refused write shows nothing when it runs: its refusal is what
            # the test through pgwarden checks.
            if not hits and outcome != "denied" and shape not in OPAQUE_DIRECTLY:
                silent.append(f"{shape}: {sql}")
            for h in hits:
                what = h.split(":")[0]
                kinds.add(what.split(" (")[0].split(" ", 2)[-1])
                if "(" in what:
                    transforms.add(what.split("(")[1].split(")")[0])
    assert not silent, "entries that show no searched value even directly:\n" + "\n".join(silent)
    # Every masked column leaks directly, and so do the transforms searched for.
    for column in ("ssn", "card_number", "email", "phone"):
        assert column in kinds, sorted(kinds)
    for t in ("raw", "reversed", "upper", "hex", "base64", "characters split by ','",
              "characters split by ' '", "detectors only"):
        assert t in transforms, sorted(transforms)
