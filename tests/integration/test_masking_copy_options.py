"""COPY options are read exactly as PostgreSQL reads them.

pgwarden splits COPY rows with the format the statement asks for; if it
reads an option differently from the server (a header it expects but the
server does not send, a delimiter it does not know), it masks the wrong
bytes. Each spelling here runs directly against PostgreSQL and through
pgwarden with the masking policy: the same lines arrive, the header line
(when the server sends one) unchanged, the id column unchanged (so the
fields were split where the server put the delimiter), and no masked value
in clear. Spellings the server refuses are refused by pgwarden too, before
they run.
"""

import csv
import io

import psycopg
import pytest

from harness import Pgwarden
from harness import masking

QUERY = "COPY (SELECT id, ssn, email FROM customers WHERE id <= 5 ORDER BY id) TO STDOUT "

# options, CSV?, delimiter, quote, header line sent?
SPELLINGS = [
    ("", False, "\t", None, False),
    ("WITH (FORMAT csv)", True, ",", '"', False),
    ("(FORMAT CSV)", True, ",", '"', False),
    ("(FORMAT (csv))", True, ",", '"', False),
    ("(FORMAT csv, HEADER)", True, ",", '"', True),
    ("(FORMAT csv, HEADER 'OFF')", True, ",", '"', False),
    ("(FORMAT csv, HEADER 'False')", True, ",", '"', False),
    ("(FORMAT csv, HEADER off)", True, ",", '"', False),
    ("(FORMAT csv, HEADER 0)", True, ",", '"', False),
    ("(FORMAT csv, HEADER (false))", True, ",", '"', False),
    ("(FORMAT csv, HEADER 'oN')", True, ",", '"', True),
    ("(FORMAT csv, HEADER 1)", True, ",", '"', True),
    ("CSV HEADER", True, ",", '"', True),
    ("CSV HEADER DELIMITER AS ';' QUOTE AS '''' FORCE QUOTE *", True, ";", "'", True),
    ("(FORMAT csv, DELIMITER 1)", True, "1", '"', False),
    ("(FORMAT csv, DELIMITER *, QUOTE (x))", True, "*", "x", False),
    ("(FORMAT csv, NULL 0, HEADER true)", True, ",", '"', True),
    ("(DELIMITER '|')", False, "|", None, False),
    ("(FORMAT text, HEADER)", False, "\t", None, True),
    ("(FORMAT csv, ENCODING 'UTF8')", True, ",", '"', False),
]

REFUSED = [
    "(FORMAT 'CSV')",
    "(FORMAT csv, HEADER 'match')",
    "(FORMAT csv, HEADER 2)",
    "(FORMAT csv, HEADER 'yes')",
    "(DELIMITER 1)",
    "(FORMAT csv, QUOTE ',')",
    "(FORMAT binary, HEADER)",
    "(FORCE_QUOTE *)",
]


@pytest.fixture(scope="module")
def masked(cluster, tmp_path_factory):
    masking.create_database(cluster)
    overrides = masking.config_overrides(str(tmp_path_factory.mktemp("copyopts")))
    with Pgwarden(cluster, overrides=overrides) as pw:
        yield pw


def copy_lines(conn, sql):
    lines = []
    with conn.cursor() as cur:
        with cur.copy(sql) as copy:
            for data in copy:
                lines.append(bytes(data).decode(errors="replace"))
    return lines


def fields(line, is_csv, delimiter, quote):
    line = line.rstrip("\n")
    if is_csv:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter, quotechar=quote))
    return line.split(delimiter)


def through(pw):
    return psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={masking.DB}", autocommit=True)


@pytest.mark.parametrize("options,is_csv,delimiter,quote,header", SPELLINGS, ids=[s[0] or "default" for s in SPELLINGS])
def test_copy_spelling_reads_as_the_server_reads_it(cluster, masked, options, is_csv, delimiter, quote, header):
    sql = QUERY + options
    with cluster.connect_app(masking.DB, autocommit=True) as direct:
        expected = copy_lines(direct, sql)
    with through(masked) as conn:
        got = copy_lines(conn, sql)
    # What the server sent is what this table says it sends.
    assert len(expected) == 5 + (1 if header else 0)
    first = fields(expected[0], is_csv, delimiter, quote)
    assert (first == ["id", "ssn", "email"]) == header, expected[0]
    # Through pgwarden: same lines, ids in place, no value in clear.
    assert len(got) == len(expected)
    rows = masking.checked_rows()
    for line in got:
        for column in ("ssn", "email"):
            for row in rows[:5]:
                assert row[column] not in line, f"{row[column]!r} in {line!r}"
    data_expected = expected[1:] if header else expected
    data_got = got[1:] if header else got
    for e, g in zip(data_expected, data_got):
        assert fields(g, is_csv, delimiter, quote)[0] == fields(e, is_csv, delimiter, quote)[0]
        assert len(fields(g, is_csv, delimiter, quote)) == 3, g
    if header:
        # The header line holds column names, in text format too (PostgreSQL 15).
        assert got[0] == expected[0]


@pytest.mark.parametrize("options", REFUSED)
def test_copy_spellings_the_server_refuses_are_refused(cluster, masked, options):
    sql = QUERY + options
    with cluster.connect_app(masking.DB, autocommit=True) as direct:
        with pytest.raises(psycopg.errors.Error) as server:
            copy_lines(direct, sql)
        assert server.value.sqlstate not in (None, "42501")
    with through(masked) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            copy_lines(conn, sql)
        assert info.value.diag.message_primary.startswith(
            "pgwarden: COPY with options pgwarden cannot read while masking is in force")
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_in_another_encoding_is_refused_while_masking(cluster, masked):
    sql = QUERY + "(FORMAT csv, ENCODING 'GB18030')"
    with cluster.connect_app(masking.DB, autocommit=True) as direct:
        assert len(copy_lines(direct, sql)) == 5  # the server accepts it (GB18030 has a 0x5C second byte)
    with through(masked) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            copy_lines(conn, sql)
        assert "encoding other than the session's" in info.value.diag.message_primary
