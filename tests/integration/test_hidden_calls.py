"""Function calls the text does not write as calls.

PostgreSQL reads `x.f` and `(x).f` as a column or field of x and, when x has
none of that name, as the call f(x) of a one-argument function ("attribute
notation"). The raw tree holds a ColumnRef or an A_Indirection there, not a
FuncCall, and pgwarden used to see no call at all:
- under policies/readonly-agent.yaml,
  `SELECT ('SELECT ... FROM hr.salaries'::text).ts_stat` returned the
  employees' names from a denied table, `(42::bigint).pg_advisory_lock`
  took a lock, `('...seq'::regclass).nextval` moved a sequence;
- under masking, `reverse((1).customer_ssn)` returned a masked SSN
  reversed, and with column rules only, `c.row_to_json` returned every
  column of the row in clear.
An operator, an aggregate or a cast names an existing function anew, and a
column or domain DEFAULT runs one where no later statement names it: while
masking is in force they are refused like CREATE FUNCTION, and a default
whose value is masked is refused like INSERT ... SELECT ssn.
"""

import contextlib

import psycopg
import pytest

from harness import Pgwarden
from harness import masking
from policy_clients.readonly_agent import (ReadonlyAgentPgwarden, create_corpus_database, source_identity,
                                           stop_cleanly)

AGENT_DB = "pgw_hidden_calls"


@pytest.fixture(scope="module")
def agent(cluster):
    create_corpus_database(cluster, AGENT_DB)
    pw = ReadonlyAgentPgwarden(cluster, [source_identity("readonly-agent")]).start()
    try:
        yield pw
    finally:
        stop_cleanly(pw)
        cluster.drop_database(AGENT_DB)


def agent_conn(pw):
    return psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={AGENT_DB}", autocommit=True)


def refused(conn, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        rows = conn.execute(sql).fetchall()
        print("ran:", sql, rows[:5])
    message = info.value.diag.message_primary
    assert message.startswith("pgwarden: "), message
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on
    return message


@pytest.mark.parametrize("sql,words", [
    # SQL in a string reads a denied table.
    ("SELECT ('SELECT to_tsvector(''simple'', employee) FROM hr.salaries'::text).ts_stat", "hr.salaries"),
    ("SELECT x.ts_stat FROM text('SELECT to_tsvector(''simple'', employee) FROM hr.salaries') x", ""),
    # A function of the built-in deny-list, and one the policy denies by name.
    ("SELECT (pg_backend_pid()).pg_terminate_backend", "pg_terminate_backend"),
    ("SELECT ('/etc/hostname'::text).pg_read_file", "pg_read_file"),
])
def test_attribute_notation_runs_no_denied_function(agent, sql, words):
    with agent_conn(agent) as conn:
        assert words in refused(conn, sql)


@pytest.mark.parametrize("sql", [
    "SELECT ('public.customers_id_seq'::regclass).nextval",
    "SELECT s.nextval FROM regclass('public.customers_id_seq') s",
])
def test_attribute_notation_changes_no_sequence(agent, cluster, sql):
    before = cluster.execute("SELECT last_value, is_called FROM public.customers_id_seq", dbname=AGENT_DB)
    with agent_conn(agent) as conn:
        assert refused(conn, sql).startswith("pgwarden: update on ")
    assert cluster.execute("SELECT last_value, is_called FROM public.customers_id_seq", dbname=AGENT_DB) == before


@pytest.mark.parametrize("sql", ["SELECT (42::bigint).pg_advisory_lock", "SELECT s.pg_advisory_lock FROM int8(42) s"])
def test_attribute_notation_takes_no_advisory_lock(agent, cluster, sql):
    with agent_conn(agent) as conn:
        assert refused(conn, sql).startswith("pgwarden: lock on advisory lock")
    assert cluster.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", dbname=AGENT_DB) == [(0,)]


def test_columns_and_fields_still_read(agent):
    """Qualified columns, fields of a row and a composite's fields are what
    they were; several in one query string need no settings question
    (which would require each to end its string)."""
    with agent_conn(agent) as conn:
        rows = conn.execute("SELECT c.id, c.name, (c).email, (o).amount FROM public.customers c "
                            "JOIN public.orders o ON o.customer_id = c.id ORDER BY c.id, o.id LIMIT 2").fetchall()
        assert len(rows) == 2 and rows[0][0] == rows[1][0] and rows[0][1] and "@" in rows[0][2], rows
        with conn.cursor() as cur:
            cur.execute("SELECT c.id FROM customers c WHERE c.id = 1; SELECT o.id FROM orders o ORDER BY o.id LIMIT 1")
            assert cur.fetchall() == [(1,)]
            assert cur.nextset() and len(cur.fetchall()) == 1


# ---- masking ---------------------------------------------------------------------------

# Column rules only: no detector can catch what lineage misses.
COLUMN_RULES_ONLY = {
    "default": "deny",
    "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
    "policies": [{
        "identity": "agent",
        "allow": ["select", "insert", "create", "alter", "lock", "transaction"],
        "mask": [{"column": "public.customers.ssn", "with": "partial(last=4)"},
                 {"column": "public.customers.email", "with": "email"}],
    }],
}


def column_rules_allowing(*classes):
    policy = COLUMN_RULES_ONLY["policies"][0]
    return {**COLUMN_RULES_ONLY, "policies": [{**policy, "allow": policy["allow"] + list(classes)}]}


@pytest.fixture(scope="module")
def masked(cluster):
    masking.create_database(cluster)
    with Pgwarden(cluster, overrides=COLUMN_RULES_ONLY) as pw:
        yield pw


def customer_one(cluster):
    return cluster.execute("SELECT ssn, email FROM customers WHERE id = 1", dbname=masking.DB)[0]


def forms_of(value):
    return {value, value[::-1], value.replace("-", ""), value.replace("-", "")[::-1]}


def masked_conn(pw):
    return psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={masking.DB}", autocommit=True)


def keep_notices(conn):
    """The text fields of each notice conn receives (a notice's fields can
    be read only inside its handler)."""
    notices = []
    conn.add_notice_handler(lambda n: notices.append(
        {"message": n.message_primary, "detail": n.message_detail, "context": n.context}))
    return notices


def assert_nothing_leaks(cluster, values):
    ssn, email = customer_one(cluster)
    forms = forms_of(ssn) | forms_of(email)
    leaked = [v for v in values if any(f in v for f in forms)]
    assert not leaked, f"customer 1's ssn {ssn!r} or email reached the client: {leaked!r}"


@pytest.mark.parametrize("sql", [
    "SELECT c.row_to_json FROM customers c WHERE c.id = 1",
    "SELECT customers.to_jsonb FROM customers WHERE id = 1",
    "SELECT public.customers.to_json FROM public.customers WHERE id = 1",
    "SELECT c.concat FROM customers c WHERE c.id = 1",
    "SELECT upper(c.row_to_json::text) FROM customers c WHERE c.id = 1",
    "SELECT s.row_to_json FROM (SELECT id, ssn FROM customers WHERE id = 1) s",
    "SELECT (c).row_to_json FROM customers c WHERE c.id = 1",
    "SELECT reverse((1).customer_ssn)",
    "SELECT reverse(s.customer_ssn) FROM generate_series(1, 1) s",
    "SELECT reverse(x) FROM (SELECT (i).customer_ssn AS x FROM generate_series(1, 1) i) s",
])
def test_attribute_notation_is_masked(cluster, masked, sql):
    with masked_conn(masked) as conn:
        rows = conn.execute(sql).fetchall()
    assert rows, sql
    assert_nothing_leaks(cluster, [str(v) for row in rows for v in row])


def test_attribute_notation_stores_no_masked_lock_key(masked):
    with masked_conn(masked) as conn:
        message = refused(conn, "SELECT (replace(ssn, '-', '')::bigint).pg_advisory_lock FROM customers WHERE id = 1")
    assert message == "pgwarden: pg_advisory_lock of masked values denied by policy for agent"


@pytest.mark.parametrize("sql", [
    "SELECT query FROM pg_stat_activity",
    "SELECT a.query FROM pg_catalog.pg_stat_activity a WHERE a.pid <> pg_backend_pid()",
    "SELECT row_to_json(a)::text FROM pg_stat_activity a",
    "SELECT a.row_to_json FROM pg_stat_activity a",
    "SELECT string_agg(upper(query), ';') FROM pg_stat_activity",
    "SELECT query FROM pg_stat_get_activity(NULL)",
    "SELECT * FROM pg_catalog.pg_stat_get_activity(NULL)",
    "SELECT pg_stat_get_backend_activity(b) FROM pg_stat_get_backend_idset() b",
    "SELECT (b).pg_stat_get_backend_activity FROM pg_stat_get_backend_idset() b",
])
def test_other_sessions_sql_text_is_masked(cluster, masked, sql):
    """An application's SQL carries what it stores and looks up as literals;
    a session of the same role read them back, in clear, from
    pg_stat_activity.query and the functions under it."""
    ssn, email = customer_one(cluster)
    with cluster.connect_app(dbname=masking.DB, autocommit=True) as app:
        app.execute(f"SELECT id FROM customers WHERE ssn = '{ssn}' OR email = '{email}'")
        with masked_conn(masked) as conn:
            rows = conn.execute(sql).fetchall()
            # What describes a session, not its SQL, stays readable.
            assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle' "
                                "AND usename = current_user").fetchone()[0] >= 1
    assert rows, sql
    assert_nothing_leaks(cluster, [str(v) for row in rows for v in row])


@contextlib.contextmanager
def admins_trigger(cluster, table, name, when, body):
    """An admin's PL/pgSQL row trigger on `table` (`when`: BEFORE UPDATE, ...), for one test."""
    cluster.execute(f"CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$ BEGIN {body}; RETURN NEW; END $$", dbname=masking.DB)
    cluster.execute(f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION public.{name}()",
                    dbname=masking.DB)
    try:
        yield
    finally:
        cluster.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}", dbname=masking.DB)
        cluster.execute(f"DROP FUNCTION IF EXISTS public.{name}()", dbname=masking.DB)


def test_notification_payloads_go_through_every_detector(cluster):
    """An admin's trigger that notifies the changed row (a common cache
    invalidation pattern) sent customers' SSNs and emails in clear to a
    client that LISTENs. A payload is text pgwarden cannot trace, like a
    PL/pgSQL function's result: while column rules are in force, every
    detector runs on it."""
    masking.create_database(cluster)
    got = []
    with admins_trigger(cluster, "public.customers", "zz_notify", "AFTER UPDATE",
                                     "PERFORM pg_notify('customer_changed', row_to_json(OLD)::text)"):
        with Pgwarden(cluster, overrides=column_rules_allowing("listen", "update")) as pw:
            with masked_conn(pw) as conn:
                conn.add_notify_handler(got.append)
                conn.execute("LISTEN customer_changed")
                # The application changes a row; then the client itself does.
                with cluster.connect_app(dbname=masking.DB, autocommit=True) as app:
                    app.execute("UPDATE customers SET name = name WHERE id = 1")
                conn.execute("UPDATE customers SET name = name WHERE id = 1")
                for _ in range(50):
                    if len(got) >= 2:
                        break
                    conn.execute("SELECT pg_sleep(0.02)")
    assert len(got) == 2, got
    assert all(n.channel == "customer_changed" and '"id":1' in n.payload for n in got), got
    assert_nothing_leaks(cluster, [n.payload for n in got])


def test_messages_of_writes_into_a_masked_table_carry_no_row(cluster):
    """An UPDATE that broke a NOT NULL printed the row it failed on, masked
    columns in clear (`Failing row contains (1, null, ..., 488-34-9571,
    ...)`), and an admin's audit trigger's RAISE NOTICE printed OLD.ssn:
    the messages of a write into a masked table are those of a statement
    that reads masked values (their fixed wording only)."""
    masking.create_database(cluster)
    seen = []
    with admins_trigger(cluster, "public.customers", "zz_audit", "BEFORE UPDATE",
                                     "RAISE NOTICE 'customer % changed (ssn %)', OLD.id, OLD.ssn"):
        with Pgwarden(cluster, overrides=column_rules_allowing("update", "delete")) as pw:
            with masked_conn(pw) as conn:
                notices = keep_notices(conn)
                conn.execute("UPDATE customers SET name = name WHERE id = 1")
                with pytest.raises(psycopg.errors.NotNullViolation) as info:
                    conn.execute("UPDATE customers SET name = NULL WHERE id = 1")
                seen += [str(info.value), str(info.value.diag.message_detail)]
                # A write elsewhere keeps its messages whole.
                conn.execute("CREATE TEMP TABLE zz_plain (v text NOT NULL)")
                with pytest.raises(psycopg.errors.NotNullViolation) as plain:
                    conn.execute("INSERT INTO zz_plain VALUES (NULL)")
                assert plain.value.diag.message_primary == \
                    'null value in column "v" of relation "zz_plain" violates not-null constraint'
    seen += [str(n[field]) for n in notices for field in ("message", "detail")]
    assert len(notices) == 2  # the trigger runs for both UPDATEs
    # The trigger's text is of no known format: withheld whole.
    assert all(n["message"] == "pgwarden: the server's message was withheld" for n in notices), notices
    assert_nothing_leaks(cluster, seen)
    assert "Failing row contains" in seen[1]  # the fixed wording stays


def test_messages_of_writes_through_a_view_of_clean_columns_carry_no_row(cluster):
    """An admin's updatable view showing only clean columns of customers:
    an UPDATE through it that breaks a NOT NULL fails on the table under
    it, and PostgreSQL printed that table's whole row, SSN, card and email
    in clear. The statement reads nothing masked; the error's table field
    names customers, so it keeps only its fixed wording."""
    masking.create_database(cluster)
    cluster.execute("CREATE VIEW public.zz_names AS SELECT id, name FROM public.customers", dbname=masking.DB)
    cluster.execute("GRANT SELECT, UPDATE ON public.zz_names TO PUBLIC", dbname=masking.DB)
    try:
        with Pgwarden(cluster, overrides=column_rules_allowing("update")) as pw:
            with masked_conn(pw) as conn:
                assert conn.execute("UPDATE zz_names SET name = name WHERE id = 1").rowcount == 1
                with pytest.raises(psycopg.errors.NotNullViolation) as info:
                    conn.execute("UPDATE zz_names SET name = NULL WHERE id = 1")
        assert_nothing_leaks(cluster, [str(info.value), str(info.value.diag.message_detail)])
        assert info.value.diag.message_detail.startswith("Failing row contains ***")
    finally:
        cluster.execute("DROP VIEW IF EXISTS public.zz_names", dbname=masking.DB)


def test_notices_of_functions_meet_every_detector_while_columns_are_masked(cluster):
    """An admin's audit trigger on an unmasked table that looks up a
    customer and prints it: the client's UPDATE of regions names nothing
    masked, and the notice's text was built inside a function, where
    pgwarden cannot trace it. While column rules are in force, a message
    raised inside a function (its context says so) meets every detector,
    like a NOTIFY payload or a PL/pgSQL function's result."""
    masking.create_database(cluster)
    cluster.execute("GRANT UPDATE ON public.regions TO PUBLIC", dbname=masking.DB)
    try:
        with admins_trigger(cluster, "public.regions", "zz_region_audit", "BEFORE UPDATE",
                            "RAISE NOTICE 'region % changed; account manager %', OLD.id, "
                            "(SELECT email || ' / ' || ssn FROM public.customers WHERE id = 1)"):
            with Pgwarden(cluster, overrides=column_rules_allowing("update")) as pw:
                with masked_conn(pw) as conn:
                    notices = keep_notices(conn)
                    assert conn.execute("UPDATE regions SET label = label WHERE id = 1").rowcount == 1
                    # A notice of the client's own, outside any function, stays whole.
                    conn.execute("CREATE TEMP TABLE IF NOT EXISTS zz_twice (v int)")
                    conn.execute("CREATE TEMP TABLE IF NOT EXISTS zz_twice (v int)")
    finally:
        cluster.execute("REVOKE UPDATE ON public.regions FROM PUBLIC", dbname=masking.DB)
    assert len(notices) == 2, notices
    assert notices[0]["message"].startswith("region 1 changed; account manager "), notices
    assert_nothing_leaks(cluster, [str(notices[0]["message"])])
    assert notices[1]["message"] == 'relation "zz_twice" already exists, skipping'


# Each list runs in one session; the last statement reads what the others
# set up. pgwarden must refuse one of them, or the read must show no value.
HIDDEN = {
    "operator": ["CREATE OPERATOR @@@ (RIGHTARG = integer, FUNCTION = public.customer_ssn)",
                 "SELECT reverse(@@@ 1)"],
    "aggregate": ["CREATE AGGREGATE ssn_of (integer) (SFUNC = int4larger, STYPE = integer, "
                  "FINALFUNC = public.customer_ssn)",
                  "SELECT reverse(ssn_of(x)) FROM (VALUES (1)) v(x)"],
    "column default": ["CREATE TEMP TABLE stash_d (id int, v text DEFAULT reverse(public.customer_ssn(1)))",
                       "INSERT INTO stash_d (id) VALUES (1)", "SELECT v FROM stash_d"],
    "default set later": ["CREATE TEMP TABLE stash_a (id int, v text)",
                          "ALTER TABLE stash_a ALTER COLUMN v SET DEFAULT reverse(public.customer_ssn(1))",
                          "INSERT INTO stash_a (id) VALUES (1)", "SELECT v FROM stash_a"],
    "added column's default": ["CREATE TEMP TABLE stash_c (id int)", "INSERT INTO stash_c VALUES (1)",
                               "ALTER TABLE stash_c ADD COLUMN v text DEFAULT reverse(public.customer_ssn(1))",
                               "SELECT v FROM stash_c"],
    "column type change": ["CREATE TEMP TABLE stash_u (id int)", "INSERT INTO stash_u VALUES (1)",
                           "ALTER TABLE stash_u ALTER COLUMN id TYPE text USING reverse(public.customer_ssn(id))",
                           "SELECT id FROM stash_u"],
    "domain default": ["CREATE DOMAIN stash_dom AS text DEFAULT reverse(public.customer_ssn(1))",
                       "CREATE TEMP TABLE stash_dd (id int, v stash_dom)",
                       "INSERT INTO stash_dd (id) VALUES (1)", "SELECT v FROM stash_dd"],
    "attribute notation in a default": ["CREATE TEMP TABLE stash_f (id int, v text DEFAULT reverse((1).customer_ssn))",
                                        "INSERT INTO stash_f (id) VALUES (1)", "SELECT v FROM stash_f"],
    # A CHECK, an index expression: the later INSERT's error carried the value
    # ("invalid input syntax for type integer: ...").
    "check constraint": ["CREATE TEMP TABLE chk (id int CHECK (reverse(public.customer_ssn(id))::int > 0))",
                         "INSERT INTO chk VALUES (1)"],
    "check added later": ["CREATE TEMP TABLE chk2 (id int)",
                          "ALTER TABLE chk2 ADD CONSTRAINT k CHECK (reverse(public.customer_ssn(id))::int > 0) NOT VALID",
                          "INSERT INTO chk2 VALUES (1)"],
    "domain check": ["CREATE DOMAIN chkd AS int CHECK (reverse(public.customer_ssn(VALUE))::int > 0)",
                     "SELECT 1::chkd"],
    "index expression": ["CREATE TEMP TABLE ix (id int)",
                         "CREATE INDEX ON ix ((reverse(public.customer_ssn(id))::int))", "INSERT INTO ix VALUES (1)"],
    # An implicit cast from the row type makes every text function take the row.
    "implicit cast": ["CREATE CAST (customers AS text) WITH INOUT AS IMPLICIT",
                      "SELECT c.reverse FROM customers c WHERE c.id = 1",
                      "SELECT (c).upper FROM customers c WHERE c.id = 1"],
}


@pytest.mark.parametrize("name", list(HIDDEN))
def test_hidden_calls_carry_no_masked_value_out(cluster, masked, name):
    seen, refusals = [], []  # values and server errors the client saw; pgwarden's refusals
    with masked_conn(masked) as conn:
        for sql in HIDDEN[name]:
            try:
                cur = conn.execute(sql)
                if cur.description:
                    seen += [str(v) for row in cur.fetchall() for v in row]
            except psycopg.errors.InsufficientPrivilege as e:
                refusals.append(e.diag.message_primary)
                break
            except psycopg.Error as e:
                seen += [str(e), str(e.diag.message_detail)]
    for cleanup in ("DROP OPERATOR IF EXISTS @@@ (NONE, integer)", "DROP AGGREGATE IF EXISTS ssn_of (integer)",
                    "DROP DOMAIN IF EXISTS stash_dom CASCADE", "DROP DOMAIN IF EXISTS chkd CASCADE",
                    "DROP CAST IF EXISTS (customers AS text)"):
        cluster.execute(cleanup, dbname=masking.DB)
    assert_nothing_leaks(cluster, seen)
    assert refusals and refusals[0].startswith("pgwarden: ") and \
        ("masked values" in refusals[0] or "while masking is in force" in refusals[0]), refusals


def test_a_clean_default_still_works(masked):
    with masked_conn(masked) as conn:
        conn.execute("CREATE TEMP TABLE plain_default (id int, v text DEFAULT upper('x'), g int GENERATED ALWAYS AS "
                     "(id * 2) STORED)")
        conn.execute("INSERT INTO plain_default (id) VALUES (1)")
        assert conn.execute("SELECT v, g FROM plain_default").fetchall() == [("X", 2)]


def test_an_admins_implicit_cast_from_a_row_type_is_known(cluster):
    """An implicit cast an admin created from a table's row type to text
    makes every function of text take that table's rows: c.reverse is
    reverse(c::text). The catalog snapshot knows the cast."""
    masking.create_database(cluster)
    cluster.execute("CREATE CAST (customers AS text) WITH INOUT AS IMPLICIT", dbname=masking.DB)
    try:
        with Pgwarden(cluster, overrides=COLUMN_RULES_ONLY) as pw:
            with masked_conn(pw) as conn:
                rows = conn.execute("SELECT c.reverse, (c).upper FROM customers c WHERE c.id = 1").fetchall()
    finally:
        cluster.execute("DROP CAST IF EXISTS (customers AS text)", dbname=masking.DB)
    assert rows
    assert_nothing_leaks(cluster, [str(v) for row in rows for v in row] + [str(v).lower() for v in rows[0]])


# ---- a masked table under a parent, keys on masked columns ----------------------------

def detach_customers(cluster):
    if cluster.execute("SELECT 1 FROM pg_inherits WHERE inhrelid = 'public.customers'::regclass", dbname=masking.DB):
        cluster.execute("ALTER TABLE public.zz_parent DETACH PARTITION public.customers", dbname=masking.DB)
    cluster.execute("DROP TABLE IF EXISTS public.zz_parent", dbname=masking.DB)


def test_a_masked_table_is_not_attached_under_a_parent(cluster, masked):
    """Attached as a partition of the client's own table, customers' rows
    came back in clear through the parent."""
    seen, refusals = [], []
    try:
        with masked_conn(masked) as conn:
            conn.execute("CREATE TABLE public.zz_parent (LIKE public.customers) PARTITION BY RANGE (id)")
            try:
                conn.execute("ALTER TABLE public.zz_parent ATTACH PARTITION public.customers "
                             "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)")
                seen += list(conn.execute("SELECT ssn, email FROM public.zz_parent WHERE id = 1").fetchone())
            except psycopg.errors.InsufficientPrivilege as e:
                refusals.append(e.diag.message_primary)
    finally:
        detach_customers(cluster)
    assert_nothing_leaks(cluster, [str(v) for v in seen])
    assert refusals == ["pgwarden: attach of a masked relation denied by policy for agent"]


def test_a_parent_of_a_masked_partition_is_masked(cluster):
    """An admin's parent above a masked table: its scan returns the masked
    table's rows, which keep their rules."""
    masking.create_database(cluster)
    try:
        cluster.execute("CREATE TABLE public.zz_parent (LIKE public.customers) PARTITION BY RANGE (id)",
                        dbname=masking.DB)
        cluster.execute("ALTER TABLE public.zz_parent ATTACH PARTITION public.customers "
                        "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)", dbname=masking.DB)
        cluster.execute("GRANT SELECT ON public.zz_parent TO app_owner", dbname=masking.DB)
        with Pgwarden(cluster, overrides=COLUMN_RULES_ONLY) as pw:
            with masked_conn(pw) as conn:
                row = conn.execute("SELECT ssn, email, reverse(ssn), z FROM public.zz_parent z WHERE id = 1").fetchone()
    finally:
        detach_customers(cluster)
    assert row and row[0].endswith(customer_one(cluster)[0][-4:])  # partial(last=4): masked, not emptied
    assert_nothing_leaks(cluster, [str(v) for v in row])


def test_strict_keys_on_masked_columns_are_refused(cluster, tmp_path_factory):
    """strict: true refuses WHERE email = ...; a foreign key to customers(email)
    would answer the same question for each INSERT into the client's own
    table, and a unique index on it for each INSERT into customers."""
    masking.create_database(cluster)
    overrides = masking.config_overrides(str(tmp_path_factory.mktemp("strict_keys")), strict=True)
    message = "pgwarden: filtering on masked values denied by policy for agent"
    try:
        with Pgwarden(cluster, overrides=overrides) as pw:
            with masked_conn(pw) as conn:
                assert refused(conn, "CREATE UNIQUE INDEX zz_email_key ON public.customers (email)") == message
                assert refused(conn, "CREATE TABLE public.zz_fk (e text REFERENCES public.customers (email))") == message
                conn.execute("CREATE TABLE public.zz_fk (c int REFERENCES public.customers (id))")
                # An index on ssn, with the planner steered onto it, returned
                # rows in ssn's order: with probe rows, the SSN digit by digit.
                assert refused(conn, "CREATE INDEX zz_ssn_key ON public.customers (ssn, id)") == message
                for sql in ["SET enable_seqscan = off", "SELECT set_config('enable_bitmapscan', 'off', false)"]:
                    assert refused(conn, sql) == message
                conn.execute("SET search_path = public")
            # ... and as a startup option (judged as SET is).
            with pytest.raises(psycopg.OperationalError) as info:
                psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={masking.DB} "
                                "options='-c enable_seqscan=off'").close()
            print(info.value)
            assert "enable_seqscan" in str(info.value)
    finally:
        cluster.execute("DROP TABLE IF EXISTS public.zz_fk", dbname=masking.DB)
        cluster.execute("DROP INDEX IF EXISTS public.zz_email_key", dbname=masking.DB)
        cluster.execute("DROP INDEX IF EXISTS public.zz_ssn_key", dbname=masking.DB)


def test_planner_statistics_of_a_denied_table_are_denied(cluster):
    """pg_stats holds sample values of every analyzed column of every table:
    under tables.deny without mask rules, hr.salaries' most common values
    and histogram bounds came back from it."""
    create_corpus_database(cluster, AGENT_DB + "_stats")
    cluster.execute("ANALYZE hr.salaries", dbname=AGENT_DB + "_stats")
    overrides = {
        "default": "deny",
        "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
        "policies": [{"identity": "agent", "allow": ["select", "function:schema_to_xml"], "tables": {"deny": ["hr.*"]}}],
    }
    try:
        with Pgwarden(cluster, overrides=overrides) as pw:
            with psycopg.connect(f"host=127.0.0.1 port={pw.port} user=alice dbname={AGENT_DB}_stats",
                                 autocommit=True) as conn:
                for sql in ["SELECT most_common_vals::text, histogram_bounds::text FROM pg_stats "
                            "WHERE tablename = 'salaries'",
                            "SELECT stavalues1::text FROM pg_catalog.pg_statistic",
                            # schema_to_xml of pg_catalog includes pg_stats
                            "SELECT schema_to_xml('pg_catalog', true, false, '')::text"]:
                    assert refused(conn, sql) == "pgwarden: select on every schema denied by policy for agent"
                assert conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0] >= 1
    finally:
        cluster.drop_database(AGENT_DB + "_stats")
