"""strict: true blocks inference by filtering: a statement that uses a masked
column in WHERE, JOIN, GROUP BY, HAVING, ORDER BY (at any level) is refused
with 42501 before it runs; reading the masked column itself still works
(masked), and the session goes on."""

import psycopg
import pytest

from harness import Pgwarden
from harness import masking

PROBES = [
    "SELECT id FROM customers WHERE ssn LIKE '123%'",
    "SELECT count(*) FROM customers WHERE substr(card_number, 1, 1) = '4'",
    "SELECT id FROM customers ORDER BY ssn LIMIT 1",
    "SELECT count(*) FROM customers GROUP BY email",
    "SELECT 1 FROM customers GROUP BY id HAVING max(phone) > '5'",
    "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id AND c.ssn < '5'",
    "SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email LIKE 'a%')",
    "SELECT DISTINCT ON (ssn) id FROM customers",
    "SELECT row_number() OVER (ORDER BY card_number) FROM customers",
    "WITH c AS (SELECT ssn AS s, id FROM customers) SELECT id FROM c WHERE s > '5'",
    "SELECT id FROM tax_ids WHERE tax_id LIKE '1%'",
    "SELECT a.id FROM customers a JOIN customers b ON a.ssn = b.ssn",
    "SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM customers d WHERE d.phone = c.phone AND d.id <> c.id)",
    "SELECT id FROM customers WHERE customer_ssn(id) LIKE '123%'",
]

ALLOWED = [
    "SELECT id, ssn FROM customers WHERE id = 1",
    "SELECT count(*) FROM customers",
    "SELECT email FROM customers ORDER BY id LIMIT 3",
]


@pytest.fixture(scope="module")
def strict(cluster, tmp_path_factory):
    masking.create_database(cluster)
    overrides = masking.config_overrides(str(tmp_path_factory.mktemp("strict")), strict=True)
    with Pgwarden(cluster, overrides=overrides) as pw:
        yield pw


@pytest.mark.parametrize("sql", PROBES)
def test_filter_probes_are_denied(strict, sql):
    with psycopg.connect(f"host=127.0.0.1 port={strict.port} user=alice dbname={masking.DB}",
                         autocommit=True) as conn:
        for prepare in (False, True):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                conn.execute(sql, prepare=prepare)
            assert info.value.sqlstate == "42501"
            assert info.value.diag.message_primary == "pgwarden: filtering on masked values denied by policy for agent"
            # The session stays usable.
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_reading_masked_columns_is_still_allowed(strict):
    with psycopg.connect(f"host=127.0.0.1 port={strict.port} user=alice dbname={masking.DB}",
                         autocommit=True) as conn:
        for sql in ALLOWED:
            rows = conn.execute(sql).fetchall()
            assert rows
        ssn = conn.execute("SELECT ssn FROM customers WHERE id = 1").fetchone()[0]
        assert ssn.startswith("***-**-")


def test_without_strict_the_same_probe_runs(cluster, tmp_path):
    masking.create_database(cluster)
    with Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path))) as pw:
        with psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={masking.DB}") as conn:
            assert conn.execute(PROBES[0]).fetchall() is not None
