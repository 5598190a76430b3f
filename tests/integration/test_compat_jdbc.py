"""Compatibility: pgJDBC (Debian's libpostgresql-jdbc-java) through
pgwarden's transparent path with the read-only agent's policy
(harness/compat.py).

compat_clients/MetadataJdbc.java asks DatabaseMetaData for the tables,
columns, primary keys, foreign keys and indexes of customers and orders
(and a view, and the schemas), once directly and once in the intercepted
cgroup: every answer must be the same, value for value. None of them holds
row data, so no mask applies.
"""

from pathlib import Path

import pytest

from harness import compat, jdbc

CLIENT = Path(__file__).resolve().parent / "compat_clients" / "MetadataJdbc.java"
SETUP_SQL = """
CREATE VIEW public.customer_contacts AS SELECT id, name, email FROM public.customers;
COMMENT ON TABLE public.customers IS 'who buys';
COMMENT ON COLUMN public.orders.amount IS 'in EUR';
"""


@pytest.fixture(scope="module")
def env(request):
    e = compat.CompatEnv(request, setup=lambda db: db.execute_app(SETUP_SQL))
    yield e
    e.close()


@pytest.fixture(scope="module")
def metadata(env):
    with jdbc.compiled(CLIENT) as classpath:
        return env.json_both(["java", "-cp", classpath, "MetadataJdbc", compat.DB_HOST, str(env.port),
                              env.db.app_user, compat.DB], connections=1)


def column(result, name):
    i = [c.upper() for c in result["columns"]].index(name)  # pgJDBC spells some in lower case
    return [row[i] for row in result["rows"]]


@pytest.mark.parametrize("call", ["getTables", "getTables all types", "getColumns customers", "getColumns orders",
                                  "getPrimaryKeys customers", "getPrimaryKeys orders", "getImportedKeys orders",
                                  "getExportedKeys customers", "getIndexInfo customers", "getIndexInfo orders",
                                  "getSchemas"])
def test_database_metadata(metadata, call):
    direct, via = metadata
    assert via[call] == direct[call]
    assert direct[call]["rows"], f"{call}: no rows directly"


def test_metadata_is_about_the_objects(metadata):
    """What the comparisons above compared is the schema under test."""
    direct, via = metadata
    assert via["user"] == direct["user"]
    assert via["product"] == direct["product"]
    assert sorted(column(direct["getTables"], "TABLE_NAME")) == ["customer_contacts", "customers", "orders"]
    assert column(direct["getTables"], "REMARKS")[column(direct["getTables"], "TABLE_NAME").index("customers")] \
        == "who buys"
    assert column(direct["getColumns customers"], "COLUMN_NAME") == \
        ["id", "name", "email", "ssn", "card_number", "phone", "notes", "profile"]
    assert column(direct["getColumns orders"], "REMARKS")[2] == "in EUR"
    assert column(direct["getPrimaryKeys customers"], "PK_NAME") == ["customers_pkey"]
    assert column(direct["getPrimaryKeys orders"], "COLUMN_NAME") == ["id"]
    assert column(direct["getImportedKeys orders"], "FK_NAME") == ["orders_customer_id_fkey"]
    assert sorted(column(direct["getIndexInfo orders"], "INDEX_NAME")) == ["orders_customer_id_idx", "orders_pkey"]
