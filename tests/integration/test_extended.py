"""The extended query protocol with binary parameters and results, prepared
statements and pipelining, through pgwarden compared with a direct session."""

import datetime
import hashlib
import decimal
import secrets
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

TYPED = """SELECT %b::int2, %b::int4, %b::int8, %b::numeric, %b::float8, %b::bool, %b::text,
                  %b::bytea, %b::timestamptz, %b::date, %b::interval, %b::uuid, %b::jsonb,
                  %b::int4[], %b::text[], %b::text"""
VALUES = [-32768, 2**31 - 1, -2**63, decimal.Decimal("-12345678901234567890.000000001"), 1.5e300,
          True, "ünïcødé ✓ \t tab", bytes(range(256)) * 4,
          datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc),
          datetime.date(1999, 12, 31), datetime.timedelta(days=3, seconds=7, microseconds=5),
          uuid.UUID("12345678-1234-5678-1234-567812345678"), Jsonb({"a": [1, None, "x"]}),
          [1, None, 3], ["a", "b,c", "\"q\""], None]


def test_binary_parameters_and_results_round_trip(pgwarden):
    with pgwarden.connect() as conn, conn.cursor(binary=True) as cur:
        cur.execute(TYPED, VALUES)
        row = list(cur.fetchone())
    expected = list(VALUES)
    expected[12] = {"a": [1, None, "x"]}
    assert row == expected


def test_binary_results_of_sample_tables_identical_to_direct(pgwarden, cluster):
    sql = """SELECT c.id, c.name, c.email, c.ssn, c.card_number, c.phone, c.notes, c.profile,
                    sum(o.amount), max(o.created_at), count(o.id)
             FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
             WHERE c.id BETWEEN %s AND %s GROUP BY c.id ORDER BY c.id"""
    results = []
    for conn in (pgwarden.connect(), cluster.connect_app()):
        with conn, conn.cursor(binary=True) as cur:
            cur.execute(sql, [100, 900])
            results.append(cur.fetchall())
    assert len(results[1]) == 801
    assert results[0] == results[1]


def test_prepared_statements_reused(pgwarden):
    with pgwarden.connect(autocommit=True) as conn:
        cur = conn.cursor(binary=True)
        for i in range(1, 51):
            cur.execute("SELECT id, name FROM customers WHERE id = %s", [i], prepare=True)
            assert cur.fetchone()[0] == i
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements "
                                "WHERE statement LIKE 'SELECT id, name FROM customers%'").fetchone()[0]
        assert prepared == 1
        # SQL-level PREPARE/EXECUTE/DEALLOCATE go through as plain statements.
        conn.execute("PREPARE q(int) AS SELECT $1 * 2")
        assert conn.execute("EXECUTE q(21)").fetchone()[0] == 42
        conn.execute("DEALLOCATE q")


def test_pipeline_mode(pgwarden):
    table = "pgw_pipe_" + secrets.token_hex(4)
    with pgwarden.connect(autocommit=True) as conn:
        conn.execute(f"CREATE TEMP TABLE {table} (id int PRIMARY KEY, v text)")
        with conn.pipeline():
            cur = conn.cursor()
            for i in range(500):
                cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", [i, f"v{i}"])
            bad = conn.cursor()
            count = conn.cursor()
            count.execute(f"SELECT count(*), sum(id) FROM {table}")
        assert count.fetchone() == (500, sum(range(500)))
        # An error in a pipeline aborts the rest of that pipeline only.
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.pipeline():
                bad.execute(f"INSERT INTO {table} VALUES (1, 'dup')")
                bad.execute(f"INSERT INTO {table} VALUES (1000, 'skipped')")
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 500


def test_large_binary_parameter(pgwarden):
    """A 16 MB bytea parameter (under the default max_message_size)."""
    blob = secrets.token_bytes(16 << 20)
    with pgwarden.connect() as conn, conn.cursor(binary=True) as cur:
        cur.execute("WITH p AS (SELECT %b::bytea AS b) SELECT b, length(b), md5(b) FROM p", [blob])
        back, length, digest = cur.fetchone()
    assert length == len(blob) and back == blob
    assert digest == hashlib.md5(blob).hexdigest()
