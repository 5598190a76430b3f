"""Generated query shapes: a masked column wrapped in one to three random
expressions (string functions, casts, CASE, sub-selects, JSON and array
constructors, aggregates), read from random sources (the table, an alias,
a FROM sub-select, a CTE, the admin's view, a SQL function), through the
simple and the extended protocol, text and binary. Every byte the client
receives is searched for the checked rows' values and their transforms, as
in the hand-written corpus. The seed is fixed: a failure names the query.
"""

import random

import psycopg
import pytest

from harness import Pgwarden
from harness import masking

# Each wrapper takes an expression and returns one over it.
WRAPPERS = [
    lambda x: f"upper({x})",
    lambda x: f"lower({x})",
    lambda x: f"reverse({x})",
    lambda x: f"({x} || '')",
    lambda x: f"concat('<', {x}, '>')",
    lambda x: f"format('%s!', {x})",
    lambda x: f"substr({x}, 1, 40)",
    lambda x: f"trim({x})",
    lambda x: f"lpad({x}, 30, '.')",
    lambda x: f"translate({x}, '-', '')",
    lambda x: f"regexp_replace({x}, '[^0-9]', '', 'g')",
    lambda x: f"replace({x}, ' ', '')",
    lambda x: f"{x}::varchar",
    lambda x: f"CAST({x} AS text)",
    lambda x: f"coalesce({x}, 'none')",
    lambda x: f"nullif({x}, 'x')",
    lambda x: f"CASE WHEN length({x}) > 0 THEN {x} ELSE '' END",
    lambda x: f"(SELECT {x})",
    lambda x: f"to_json({x})::text",
    lambda x: f"json_build_object('v', {x})::text",
    lambda x: f"jsonb_build_array({x}, 1)::text",
    lambda x: f"ARRAY[{x}]::text",
    lambda x: f"row({x}, 1)::text",
    lambda x: f"encode(convert_to({x}, 'UTF8'), 'hex')",
    lambda x: f"encode(convert_to({x}, 'UTF8'), 'base64')",
    lambda x: f"split_part({x}, '@', 1)",
    lambda x: f"array_to_string(string_to_array({x}, NULL), ',')",
    lambda x: f"left({x}, 50)",
    lambda x: f"initcap({x})",
    lambda x: f"quote_literal({x})",
]

COLUMNS = ["ssn", "card_number", "email", "phone"]

# (FROM clause, how a column is named in it); every source reads customers 1..25.
SOURCES = [
    ("customers c WHERE c.id <= 25", "c.{col}"),
    ("customers WHERE id <= 25", "{col}"),
    ("(SELECT * FROM customers WHERE id <= 25) s", "s.{col}"),
    ("(SELECT id, {col} AS v FROM customers WHERE id <= 25) s", "s.v"),
    ("(SELECT id, {col} FROM customers WHERE id <= 25) s(i, w)", "w"),
    ("customer_contacts v WHERE v.id <= 25 AND '{col}' IN ('email', 'phone')", "v.{col}"),
]


def cte_query(col, expr_of):
    return f"WITH t AS (SELECT {col} AS x FROM customers WHERE id <= 25) SELECT {expr_of('x')} FROM t"


def generate(n, seed=20261125):
    rng = random.Random(seed)
    queries = []
    while len(queries) < n:
        col = rng.choice(COLUMNS)
        wrappers = [rng.choice(WRAPPERS) for _ in range(rng.randint(1, 3))]

        def wrap(x):
            for w in wrappers:
                x = w(x)
            return x

        shape = rng.randrange(10)
        if shape == 0:
            queries.append(cte_query(col, wrap))
            continue
        if shape == 1:
            queries.append(f"SELECT string_agg({wrap(col)}, ';') FROM customers WHERE id <= 25")
            continue
        if shape == 2:
            queries.append(f"SELECT {wrap('customer_ssn(id)')} FROM customers WHERE id <= 25")
            continue
        source, name = rng.choice(SOURCES)
        if "customer_contacts" in source and col not in ("email", "phone"):
            continue
        queries.append(f"SELECT {wrap(name.format(col=col))} FROM {source.format(col=col)}")
    return queries


QUERIES = generate(300)
NEEDLES = masking.needles()


@pytest.fixture(scope="module")
def tapped(cluster, tmp_path_factory):
    masking.create_database(cluster)
    with Pgwarden(cluster, overrides=masking.config_overrides(str(tmp_path_factory.mktemp("gen")))) as pw:
        with masking.Tap("127.0.0.1", pw.port) as tap:
            yield tap


@pytest.mark.parametrize("prepare, binary", [(False, False), (True, False), (True, True)],
                         ids=["simple", "prepared-text", "prepared-binary"])
def test_generated_shapes_leak_nothing(tapped, prepare, binary):
    conninfo = f"host=127.0.0.1 port={tapped.port} user=alice dbname={masking.DB}"
    failures = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for sql in QUERIES:
            tapped.take()
            with conn.cursor(binary=binary) as cur:
                cur.execute(sql, prepare=prepare)
                cur.fetchall()
            hits = masking.leaks(tapped.take(), NEEDLES)
            if hits:
                failures.append(f"{sql}\n    " + "\n    ".join(hits[:3]))
    assert not failures, f"{len(failures)} of {len(QUERIES)} queries leaked:\n" + "\n".join(failures[:10])


def test_the_generated_shapes_do_leak_directly(cluster):
    """Self-check: run directly, a good share of the generated queries put a
    searched value (or transform) on the wire; otherwise the test above
    would prove little."""
    masking.create_database(cluster)
    leaking = 0
    with cluster.connect_app(masking.DB, autocommit=True) as conn:
        for sql in QUERIES:
            rows = conn.execute(sql).fetchall()
            if masking.leaks(repr(rows).encode(), NEEDLES):
                leaking += 1
    assert leaking >= len(QUERIES) // 3, f"only {leaking} of {len(QUERIES)} generated queries leak directly"
