"""Compatibility: pg_dump through pgwarden's transparent path with the
read-only agent's policy (harness/compat.py), compared with a direct run.

pg_dump reads the catalog, sets search_path with set_config('search_path',
'', false), computes a setting name from pg_settings
(restrict_nonsystem_relation_kind), takes LOCK ... IN ACCESS SHARE MODE on
what it dumps and reads rows with COPY ... TO stdout. Under
policies/readonly-agent.yaml (no `role`, no `lock`) all of that must pass:
set_config is judged by the setting it changes, the computed name is asked
of the server afterwards, and an ACCESS SHARE lock is a read.

- `pg_dump -s -N hr`: the schema, byte for byte the direct one.
- `pg_dump -a -t customers`: the rows, masked as the policy masks them (the
  same rows, unmasked columns equal), and it restores cleanly into a scratch
  database that has the schema; there every masked value is what was dumped.
"""

import re

import pytest

from harness import compat

DB = compat.DB


@pytest.fixture(scope="module")
def env(request):
    e = compat.CompatEnv(request)
    try:
        yield e
    finally:
        e.close()


def pg_dump_argv(env, *args):
    return ["pg_dump", "-h", compat.DB_HOST, "-p", str(env.port), "-U", env.db.app_user, "-d", DB, *args]


def ok(result, how):
    assert result.returncode == 0, f"{how}: exit {result.returncode}\n{result.stderr}"
    return result.stdout


def without_restrict_keys(dump):
    """pg_dump (15.14 and later) fences a plain dump with \\restrict KEY and
    \\unrestrict KEY, a random key per run."""
    return re.sub(r"^\\(un)?restrict \S+$", r"\\\1restrict KEY", dump, flags=re.M)


def test_schema_dump_is_the_direct_one(env):
    direct, via = env.both(pg_dump_argv(env, "-s", "-N", "hr"))
    schema = without_restrict_keys(ok(direct, "direct"))
    assert "CREATE TABLE public.customers" in schema and "hr.salaries" not in schema
    assert without_restrict_keys(ok(via, "through pgwarden")) == schema, env.pgwarden.log_tail()


def copy_rows(dump, table):
    """The rows of `COPY table (...) FROM stdin;` in a plain dump: columns, rows."""
    m = re.search(rf"^COPY {re.escape(table)} \(([^)]*)\) FROM stdin;\n(.*?)^\\\.$", dump, re.M | re.S)
    assert m, f"no COPY block for {table}:\n{dump[:2000]}"
    columns = [c.strip() for c in m.group(1).split(",")]
    return columns, [line.split("\t") for line in m.group(2).splitlines()]


def test_data_dump_is_masked_and_restores(env):
    direct, via = env.both(pg_dump_argv(env, "-a", "-t", "public.customers"))
    columns, direct_rows = copy_rows(ok(direct, "direct"), "public.customers")
    via_dump = ok(via, "through pgwarden")
    via_columns, via_rows = copy_rows(via_dump, "public.customers")
    assert via_columns == columns and len(via_rows) == len(direct_rows) > 0
    masked = {c: 0 for c in columns}
    for d, v in zip(direct_rows, via_rows):
        for column, dv, vv in zip(columns, d, v):
            if column in ("ssn", "email"):
                assert vv == compat.column_mask(column, dv), (column, dv, vv)
                masked[column] += vv != dv
            elif dv != vv:
                masked[column] += 1
                assert compat.masked_like(dv, vv), (column, dv, vv)  # a detector redacted part of it
    assert masked["ssn"] == masked["email"] == len(direct_rows), masked
    assert masked["id"] == masked["name"] == 0, masked

    # The masked dump restores into a scratch database with the schema.
    schema = ok(env.direct(pg_dump_argv(env, "-s", "-N", "hr")), "schema")
    env.db.create_database("scratch")
    try:
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", compat.DB_HOST, "-p", str(env.port),
                "-U", env.db.app_user, "-d", "scratch"]
        ok(env.direct(argv, input=schema), "restoring the schema")
        ok(env.direct(argv, input=via_dump), "restoring the masked data")
        restored = env.db.execute("SELECT ssn, email FROM public.customers ORDER BY id", dbname="scratch")
        expected = sorted(zip(via_rows, direct_rows), key=lambda pair: int(pair[1][columns.index("id")]))
        assert [tuple(r) for r in restored] == [
            (v[columns.index("ssn")], v[columns.index("email")]) for v, _ in expected]
    finally:
        env.db.drop_database("scratch")
