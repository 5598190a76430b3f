"""Compatibility: SQLAlchemy 1.4 (Debian's python3-sqlalchemy, with its
psycopg2 dialect over python3-psycopg2) through pgwarden's transparent path
with the read-only agent's policy (harness/compat.py).

compat_clients/sqlalchemy_client.py runs once directly and once in the
intercepted cgroup:
- reflection (the inspector: tables, views, columns, primary and foreign
  keys, indexes, constraints, comments; MetaData.reflect) must be identical;
- ORM queries over declarative classes (a filter, order_by, count, a join, a
  relationship's lazy load, a page) must return the same rows, except that
  customers' masked columns must come masked.
"""

import importlib.util
from pathlib import Path

import pytest

from harness import compat

CLIENT = Path(__file__).resolve().parent / "compat_clients" / "sqlalchemy_client.py"
CUSTOMER_COLUMNS = ["id", "name", "email", "ssn", "card_number", "phone", "notes", "profile"]
SETUP_SQL = """
CREATE VIEW public.customer_contacts AS SELECT id, name, email FROM public.customers;
COMMENT ON TABLE public.customers IS 'who buys';
COMMENT ON COLUMN public.orders.amount IS 'in EUR';
ALTER TABLE public.orders ADD CONSTRAINT amount_positive CHECK (amount > 0);
CREATE UNIQUE INDEX customers_email_key ON public.customers (email);
"""


@pytest.fixture(scope="module")
def env(request):
    if importlib.util.find_spec("psycopg2") is None:  # SQLAlchemy 1.4's PostgreSQL driver
        pytest.skip("python3-psycopg2 missing (scripts/setup installs it)")
    e = compat.CompatEnv(request, setup=lambda db: db.execute_app(SETUP_SQL))
    yield e
    e.close()


@pytest.fixture(scope="module")
def runs(env):
    return env.json_both(["/usr/bin/python3", str(CLIENT), compat.DB_HOST, str(env.port), env.db.app_user, compat.DB],
                         connections=1, exact=False)


@pytest.mark.parametrize("part", ["schemas", "tables", "views", "sequences", "inspect", "metadata"])
def test_reflection(runs, part):
    direct, via = (r["reflection"] for r in runs)
    assert via[part] == direct[part]
    assert direct[part], f"{part}: empty directly"


def test_reflection_is_about_the_schema(runs):
    """What test_reflection compared is the schema under test."""
    direct = runs[0]["reflection"]
    assert direct["tables"] == ["customers", "orders"] and direct["views"] == ["customer_contacts"]
    customers, orders = direct["metadata"]["customers"], direct["metadata"]["orders"]
    assert [c[0] for c in customers["columns"]] == CUSTOMER_COLUMNS
    assert customers["pk"] == ["customers_pkey", ["id"]] and customers["comment"] == "who buys"
    assert orders["fks"] == [["orders_customer_id_fkey", "customer_id", "customers.id"]]
    assert ["customers_email_key", True, ["email"]] in customers["indexes"]
    assert direct["inspect"]["orders"]["checks"][0]["name"] == "amount_positive"


def test_core_select_on_reflected_table(runs):
    direct, via = (r["reflection"]["core_select"] for r in runs)
    masked = compat.check_customer_rows(direct, via, ["id", "email"], where="core select")
    assert masked == {"id": 0, "email": 3}, masked


CUSTOMER_QUERIES = ["filter_order_by", "select_desc", "filter_on_masked", "page"]


@pytest.mark.parametrize("query", CUSTOMER_QUERIES)
def test_orm_customer_rows(runs, query):
    direct, via = (r["orm"][query] for r in runs)
    assert direct, f"{query}: no rows directly"
    masked = compat.check_customer_rows(direct, via, CUSTOMER_COLUMNS, where=query)
    assert masked["email"] == masked["ssn"] == masked["card_number"] == len(direct), masked
    assert masked["id"] == masked["name"] == masked["phone"] == 0, masked


def test_orm_aggregates_and_joins(runs):
    direct, via = (r["orm"] for r in runs)
    # count() wraps the whole entity (masked columns included) in a subquery:
    # the count itself is no masked value.
    assert via["count"] == direct["count"] == len(direct["filter_order_by"]) > 0
    assert via["func_count"] == direct["func_count"] > 0
    assert via["group_by"] == direct["group_by"] and len(direct["group_by"]) > 0
    masked = compat.check_customer_rows(direct["join"], via["join"], ["order_id", "name", "email", "ssn"],
                                        where="join")
    assert masked == {"order_id": 0, "name": 0, "email": 30, "ssn": 30}, masked
    masked = compat.check_customer_rows([direct["relationship"]], [via["relationship"]],
                                        ["order_id", "customer_id"] + CUSTOMER_COLUMNS, where="relationship")
    assert masked["email"] == masked["ssn"] == 1 and masked["order_id"] == masked["customer_id"] == 0, masked
