"""Hostile SQL through the masking path: no input may crash the engine.

`SELECT 1::int::int...` with 175,000 casts (one 875 KB Query) crashed
pgwarden with SIGSEGV, dropping every session through it: the lineage
tracer, which runs only while masking is in force, named the output column
by recursing once per cast. Now the statement is traced, and forwarded; the
server answers it with its own error, and the session and the engine go on.
A statement too deep to trace is refused with pgwarden's own error.
"""

import psycopg
import pytest

from harness import Pgwarden
from harness import masking

CASTS = 175_000


@pytest.fixture(scope="module")
def masked(cluster, tmp_path_factory):
    masking.create_database(cluster)
    overrides = masking.config_overrides(str(tmp_path_factory.mktemp("hostile")))
    with Pgwarden(cluster, overrides=overrides) as pw:
        yield pw


def connect(pw):
    return psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={masking.DB}", autocommit=True,
                           connect_timeout=10)


def test_a_hundred_seventy_five_thousand_casts_do_not_crash_the_engine(masked):
    sql = "SELECT 1" + "::int" * CASTS
    assert len(sql) > 870_000
    with connect(masked) as bystander, connect(masked) as conn:
        # Simple Query and Parse: the tracer reads both.
        for prepare in (False, True):
            with pytest.raises(psycopg.errors.Error) as info:
                conn.execute(sql, prepare=prepare)
            # An error for this statement (the server's own 54001: it does not
            # nest that deep either), not a dropped connection.
            assert info.value.sqlstate == "54001", info.value
            assert not conn.closed
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert masked.alive()
        # Another session through the same engine was not dropped.
        assert bystander.execute("SELECT ssn FROM customers WHERE id = 1").fetchone()[0].startswith("***-**-")
    masked.check_not_exited()


def test_masked_values_through_a_long_cast_chain_stay_masked(masked):
    with connect(masked) as conn:
        row = conn.execute("SELECT ssn" + "::text" * 2_000 + " FROM customers WHERE id = 1").fetchone()
        ssn = masking.checked_rows()[0]["ssn"]
        assert row[0] != ssn and row[0].startswith("***-**-")


def test_a_statement_too_deep_to_trace_is_refused(masked):
    sql = "SELECT * FROM (" * 1_000 + "SELECT ssn FROM customers" + ") s" * 1_000
    with connect(masked) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute(sql)
        assert info.value.diag.message_primary.startswith("pgwarden: a statement pgwarden cannot trace for masking")
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert masked.alive()
