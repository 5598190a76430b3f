"""The read-only agent of policies/readonly-agent.yaml, for the harness.

The policy is taken from the file itself, as text: its `policies:` block goes
into the daemon's config verbatim (only the upstream's name is the harness's),
so what is tested is what the repository ships, read by pgwarden's own
loader. Identities are the harness's: the file matches a cgroup, which
explicit clients do not have.

The corpus (tests/unit/policy/corpus/readonly_agent.tsv) runs in a database
of its own, made like the harness's `app` plus the views its header lists,
so nothing it does (or would do, if a denial failed) touches other tests.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness import Pgwarden, sample_data, yamlgen

REPO_ROOT = Path(__file__).resolve().parents[3]
POLICY_FILE = REPO_ROOT / "policies" / "readonly-agent.yaml"
CORPUS_FILE = REPO_ROOT / "tests" / "unit" / "policy" / "corpus" / "readonly_agent.tsv"
POLICY_IDENTITY = "readonly-agent"
POLICY_UPSTREAM = "app"


# ---- the policy ------------------------------------------------------------------

def policy_item_text():
    """The one `- identity: readonly-agent` item of the file's `policies:`
    list, as the file writes it (comments included)."""
    lines = POLICY_FILE.read_text().splitlines()
    start = lines.index("policies:")
    block = []
    for line in lines[start + 1:]:
        if line and not line[0].isspace() and not line.startswith("#"):
            break  # the next top-level key
        block.append(line)
    items = [i for i, line in enumerate(block) if re.match(r"^\s*- identity:", line)]
    assert len(items) == 1, f"{POLICY_FILE}: expected one policy item, found {len(items)}"
    item = "\n".join(block[items[0]:]).rstrip() + "\n"
    assert re.search(rf"^\s*- identity: {POLICY_IDENTITY}\s*$", item, re.M), item
    assert re.search(rf"^\s+upstream: {POLICY_UPSTREAM}\s*$", item, re.M), item
    return item


def policies_yaml(identity_names, upstream_name):
    """A `policies:` block giving each identity the file's policy on the
    harness's upstream."""
    item = policy_item_text()
    item = re.sub(rf"^(\s+)upstream: {POLICY_UPSTREAM}\s*$", rf"\1upstream: {upstream_name}", item,
                  flags=re.M)
    out = ["policies:"]
    for name in identity_names:
        out.append(re.sub(rf"^(\s*- identity: ){POLICY_IDENTITY}\s*$", rf"\g<1>{name}", item,
                          flags=re.M).rstrip("\n"))
    return "\n".join(out) + "\n"


class ReadonlyAgentPgwarden(Pgwarden):
    """A Pgwarden whose identities all get the readonly-agent policy.
    identities: [{"name": ..., "match": {...}}]; `default: deny`, so a client
    no identity matches is refused at startup. overrides: more top-level
    keys."""

    def __init__(self, upstream, identities, overrides=None, **kw):
        super().__init__(upstream=upstream,
                         overrides={"default": "deny", "identities": identities, **(overrides or {})},
                         **kw)
        self.config.pop("policies", None)
        self.policies_text = policies_yaml([i["name"] for i in identities],
                                           self.config["upstreams"][0]["name"])

    def write_config(self, config=None, text=None):
        if text is None:
            text = yamlgen.dump(config if config is not None else self.config) + "\n" + self.policies_text
        super().write_config(text=text)


def uid_identity(name=POLICY_IDENTITY):
    """Processes of this test's uid on pgwarden's unix socket."""
    return {"name": name, "match": {"uid": [os.geteuid()]}}


def source_identity(name, cidr="127.0.0.0/8"):
    """Explicit TCP clients from loopback (they carry no kernel identity)."""
    return {"name": name, "match": {"source": [cidr]}}


def stop_cleanly(pw):
    """End a daemon a module fixture started: it must not have died on its
    own, and must exit 0 on SIGTERM."""
    try:
        pw.check_not_exited()
        if pw.alive():
            pw.stop()
    finally:
        pw.close()


# ---- the corpus ---------------------------------------------------------------------

@dataclass
class CorpusLine:
    line: int
    sql: str
    action: str   # allow | deny | approve
    expect: str   # what the client's message must contain ("-" for allow)

    def where(self):
        return f"readonly_agent.tsv:{self.line}: {self.sql!r}"


def _unescape(text):
    # \n, \t and \\ only, as tests/unit/policy/corpus_test.cpp reads them.
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], text)


def read_corpus():
    out = []
    for n, raw in enumerate(CORPUS_FILE.read_text().splitlines(), 1):
        if not raw or raw.startswith("#"):
            continue
        fields = raw.split("\t")
        assert len(fields) == 3, f"readonly_agent.tsv:{n}: expected SQL<TAB>action<TAB>message"
        sql, action, expect = fields
        assert action in ("allow", "deny", "approve"), f"readonly_agent.tsv:{n}: action {action!r}"
        out.append(CorpusLine(n, _unescape(sql), action, expect))
    return out


def admin_sql():
    """The statements the corpus header says an admin ran first (the views
    over hr.salaries and orders), taken from the header."""
    header, taking = [], False
    for raw in CORPUS_FILE.read_text().splitlines():
        if not raw.startswith("#"):
            break
        if "created by an admin" in raw:
            taking = True
            continue
        if taking:
            if not raw.startswith("#   "):
                break
            header.append(raw[1:].strip())
    statements = [s.strip() for s in " ".join(header).split(";") if s.strip()]
    assert statements and all(s.upper().startswith("CREATE VIEW") for s in statements), statements
    return statements


def create_corpus_database(cluster, name):
    """`app`'s schema and rows (owned by app_owner) plus the admin's views,
    in a fresh database `name`. The views belong to the superuser; app_owner
    may read them, so an allowed read of one succeeds."""
    cluster.drop_database(name)
    cluster.create_database(name)
    with cluster.connect_super(name, autocommit=False) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {cluster.app_user}")
        conn.execute(f"SET ROLE {cluster.app_user}")
        sample_data.load(conn)
    views = []
    with cluster.connect_super(name) as conn:
        for statement in admin_sql():
            conn.execute(statement)
            views.append(re.match(r"CREATE VIEW (\S+)", statement, re.I).group(1))
        conn.execute(f"GRANT SELECT ON {', '.join(views)} TO {cluster.app_user}")
    return views


# ---- what "no effect" means -----------------------------------------------------------

# One query over a direct superuser connection. Row data includes ctid, xmin
# and xmax, so an UPDATE that writes the same values, or a SELECT ... FOR
# UPDATE that only locks, still shows.
_ROWS = ("(SELECT count(*) || ' ' || md5(coalesce(string_agg(t.ctid::text || t.xmin::text || "
         "t.xmax::text || t::text, E'\\n' ORDER BY t.ctid), '')) FROM {table} t)")
FINGERPRINT_PARTS = {
    "public.customers": _ROWS.format(table="public.customers"),
    "public.orders": _ROWS.format(table="public.orders"),
    "hr.salaries": _ROWS.format(table="hr.salaries"),
    "sequences": "(SELECT string_agg(format('%s.%s=%s', schemaname, sequencename, last_value), ' ' "
                 "ORDER BY schemaname, sequencename) FROM pg_sequences)",
    # Temp schemas count too: a CREATE TEMP TABLE shows while its session lives.
    "relations": """(SELECT string_agg(format('%s.%s %s %s owner=%s acl=%s natts=%s node=%s opts=%s rules=%s trig=%s rls=%s',
                        n.nspname, c.relname, c.relkind, c.relpersistence, c.relowner::regrole, c.relacl,
                        c.relnatts, c.relfilenode, c.reloptions, c.relhasrules, c.relhastriggers, c.relrowsecurity),
                        E'\\n' ORDER BY n.nspname, c.relname)
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')""",
    "columns": """(SELECT md5(string_agg(format('%s %s %s %s %s %s %s %s %s', a.attrelid::regclass, a.attnum, a.attname,
                        a.atttypid, a.attnotnull, a.atthasdef, a.attisdropped, a.attacl, a.attstattarget),
                        E'\\n' ORDER BY a.attrelid, a.attnum))
                     FROM pg_attribute a WHERE a.attrelid >= 16384)""",
    "catalog_acls": """(SELECT md5(string_agg(format('%s %s', c.oid, c.relacl), ',' ORDER BY c.oid)) FROM pg_class c)
                       || (SELECT md5(string_agg(format('%s %s %s', p.oid, p.proacl, p.proowner), ',' ORDER BY p.oid)) FROM pg_proc p)""",
    "schemas": "(SELECT string_agg(format('%s owner=%s acl=%s', nspname, nspowner::regrole, nspacl), ' ' "
               "ORDER BY nspname) FROM pg_namespace)",
    "functions": "(SELECT string_agg(format('%s %s %s', p.oid::regprocedure, p.prokind, md5(p.prosrc)), E'\\n' "
                 "ORDER BY p.oid) FROM pg_proc p WHERE p.oid >= 16384)",
    "other_objects": """(SELECT md5(concat_ws('|',
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_constraint x WHERE x.oid >= 16384),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_trigger x WHERE x.oid >= 16384),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_rewrite x WHERE x.oid >= 16384),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_policy x),
                        (SELECT string_agg(x::text, ',' ORDER BY x.indexrelid) FROM pg_index x WHERE x.indexrelid >= 16384),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_type x WHERE x.oid >= 16384),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_event_trigger x),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_publication x),
                        (SELECT string_agg(x::text, ',' ORDER BY x.oid) FROM pg_default_acl x),
                        (SELECT string_agg(x::text, ',' ORDER BY x.objoid, x.classoid, x.objsubid) FROM pg_description x WHERE x.objoid >= 16384))))""",
    "extensions": "(SELECT string_agg(extname || ' ' || extversion, ' ' ORDER BY extname) FROM pg_extension)",
    "large_objects": "(SELECT count(*) || ' ' || coalesce(max(oid)::text, '-') FROM pg_largeobject_metadata)",
    "roles": """(SELECT string_agg(format('%s super=%s createrole=%s createdb=%s login=%s repl=%s bypassrls=%s conn=%s until=%s',
                        rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
                        rolconnlimit, rolvaliduntil), E'\\n' ORDER BY rolname) FROM pg_roles)
                 || (SELECT coalesce(string_agg(format('%s>%s', roleid::regrole, member::regrole), ' '
                        ORDER BY roleid, member), '') FROM pg_auth_members)""",
    "databases": "(SELECT string_agg(format('%s owner=%s acl=%s conn=%s', datname, datdba::regrole, datacl, "
                 "datallowconn), ' ' ORDER BY datname) FROM pg_database)",
    "role_database_settings": "(SELECT coalesce(string_agg(format('%s/%s %s', setdatabase, setrole, setconfig), ' ' "
                              "ORDER BY setdatabase, setrole), '') FROM pg_db_role_setting)",
    "server_settings": "(SELECT md5(pg_read_file('postgresql.auto.conf')) || ' loaded ' || pg_conf_load_time())",
    "maintenance": "(SELECT string_agg(format('%s.%s vacuum=%s analyze=%s', schemaname, relname, vacuum_count, "
                   "analyze_count), ' ' ORDER BY schemaname, relname) FROM pg_stat_user_tables) "
                   "|| (SELECT ' checkpoints_req=' || checkpoints_req FROM pg_stat_bgwriter)",
    "replication": "(SELECT coalesce(string_agg(slot_name, ' ' ORDER BY slot_name), '') FROM pg_replication_slots) "
                   "|| (SELECT coalesce(string_agg(roname, ' ' ORDER BY roname), '') FROM pg_replication_origin) "
                   "|| (SELECT count(*)::text FROM pg_prepared_xacts)",
}
FINGERPRINT_SQL = "SELECT " + ",\n".join(f"{sql} AS \"{name}\"" for name, sql in FINGERPRINT_PARTS.items())

# Server files the corpus names (COPY ... TO '/tmp/...', lo_export(..., '/tmp/x')).
SERVER_FILES = sorted(set(re.findall(r"'(/tmp/[^']+)'", CORPUS_FILE.read_text())))
CHANNELS = sorted({c for pair in re.findall(r"(?:LISTEN|NOTIFY)\s+(\w+)|pg_notify\('(\w+)'",
                                             CORPUS_FILE.read_text()) for c in pair if c})


class DatabaseWatch:
    """A direct superuser session on the corpus database: fingerprint() is
    every observable the corpus could change; it also LISTENs on the
    channels the corpus names, so a NOTIFY that got through shows up."""

    def __init__(self, cluster, dbname):
        self.conn = cluster.connect_super(dbname)
        self.notifications = []
        self.conn.add_notify_handler(lambda n: self.notifications.append((n.channel, n.payload)))
        for channel in CHANNELS:
            self.conn.execute(f'LISTEN "{channel}"')
        self.backend_pid = self.conn.info.backend_pid

    def fingerprint(self):
        cur = self.conn.execute(FINGERPRINT_SQL)
        values = dict(zip([d.name for d in cur.description], cur.fetchone()))
        for path in SERVER_FILES:
            try:
                st = os.stat(path)
                values["file " + path] = f"{st.st_size} {st.st_mtime_ns}"
            except FileNotFoundError:
                values["file " + path] = "absent"
        values["notifications"] = repr(self.notifications)
        # Still the same backend: nothing terminated it.
        values["watch_backend"] = str(self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                                      == self.backend_pid)
        return values

    def close(self):
        self.conn.close()


def fingerprint_diff(before, after, width=300):
    """Human-readable differences between two fingerprints ('' when equal)."""
    out = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b != a:
            out.append(f"  {key}:\n    before {str(b)[:width]!r}\n    after  {str(a)[:width]!r}")
    return "\n".join(out)
