"""The detectors see a value whatever its type and format: arrays of any
depth, records, composites, bytea, jsonb[], numbers, in text and in binary,
read the way a driver reads them (psycopg decodes every value, so a binary
int8 or a nested array is searched as the client sees it, not as bytes).

Each query puts PII that only the detectors protect (customers.notes and
profile, the admin's planted tickets) into a value of another type. Directly
against PostgreSQL every query shows a searched value; through pgwarden none
does, and what comes back is still of its type (an array stays an array of
the same length, unaffected elements equal the direct ones).

The rule for numbers is the detectors' own: a number is judged by the text
it prints, exactly as a text column holding that text would be, and a hit
makes it NULL (a starred number is no number). Types that cannot print
anything a detector matches are not scanned at all; the last tests check
that claim on their extreme values in every DateStyle and IntervalStyle.
"""

import psycopg
import pytest

from harness import Pgwarden
from harness import masking

NEEDLES = masking.needles()

# (id, SQL): every query reads only customers 1..25 and the planted tickets.
QUERIES = [
    ("text[]", "SELECT ARRAY[notes, 'keep me'] FROM customers WHERE id <= 25 ORDER BY id"),
    ("text[][]", "SELECT ARRAY[ARRAY[notes, name], ARRAY[name, notes]] FROM customers WHERE id <= 25 ORDER BY id"),
    ("text[][][]", "SELECT ARRAY[ARRAY[ARRAY[body, 'keep me']]] FROM tickets ORDER BY id"),
    ("varchar[] with bounds", "SELECT array_fill(body::varchar, ARRAY[2], ARRAY[0]) FROM tickets ORDER BY id"),
    ("record", "SELECT ROW(id, body, payload) FROM tickets ORDER BY id"),
    ("record of notes", "SELECT (id, notes, profile) FROM customers WHERE id <= 25 ORDER BY id"),
    ("record[]", "SELECT ARRAY[ROW(id, body)] FROM tickets ORDER BY id"),
    ("record in array in record", "SELECT ROW(1, ARRAY[ROW(id, body)]) FROM tickets ORDER BY id"),
    ("table row type", "SELECT t FROM tickets t ORDER BY id"),
    ("bytea", "SELECT convert_to(body, 'UTF8') FROM tickets ORDER BY id"),
    ("bytea of notes", "SELECT convert_to(notes, 'UTF8') FROM customers WHERE id <= 25 ORDER BY id"),
    ("bytea[]", "SELECT ARRAY[convert_to(body, 'UTF8')] FROM tickets ORDER BY id"),
    ("bytea in a record", "SELECT ROW(id, convert_to(body, 'UTF8')) FROM tickets ORDER BY id"),
    ("jsonb[]", "SELECT ARRAY[payload] FROM tickets ORDER BY id"),
    ("jsonb[] of profiles", "SELECT array_agg(profile ORDER BY id) FROM customers WHERE id <= 25"),
    ("json[]", "SELECT ARRAY[payload::json] FROM tickets ORDER BY id"),
    ("numeric and int8", "SELECT regexp_replace(notes, '[^0-9]', '', 'g')::numeric, "
                         "regexp_replace(notes, '[^0-9]', '', 'g')::int8 "
                         "FROM customers WHERE id <= 25 AND notes LIKE 'Paid by card%' ORDER BY id"),
    ("float8", "SELECT regexp_replace(notes, '[^0-9]', '', 'g')::float8 FROM customers WHERE id = 6"),
    ("int8[] and int8range", "SELECT ARRAY[regexp_replace(notes, '[^0-9]', '', 'g')::int8], "
                             "int8range(regexp_replace(notes, '[^0-9]', '', 'g')::int8, NULL) "
                             "FROM customers WHERE id <= 25 AND notes LIKE 'Paid by card%' ORDER BY id"),
    ("tsvector", "SELECT to_tsvector('simple', body) FROM tickets ORDER BY id"),
]

# Composites of the database's own, created and rolled back per query.
COMPOSITE_QUERIES = [
    ("named composite", "CREATE TYPE pg_temp.ticket_t AS (id int, body text, payload jsonb)",
     "SELECT ROW(id, body, payload)::pg_temp.ticket_t FROM tickets ORDER BY id"),
    ("array of a named composite", "CREATE TYPE pg_temp.ticket_t AS (id int, body text)",
     "SELECT ARRAY[ROW(id, body)::pg_temp.ticket_t] FROM tickets ORDER BY id"),
    ("domain over text[]", "CREATE DOMAIN pg_temp.notes_list AS text[]",
     "SELECT ARRAY[notes]::pg_temp.notes_list FROM customers WHERE id <= 25 ORDER BY id"),
]


def rendered(value):
    """Every text a client could read off a fetched value, nested values
    included: str() of scalars, both decodings of bytes."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in rendered(v)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in rendered(k) + rendered(v)]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return [raw.decode("utf-8", "replace"), raw.hex()]
    if isinstance(value, psycopg.types.range.Range):
        return rendered(value.lower) + rendered(value.upper)
    if isinstance(value, float):
        return [repr(value), "%d" % value if value.is_integer() else repr(value)]
    return [str(value)]


def hits_in(rows):
    text = "\n".join(t for row in rows for t in rendered(row))
    return [f"{what}: {needle!r}" for needle, what in NEEDLES.items() if needle in text]


def fetch(conninfo, sql, binary, setup=None):
    connect = psycopg.connect(**conninfo) if isinstance(conninfo, dict) else psycopg.connect(conninfo)
    with connect as conn:
        # psycopg cannot parse the sql_standard interval style: text is enough.
        conn.adapters.register_loader("interval", psycopg.types.string.TextLoader)
        if setup:
            conn.execute(setup)
        with conn.cursor(binary=binary) as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        conn.rollback()
    return rows


@pytest.fixture(scope="module")
def db(cluster):
    return masking.create_database(cluster)


@pytest.fixture(scope="module")
def masked(cluster, db, tmp_path_factory):
    with Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path_factory.mktemp("types")))) as pw:
        yield pw


def through(masked):
    return f"host=127.0.0.1 port={masked.port} user=alice dbname={masking.DB}"


def direct(cluster):
    return cluster.app_conninfo(masking.DB)


ALL = [pytest.param(None, sql, id=name) for name, sql in QUERIES] + \
      [pytest.param(setup, sql, id=name) for name, setup, sql in COMPOSITE_QUERIES]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("setup,sql", ALL)
def test_every_type_class_leaks_directly_and_not_through_pgwarden(cluster, masked, setup, sql, binary):
    rows = fetch(direct(cluster), sql, binary, setup)
    assert hits_in(rows), f"the search finds nothing even directly: {rows[:2]!r}"
    got = fetch(through(masked), sql, binary, setup)
    assert len(got) == len(rows)
    hits = hits_in(got)
    assert not hits, f"{len(hits)} leak(s):\n" + "\n".join(hits[:20])


def test_masked_values_keep_their_type(cluster, masked):
    """An array stays an array of the same length and dimensions, only the
    elements with a hit change; a record's other fields stay; a bytea stays
    the same bytes around the masked stretch."""
    for binary in (False, True):
        sql = "SELECT ARRAY[body, 'keep me'], ARRAY[ARRAY[body], ARRAY['x']], convert_to(body, 'UTF8') " \
              "FROM tickets ORDER BY id"
        plain = fetch(direct(cluster), sql, binary)
        got = fetch(through(masked), sql, binary)
        for (arr, nested, raw), (m_arr, m_nested, m_raw) in zip(plain, got):
            assert isinstance(m_arr, list) and len(m_arr) == 2 and m_arr[1] == "keep me"
            assert len(m_arr[0]) == len(arr[0])  # redact keeps the length
            assert isinstance(m_nested, list) and [len(x) for x in m_nested] == [1, 1] and m_nested[1] == ["x"]
            assert isinstance(m_raw, bytes) and len(m_raw) == len(raw)
            if arr[0] == "Nothing sensitive in this ticket.":
                assert (m_arr, m_nested, m_raw) == (arr, nested, raw)
            else:
                assert m_arr[0] != arr[0] and "*" in m_arr[0]
                assert m_raw != raw and b"*" in m_raw
    # A text record's field with a hit becomes NULL; the others stay.
    rows = fetch(through(masked), "SELECT ROW(id, body, 'keep me') FROM tickets WHERE id = 1", False)
    assert rows[0][0] == ("1", None, "keep me")
    # In binary a record's fields carry their types: the text is masked in place.
    rows = fetch(through(masked), "SELECT ROW(id, body, 'keep me'::text) FROM tickets WHERE id = 1", True)
    ident, body, keep = rows[0][0]
    assert ident == 1 and keep == "keep me" and body.startswith("Refund to IBAN ***")


def test_numbers_follow_what_the_detectors_match_in_text(cluster, masked):
    """A number is judged by the text it prints, like a text column holding
    that text: a Luhn-valid card number is masked in a text column and
    nulled in int8 / numeric; nine bare digits (an SSN's, an advisory lock
    key's) are no SSN without 'ssn' before them, in a text column or an oid
    (pg_locks.objid) or int4 alike."""
    card = "4758920475812025"
    ssn_digits = "820335340"
    sql = (f"SELECT '{card}'::text, '{card}'::int8, '{card}'::numeric, "
           f"'{ssn_digits}'::text, '{ssn_digits}'::oid, '{ssn_digits}'::int4, '{ssn_digits}'::int8, "
           f"'SSN {ssn_digits}'::text")
    for binary in (False, True):
        row = fetch(through(masked), sql, binary)[0]
        assert row[0] == "*" * 16 and row[1] is None and row[2] is None
        assert row[3] == ssn_digits and row[4] == int(ssn_digits) and row[5] == int(ssn_digits)
        assert row[6] == int(ssn_digits)
        assert row[7] == "SSN *********"


# Extreme values of every type pgwarden does not scan (mask/type_shapes.cpp),
# printed as text: a text column IS scanned, so if any detector matched any of
# them, pgwarden would change the text and these tests would say which.
HIT_FREE_VALUES = [
    "true::bool", "(-32768)::int2", "32767::int2", "(-2147483648)::int4", "2147483647::int4",
    "4294967295::oid", "'4294967295'::xid", "'(4294967295,65535)'::tid",
    "'-3.4028235e+38'::float4", "'1.1754944e-38'::float4", "'123456.79'::float4", "'999999.94'::float4",
    "'0.00012345679'::float4", "'4713-01-01 BC'::date", "'5874897-12-31'::date",
    "'294276-12-31 23:59:59.999999'::timestamp", "'4713-01-01 00:00:00 BC'::timestamp",
    "'294276-12-31 23:59:59.999999+14'::timestamptz", "'1999-12-31 23:59:59.999999-12'::timestamptz",
    "'24:00:00'::time", "'23:59:59.999999-15:59'::timetz", "'00:00:00+15:59'::timetz",
    "'12345678-1234-1234-1234-123456789012'::uuid", "'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid",
    "'255.255.255.255/32'::inet", "'::ffff:192.168.100.200'::inet", "'2001:db8:1234:5678:9abc:def0:1234:5678'::cidr",
    "'08:00:2b:01:02:03'::macaddr", "'08:00:2b:01:02:03:04:05'::macaddr8", "'FFFFFFFF/FFFFFFFF'::pg_lsn",
    "int4range(-2147483648, 2147483647)", "daterange('4713-01-01 BC', '5874897-12-31')",
    "tstzrange('1999-12-31 23:59:59.999999-12', '294276-12-31 23:59:59.999999+14')",
    "int4multirange(int4range(1, 2147483647), int4range(-2147483648, 0))",
    "ARRAY[2147483647, -2147483648]::int4[]", "ARRAY['5874897-12-31'::date, '4713-01-01 BC']",
]


@pytest.mark.parametrize("datestyle", ["ISO, MDY", "SQL, MDY", "SQL, DMY", "Postgres, MDY", "Postgres, DMY",
                                       "German, DMY"])
def test_types_that_are_not_scanned_print_nothing_a_detector_matches(cluster, masked, datestyle):
    sql = "SELECT " + ", ".join(f"({v})::text" for v in HIT_FREE_VALUES)
    setup = f"SET DateStyle = '{datestyle}'; SET TimeZone = 'Pacific/Kiritimati'"
    assert fetch(through(masked), sql, False, setup) == fetch(direct(cluster), sql, False, setup)


def test_intervals_are_scanned_since_one_style_prints_a_phone(cluster, masked):
    """IntervalStyle sql_standard writes "+1-0 +820335340 +0:00:00": a '+'
    and nine digits, which the phone detector takes for a number in a text
    column. So intervals are scanned (and nulled on a hit), in either format;
    in the default style the same interval prints nothing a detector sees."""
    sql = "SELECT make_interval(years => 1, days => 820335340), make_interval(days => 5)"
    styled = "SET IntervalStyle = 'sql_standard'"
    for binary in (False, True):
        row = fetch(through(masked), sql, binary, styled)[0]
        assert row[0] is None and row[1] is not None
    row = fetch(through(masked), sql, False)[0]
    assert row[0] is not None
