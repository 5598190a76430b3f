"""strict: true promises that masked values cannot be inferred, not just
that they are not shown. Filters on them are refused (test_masking_strict);
these tests read a value back through what a masked output still tells:

- its length: a derived text value is starred one '*' per character, so
  repeat('x', ascii(substr(ssn, i, 1))) shows the i-th character's code as
  a count of stars;
- whether it is NULL: CASE WHEN <bit of the value> THEN 'a' END shows one
  bit per column;
- how many rows it makes: a set-returning function over a masked value in
  the select list (generate_series(1, ascii(...))) shows a code as a row
  count, next to a clean column that says which character it was.

Each test tries to decode customers 1..5's SSNs in one query per row and
passes when pgwarden refuses the query (42501) or the decoded text is not
the value. A self-check decodes the same queries directly, to show that the
decoders work.
"""

import collections

import psycopg
import pytest

from harness import Pgwarden
from harness import masking

ROWS = range(1, 6)
SSN_LENGTH = 11


def length_query(row_id):
    cols = ", ".join(f"repeat('x', ascii(substr(ssn, {i}, 1)))" for i in range(1, SSN_LENGTH + 1))
    return f"SELECT {cols} FROM customers WHERE id = {row_id}"


def decode_lengths(rows):
    return "".join(chr(len(v)) if v else "?" for v in rows[0])


def null_query(row_id):
    cols = ", ".join(f"CASE WHEN (ascii(substr(ssn, {i}, 1)) >> {b}) & 1 = 1 THEN 'a' END"
                     for i in range(1, SSN_LENGTH + 1) for b in range(7))
    return f"SELECT {cols} FROM customers WHERE id = {row_id}"


def decode_nulls(rows):
    bits = [v is not None for v in rows[0]]
    return "".join(chr(sum(1 << b for b in range(7) if bits[i * 7 + b])) for i in range(SSN_LENGTH))


def row_count_query(row_id):
    return (f"SELECT i, generate_series(1, ascii(substr(ssn, i, 1))) FROM customers, "
            f"generate_series(1, {SSN_LENGTH}) i WHERE id = {row_id}")


def decode_row_counts(rows):
    counts = collections.Counter(i for i, _ in rows)
    return "".join(chr(counts[i]) for i in range(1, SSN_LENGTH + 1))


CHANNELS = {
    "length": (length_query, decode_lengths),
    "NULL-ness": (null_query, decode_nulls),
    "row count": (row_count_query, decode_row_counts),
}


@pytest.fixture(scope="module")
def strict(cluster, tmp_path_factory):
    masking.create_database(cluster)
    overrides = masking.config_overrides(str(tmp_path_factory.mktemp("inference")), strict=True)
    with Pgwarden(cluster, overrides=overrides) as pw:
        yield pw


def recovered(conn, channel):
    """{row id: decoded text} for the rows whose query was not refused."""
    query, decode = CHANNELS[channel]
    out = {}
    for row_id in ROWS:
        try:
            out[row_id] = decode(conn.execute(query(row_id)).fetchall())
        except psycopg.errors.InsufficientPrivilege as exc:
            assert exc.diag.message_primary.startswith("pgwarden:"), exc
    return out


# Known gaps, kept visible: a masked derived value keeps its NULL-ness, and a
# set-returning function over a masked value still makes its rows. strict=True:
# the day pgwarden closes one, this test fails until the mark goes.
KNOWN_OPEN = {
    "NULL-ness": "a derived value that is NULL stays NULL: one bit per column",
    "row count": "a set-returning function over a masked value still makes that many rows",
}


@pytest.mark.parametrize("channel", [
    pytest.param(c, marks=pytest.mark.xfail(reason=KNOWN_OPEN[c], strict=True)) if c in KNOWN_OPEN else c
    for c in CHANNELS])
def test_strict_masked_values_cannot_be_read_back(strict, channel):
    raw = {i: masking.checked_rows()[i - 1]["ssn"] for i in ROWS}
    with psycopg.connect(f"host=127.0.0.1 port={strict.port} user=alice dbname={masking.DB}",
                         autocommit=True) as conn:
        got = recovered(conn, channel)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on
    readable = {i: v for i, v in got.items() if v == raw[i]}
    assert not readable, f"the {channel} of masked outputs gives the SSNs back: {readable}"


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_the_decoders_work_directly(cluster, channel):
    masking.create_database(cluster)
    with cluster.connect_app(masking.DB, autocommit=True) as conn:
        got = recovered(conn, channel)
    assert got == {i: masking.checked_rows()[i - 1]["ssn"] for i in ROWS}
