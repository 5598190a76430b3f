"""Compatibility: psql's meta-commands and pgbench through pgwarden's
transparent path, with the read-only agent's policy (harness/compat.py).

psql runs one script of meta-commands twice against the same database:
directly (with the password) and from a cgroup pgwarden intercepts (without
one). Every section of the output must be the same byte for byte; the
sections that show customers' masked columns must differ exactly by the
masks. pgbench -S runs through the path against tables initialised directly.
"""

import re

import pytest

from harness import compat
from harness import pgbench as harness_pgbench

# Objects the meta-commands list, made directly by their owner (app_owner):
# a view, a function with a comment, a comment on a table, a schema. Their
# catalog rows are what \dv, \df+, \dt+ and \dn show.
SETUP_SQL = """
CREATE VIEW public.customer_contacts AS SELECT id, name, email FROM public.customers;
CREATE FUNCTION public.customer_count(min_id integer DEFAULT 0) RETURNS bigint
    LANGUAGE sql STABLE AS 'SELECT count(*) FROM public.customers WHERE id > min_id';
COMMENT ON FUNCTION public.customer_count(integer) IS 'customers above an id';
COMMENT ON TABLE public.customers IS 'who buys';
CREATE SCHEMA reporting;
"""

# The customers columns of the expanded sections, and their rows.
MASKED_QUERY = "SELECT id, name, email, ssn, card_number, phone, notes FROM customers WHERE id <= 12 ORDER BY id"
MASKED_COLUMNS = ["id", "name", "email", "ssn", "card_number", "phone", "notes"]
# The view's email is customers.email: masked as the column is.
VIEW_QUERY = "SELECT * FROM customer_contacts WHERE id <= 12 ORDER BY id"
VIEW_COLUMNS = ["id", "name", "email"]

# (section name, psql input). \dt+ and \l+ show sizes: with autovacuum off
# and every table vacuumed before the runs (CompatEnv), nothing changes
# them between the direct run and the one through pgwarden, so they are
# compared like the rest.
SECTIONS = [
    ("d", "\\d"),
    ("d customers", "\\d customers"),
    ("d orders", "\\d orders"),
    ("d+ customers", "\\d+ customers"),
    ("d+ customer_contacts", "\\d+ customer_contacts"),
    ("di", "\\di"),
    ("ds", "\\ds"),
    ("dp", "\\dp"),
    ("sf", "\\sf customer_count"),
    ("sv", "\\sv customer_contacts"),
    ("dx", "\\dx"),
    ("dconfig", "\\dconfig"),
    ("conninfo", "\\conninfo"),
    ("dt+", "\\dt+"),
    ("df+", "\\df+"),
    ("dv", "\\dv"),
    ("dn", "\\dn"),
    ("dn+", "\\dn+"),
    ("l", "\\l"),
    ("l+", "\\l+"),
    ("du", "\\du"),
    ("x on", f"\\x\n{MASKED_QUERY};\n\\x"),
    ("gx", f"{MASKED_QUERY} \\gx"),
    ("aligned", f"{MASKED_QUERY};"),
    ("view", f"{VIEW_QUERY};"),
]
MASKED_SECTIONS = {"x on", "gx", "aligned", "view"}
MARK = "@@ section "


@pytest.fixture(scope="module")
def env(request):
    e = compat.CompatEnv(request, setup=lambda db: db.execute_app(SETUP_SQL))
    yield e
    e.close()


def script():
    return "".join(f"\\echo '{MARK}{name}'\n{body}\n" for name, body in SECTIONS)


def split_sections(stdout):
    out, name = {}, None
    for line in stdout.splitlines(keepends=True):
        if line.startswith(MARK):
            name = line[len(MARK):].rstrip("\n")
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def expanded_records(text):
    """`-[ RECORD n ]` blocks of psql's expanded output: [{column: value}]."""
    records = []
    for line in text.splitlines():
        if line.startswith("-[ RECORD "):
            records.append({})
        elif records and "|" in line:
            column, _, value = line.partition("|")
            records[-1][column.strip()] = value[1:] if value.startswith(" ") else value
    return records


def aligned_rows(text):
    """Rows of psql's aligned output (header, rule, rows, "(n rows)")."""
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].split("|")]
    rows = []
    for line in lines[2:]:
        if re.match(r"^\(\d+ rows?\)$", line) or not line.strip():
            continue
        rows.append([c.strip() for c in line.split("|")])
    return header, rows


def test_psql_meta_commands(env):
    sessions_before = env.redirected()
    direct, via = env.both(env.psql_argv("-v", "ON_ERROR_STOP=1", "-f", "-"), input=script())
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert via.returncode == 0, via.stdout + via.stderr + env.pgwarden.log_tail()
    assert direct.stderr == via.stderr == "", (direct.stderr, via.stderr)
    assert env.redirected() == sessions_before + 1, "psql did not go through pgwarden"

    d, v = split_sections(direct.stdout), split_sections(via.stdout)
    assert list(d) == list(v) == [name for name, _ in SECTIONS], (list(d), list(v))
    for name, _ in SECTIONS:
        assert d[name].strip(), f"{name}: direct output is empty"
        if name not in MASKED_SECTIONS:
            assert v[name] == d[name], f"\\{name} differs:\n--- direct\n{d[name]}\n--- via pgwarden\n{v[name]}"
        else:
            # Same layout and every other character: masks keep a value's length.
            assert compat.masked_like(d[name], v[name]), \
                f"{name}: not the direct output with values masked:\n--- direct\n{d[name]}\n--- via\n{v[name]}"
            assert v[name] != d[name], f"{name}: nothing masked"

    # The objects SETUP_SQL made show at all (the comparison above is not
    # one of two empty listings).
    assert "customer_contacts" in d["dv"] and "customer_count" in d["df+"] and "reporting" in d["dn"]
    assert "who buys" in d["dt+"]

    # Column by column, in both expanded sections and the aligned one.
    for name in ("x on", "gx"):
        dr, vr = expanded_records(d[name]), expanded_records(v[name])
        assert [list(r) for r in dr] == [MASKED_COLUMNS] * 12, dr
        assert [list(r) for r in vr] == [MASKED_COLUMNS] * 12, vr
        masked = compat.check_customer_rows([list(r.values()) for r in dr], [list(r.values()) for r in vr],
                                            MASKED_COLUMNS, where=name)
        assert masked["email"] == masked["ssn"] == masked["card_number"] == 12, masked
    # Aligned output pads values, so they are compared stripped.
    header_d, rows_d = aligned_rows(d["aligned"])
    header_v, rows_v = aligned_rows(v["aligned"])
    assert header_d == header_v == MASKED_COLUMNS
    masked = compat.check_customer_rows(rows_d, rows_v, MASKED_COLUMNS, where="aligned")
    assert masked["email"] == masked["ssn"] == masked["card_number"] == 12, masked
    assert masked["notes"] > 0 and masked["name"] == masked["phone"] == 0, masked
    header_d, rows_d = aligned_rows(d["view"])
    header_v, rows_v = aligned_rows(v["view"])
    assert header_d == header_v == VIEW_COLUMNS
    masked = compat.check_customer_rows(rows_d, rows_v, VIEW_COLUMNS, where="view")
    assert masked == {"id": 0, "name": 0, "email": 12}, masked


# ---- pgbench -S ------------------------------------------------------------------

PGBENCH_SECONDS = 3


@pytest.fixture(scope="module")
def pgbench_tables(env):
    """pgbench's tables in `app`, initialised directly by app_owner (through
    pgwarden the read-only policy would refuse their CREATE and COPY)."""
    init = env.direct(["pgbench", "-h", compat.DB_HOST, "-p", str(env.port), "-U", env.db.app_user,
                       "-i", "-s", "1", "-q", compat.DB])
    assert init.returncode == 0, init.stdout + init.stderr
    counts = env.db.execute("SELECT (SELECT count(*) FROM pgbench_accounts), "
                            "(SELECT count(*) FROM pgbench_branches)", dbname=compat.DB)[0]
    assert counts == (100000, 1)
    return counts


def pgbench_argv(env, *args):
    return ["pgbench", "-h", compat.DB_HOST, "-p", str(env.port), "-U", env.db.app_user, *args, compat.DB]


@pytest.mark.parametrize("mode", ["simple", "prepared"])
def test_pgbench_select_only(env, pgbench_tables, mode):
    """-n: pgbench's own VACUUM and TRUNCATE before the run are not reads
    (the next test shows what the policy makes of them)."""
    before = env.redirected()
    run = env.via(pgbench_argv(env, "-n", "-S", "-M", mode, "-c", "4", "-j", "2", "-T", str(PGBENCH_SECONDS)),
                  timeout=PGBENCH_SECONDS + 60)
    assert run.returncode == 0, run.stdout + run.stderr + env.pgwarden.log_tail()
    summary = harness_pgbench.parse_summary(run.stdout)
    print(f"pgbench -S -M {mode} through pgwarden: {summary}")
    assert summary["failed"] == 0, run.stdout
    assert summary["processed"] > 0 and summary["tps"] > 0, summary
    assert run.stderr.strip() == "", run.stderr
    # pgbench's first connection and the 4 clients, all redirected.
    assert env.redirected() == before + 5


def test_pgbench_vacuum_step_is_refused_and_pgbench_goes_on(env, pgbench_tables):
    """Without -n, pgbench first runs VACUUM on two tables and TRUNCATE on
    pgbench_history, and ignores their errors: the read-only policy refuses
    each (admin, truncate) with a clean error, and the run goes on."""
    run = env.via(pgbench_argv(env, "-S", "-c", "1", "-T", "1"), timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr + env.pgwarden.log_tail()
    denied = re.findall(r"pgwarden: (\w+ on \w+) denied by policy for readonly-agent", run.stderr)
    assert denied == ["admin on pgbench_branches", "admin on pgbench_tellers", "truncate on pgbench_history"], \
        run.stderr
    assert run.stderr.count("(ignoring this error and continuing anyway)") == 3, run.stderr
    summary = harness_pgbench.parse_summary(run.stdout)
    assert summary["failed"] == 0 and summary["processed"] > 0, summary
