"""pgwarden's catalog connection and the clients' locks.

pgwarden reloads its catalog snapshot after DDL it forwarded. Printing a
view's definition (pg_get_viewdef) locks the view and every table it reads
until the end of the loading transaction; with a client holding ACCESS
EXCLUSIVE on one of those tables, the load used to wait for it (up to its
30 s statement_timeout) while holding the others, so:
- another client's `LOCK ... NOWAIT` on a table the load held failed with
  "could not obtain lock" (the regression suite's lock test, through pgwarden);
- a client's own later lock on such a table deadlocked with the load;
- the one loader thread was stuck: a new session's first statement waited
  for its catalog for those 30 s.

What must hold: the catalog connection never waits for a lock on a user
relation, and never holds one while a client waits; a view it could not
print for a client's lock is printed later, and masked whole until then.

Everything runs in a database of its own on the session cluster.
"""

import re
import time

import psycopg
import pytest

DB = "pgw_catalog_locks"
CATALOG_APP = "pgwarden-catalog"

SCHEMA_SQL = """
CREATE TABLE public.t1 (id integer PRIMARY KEY, secret text);
CREATE TABLE public.t2 (id integer PRIMARY KEY, note text);
INSERT INTO public.t1 VALUES (1, 'alpha-secret');
INSERT INTO public.t2 VALUES (1, 'a note');
CREATE VIEW public.joined AS SELECT t1.id, t1.secret, t2.note FROM t1 JOIN t2 USING (id);
"""

POLICY = {
    "default": "deny",
    "identities": [{"name": "agent", "match": {"source": ["127.0.0.0/8"]}}],
    "policies": [{
        "identity": "agent",
        "allow": ["select", "create", "drop", "grant", "lock", "transaction", "set"],
        "mask": [{"column": "public.t1.secret", "with": "redact"}],
    }],
}


@pytest.fixture
def locks_db(cluster):
    cluster.drop_database(DB)
    cluster.create_database(DB)
    cluster.execute_app(SCHEMA_SQL, dbname=DB)
    yield DB
    cluster.drop_database(DB)


@pytest.fixture
def pw(make_pgwarden, locks_db):
    pw = make_pgwarden(overrides=POLICY)
    # The first load (views printed and cached) before the test begins.
    with pw.connect(dbname=DB, autocommit=True) as conn:
        assert conn.execute("SELECT note FROM joined").fetchall() == [("a note",)]
    return pw


def catalog_locks(cluster):
    """(relation, mode, granted) of every lock pgwarden's catalog connection
    holds or waits for on a relation of DB that is not a system catalog."""
    return cluster.execute(
        "SELECT c.relname, l.mode, l.granted FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "JOIN pg_class c ON c.oid = l.relation "
        "WHERE a.application_name = %s AND l.locktype = 'relation' "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = %s) "
        "AND c.relnamespace <> 'pg_catalog'::regnamespace",
        (CATALOG_APP, DB), dbname=DB)


def watch_catalog_locks(cluster, seconds):
    """Every lock on a user relation the catalog connection was seen with
    while sampling for `seconds`."""
    seen = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.update(catalog_locks(cluster))
        time.sleep(0.02)
    return seen


def holder_of_t2(pw):
    """A client (through pgwarden) in a transaction holding ACCESS EXCLUSIVE on t2."""
    holder = pw.connect(dbname=DB)
    holder.execute("LOCK TABLE t2 IN ACCESS EXCLUSIVE MODE")
    return holder


def forward_ddl(pw, sql):
    """DDL through pgwarden: pgwarden refreshes its catalog after it."""
    with pw.connect(dbname=DB, autocommit=True) as conn:
        conn.execute(sql)


def test_catalog_refresh_never_waits_behind_a_clients_access_exclusive_lock(pw, cluster):
    holder = holder_of_t2(pw)
    try:
        forward_ddl(pw, "CREATE TABLE public.t_new (i integer)")
        # The refresh runs now; the view over t1 and t2 is in every snapshot.
        seen = watch_catalog_locks(cluster, 2.0)
        waiting = sorted(s for s in seen if not s[2])
        assert not waiting, f"the catalog connection waited for {waiting} (held: {sorted(seen)})"

        # Another client may take any lock on the view's other table at once.
        with pw.connect(dbname=DB) as other:
            other.execute("LOCK TABLE t1 IN ACCESS EXCLUSIVE MODE NOWAIT")
            other.rollback()

        # A session of another database needs its first snapshot now: the
        # loader is not stuck behind the lock.
        started = time.monotonic()
        with pw.connect(dbname=cluster.app_db, autocommit=True) as fresh:
            assert fresh.execute("SELECT 1").fetchall() == [(1,)]
        first_statement = time.monotonic() - started
        assert first_statement < 5, f"a new session waited {first_statement:.1f}s for its catalog"
    finally:
        holder.rollback()
        holder.close()
    # The refresh also saw the new table, with nothing left waiting.
    assert all(granted for _, _, granted in catalog_locks(cluster))


def test_a_view_printed_while_its_table_is_locked_is_masked_whole_then_printed_later(pw, cluster):
    # Created directly: pgwarden learns of it only at its next refresh.
    cluster.execute_app("CREATE VIEW public.late_view AS "
                        "SELECT t1.id, t1.secret, t2.note FROM t1 JOIN t2 USING (id)", dbname=DB)
    holder = holder_of_t2(pw)
    try:
        forward_ddl(pw, "CREATE TABLE public.t_other (i integer)")
        seen = watch_catalog_locks(cluster, 2.0)
        waiting = sorted(s for s in seen if not s[2])
        assert not waiting, f"the catalog connection waited for {waiting} (held: {sorted(seen)})"
        # The view was new to pgwarden and its table locked: left for later.
        assert "definition(s) left for later" in pw.log_text(), pw.log_tail()
    finally:
        holder.rollback()
        holder.close()

    # Printed on a later try (250 ms, then doubling)...
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "definitions left for later are printed" not in pw.log_text():
        time.sleep(0.1)
    assert "definitions left for later are printed" in pw.log_text(), pw.log_tail()
    # ... and then only the rule's own column stays masked.
    rows = None
    with pw.connect(dbname=DB, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT id, secret, note FROM late_view").fetchall()
            if rows == [(1, "************", "a note")]:
                break
            time.sleep(0.2)
    assert rows == [(1, "************", "a note")], f"late_view still reads {rows}"


def test_clients_lock_after_the_refresh_started_does_not_deadlock(pw, cluster):
    """The client holding t2 then locks t1 as well (the DROP ... CASCADE of
    the regression suite's updatable_views test does this): with the
    catalog connection holding t1 while it waits for t2, one of the two was
    killed by the deadlock detector after a second."""
    holder = holder_of_t2(pw)
    try:
        forward_ddl(pw, "CREATE TABLE public.t_third (i integer)")
        # The refresh is under way: until the catalog connection waits for
        # t2 (as it did), or for a second.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and all(g for _, _, g in catalog_locks(cluster)):
            time.sleep(0.02)
        started = time.monotonic()
        try:
            holder.execute("LOCK TABLE t1 IN ACCESS EXCLUSIVE MODE")
        except psycopg.errors.DeadlockDetected as exc:
            pytest.fail(f"the client's lock deadlocked with pgwarden's catalog connection: {exc}")
        waited = time.monotonic() - started
        assert waited < 0.4, f"the client's lock on t1 waited {waited:.1f}s for pgwarden's catalog connection"
    finally:
        holder.rollback()
        holder.close()


def log_statements(cluster):
    """Has the server log every statement in DB from now on; returns where
    its log is now (for logged_statements)."""
    cluster.execute(f"ALTER DATABASE {DB} SET log_statement = 'all'")
    return len(cluster.log_text())


def logged_statements(cluster, since):
    """(pid, statement) the server logged in DB since that point, in order."""
    out = []
    for line in cluster.log_text()[since:].splitlines():
        if f"@{DB} " in line and "statement: " in line:
            pid = line.split("[", 1)[1].split("]", 1)[0]
            out.append((pid, line.split("statement: ", 1)[1]))
    return out


def settle(pw, cluster, since):
    """Returns once a catalog load that began after everything done so far
    has finished: a marker statement, then DDL through pgwarden (its
    refresh starts after it), then that load's COMMIT."""
    marker = f"settle-{time.monotonic_ns()}"
    cluster.execute_app(f"SELECT '{marker}'", dbname=DB)
    forward_ddl(pw, f'CREATE TABLE public."{marker}" (i integer)')
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        logged = logged_statements(cluster, since)
        after = [i for i, (_, sql) in enumerate(logged) if marker in sql][:1]
        loads = [pid for pid, sql in logged[after[0]:] if "FROM pg_catalog.pg_inherits" in sql] if after else []
        if any(pid == load and sql == "COMMIT" for load in loads for pid, sql in logged):
            return
        time.sleep(0.1)
    raise AssertionError("no catalog load after the marker finished:\n" + cluster.log_text()[-3000:])


def printed_views(cluster, since):
    """Every pg_get_viewdef call the server logged (several may share a statement)."""
    return [call for _, sql in logged_statements(cluster, since) for call in re.findall(r"pg_get_viewdef\([^)]*\)", sql)]


def test_without_masking_the_catalog_connection_prints_no_definition(make_pgwarden, locks_db, cluster):
    """Only masking traces view definitions. Without a mask rule pgwarden's
    catalog connection reads system catalogs only and takes no lock on any
    user relation: the server never runs pg_get_viewdef for it."""
    since = log_statements(cluster)
    unmasked = {**POLICY, "policies": [{k: v for k, v in POLICY["policies"][0].items() if k != "mask"}]}
    pw = make_pgwarden(overrides=unmasked)
    forward_ddl(pw, "CREATE VIEW public.v_new AS SELECT t1.id, t2.note FROM t1 JOIN t2 USING (id)")
    settle(pw, cluster, since)
    assert printed_views(cluster, since) == []


def test_with_masking_a_view_is_printed_again_only_when_what_it_names_changes(pw, cluster):
    """The other side of the test above, and the cache: the view a masking
    policy needs is printed after the DDL that made it; a refresh after a
    GRANT or unrelated DDL prints nothing, a renamed column prints it again."""
    since = log_statements(cluster)
    forward_ddl(pw, "CREATE VIEW public.v_new AS SELECT t1.id, t2.note FROM t1 JOIN t2 USING (id)")
    settle(pw, cluster, since)
    assert len(printed_views(cluster, since)) == 1, printed_views(cluster, since)
    forward_ddl(pw, "GRANT SELECT ON public.t1 TO PUBLIC")
    settle(pw, cluster, since)
    assert len(printed_views(cluster, since)) == 1, printed_views(cluster, since)
    cluster.execute_app("ALTER TABLE public.t2 RENAME COLUMN note TO remark", dbname=DB)
    settle(pw, cluster, since)
    # v_new, and joined (created before log_statement was on) read t2.note.
    assert len(printed_views(cluster, since)) == 3, printed_views(cluster, since)


def test_a_replaced_view_is_printed_again_and_masked_by_its_new_definition(pw, cluster):
    """An attacker's use of the cache: a view is replaced by one that reads
    the same columns of the same tables, in swapped places. Everything it
    names is unchanged; a cached text of the old definition would trace `b`
    to the clean t2.note and let t1.secret out through it."""
    cluster.execute_app("CREATE VIEW public.swap AS SELECT t1.secret AS a, t2.note AS b "
                        "FROM t1 JOIN t2 USING (id)", dbname=DB)
    since = log_statements(cluster)
    settle(pw, cluster, since)
    with pw.connect(dbname=DB, autocommit=True) as conn:
        assert conn.execute("SELECT a, b FROM swap").fetchall() == [("************", "a note")]
    cluster.execute_app("CREATE OR REPLACE VIEW public.swap AS SELECT t2.note AS a, t1.secret AS b "
                        "FROM t1 JOIN t2 USING (id)", dbname=DB)
    settle(pw, cluster, since)
    with pw.connect(dbname=DB, autocommit=True) as conn:
        rows = conn.execute("SELECT a, b FROM swap").fetchall()
    assert rows == [("a note", "************")], rows
