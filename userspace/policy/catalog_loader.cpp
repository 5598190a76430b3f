#include "policy/catalog_loader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgw::policy {
namespace {

// Every name is schema-qualified: the queries run with the login user's own
// search_path, which must not change what they read.
constexpr const char* kSessionQuery =
    "SELECT pg_catalog.current_database(), pg_catalog.current_setting('search_path'), "
    "pg_catalog.current_setting('server_version_num'), "
    "(SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())";

// Other sessions' temporary schemas and relations are theirs alone.
constexpr const char* kSchemasQuery =
    "SELECT nspname FROM pg_catalog.pg_namespace "
    "WHERE nspname !~ '^pg_(toast_)?temp_'";

// Views and materialized views: their definitions are printed separately
// (see the lock rules in the header).
constexpr const char* kRelationsQuery =
    "SELECT c.oid, n.nspname, c.relname, c.relkind "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r','v','m','f','p','S') AND c.relpersistence <> 't'";

constexpr const char* kColumnsQuery =
    "SELECT a.attrelid, a.attnum, a.attname, a.atttypid "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "WHERE a.attnum > 0 AND NOT a.attisdropped "
    "AND c.relkind IN ('r','v','m','f','p') AND c.relpersistence <> 't'";

// The relations each rule reads or writes: a view's ON SELECT rule (its
// query), and rules on tables (CREATE RULE ... DO INSTEAD ...). A statement
// naming the view or table also touches these.
constexpr const char* kRuleDependenciesQuery =
    "SELECT DISTINCT r.ev_class, d.refobjid "
    "FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_depend d "
    "ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid "
    "AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "WHERE d.refobjid <> r.ev_class";

// The body of SQL-language functions outside the system schemas: masking
// traces what they return. A body written as a string (prosrc) is read as
// it is; a SQL-standard BEGIN ATOMIC body (PostgreSQL 14 and later) is
// stored parsed and has to be printed (pg_get_function_sqlbody), which is
// done with the views' precautions: the last column says which.
// The last column: the function can take a whole row as its one argument
// (record 2249, anyelement 2283, "any" 2276, anynonarray 2776,
// anycompatible 5077, anycompatiblenonarray 5079, a composite type, or a
// type some composite type casts to implicitly), so that t.f may be the
// call f(t) (sql/lineage.h, takes_a_row).
#define PGW_TAKES_A_ROW                                                                                       \
  "p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1 AND "                                              \
  "(p.proargtypes[0] IN (2249, 2283, 2276, 2776, 5077, 5079) OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t " \
  "WHERE t.oid = p.proargtypes[0] AND t.typtype = 'c') OR EXISTS (SELECT 1 FROM pg_catalog.pg_cast k "      \
  "JOIN pg_catalog.pg_type s ON s.oid = k.castsource WHERE k.casttarget = p.proargtypes[0] "                 \
  "AND k.castcontext = 'i' AND s.typtype = 'c')) "
constexpr const char* kFunctionsQuery =
    "SELECT p.oid, n.nspname, p.proname, l.lanname, "
    "CASE WHEN l.lanname = 'sql' AND n.nspname NOT IN ('pg_catalog','information_schema') "
    "AND p.prosqlbody IS NULL THEN p.prosrc END, "
    "l.lanname = 'sql' AND n.nspname NOT IN ('pg_catalog','information_schema') AND p.prosqlbody IS NOT NULL, "
    PGW_TAKES_A_ROW
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "JOIN pg_catalog.pg_language l ON l.oid = p.prolang";
constexpr const char* kFunctionsQueryBefore14 =
    "SELECT p.oid, n.nspname, p.proname, l.lanname, "
    "CASE WHEN l.lanname = 'sql' AND n.nspname NOT IN ('pg_catalog','information_schema') "
    "THEN p.prosrc END, false, "
    PGW_TAKES_A_ROW
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "JOIN pg_catalog.pg_language l ON l.oid = p.prolang";
#undef PGW_TAKES_A_ROW

// Partitions and inheritance children: a parent's mask rules cover them.
constexpr const char* kInheritanceQuery = "SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits";

// ---- printed definitions ---------------------------------------------------

// What a printed text depends on, as one md5: the xmin of the object's own
// row (a replaced view or function is a new row version), then the names
// of everything it refers to (pg_depend) as the printed text shows them:
// each relation with its schema and its columns' names, each function,
// type, operator and collation with its schema. A rename, a moved object,
// a new or dropped column changes it; a GRANT or ANALYZE does not. Reading
// it takes no lock beyond the catalogs' own.
std::string fingerprint_sql(const std::string& own_xmin, const char* classid, const std::string& objid) {
  auto named = [](const char* table, const char* alias, const char* name, const char* nsp) {
    return "(SELECT pg_catalog.quote_ident(rn.nspname) || '.' || pg_catalog.quote_ident(" + std::string(alias) + "." +
           name + "::pg_catalog.text) FROM pg_catalog." + table + " " + alias +
           " JOIN pg_catalog.pg_namespace rn ON rn.oid = " + alias + "." + nsp + " WHERE " + alias +
           ".oid = d.refobjid)";
  };
  return "pg_catalog.md5(" + own_xmin +
         "::pg_catalog.text || '|' || COALESCE((SELECT pg_catalog.string_agg(x.part, ',' ORDER BY x.part) "
         "FROM (SELECT DISTINCT d.refclassid::pg_catalog.text || ':' || d.refobjid::pg_catalog.text || '=' || "
         "COALESCE(CASE d.refclassid "
         "WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN " +
         named("pg_class", "rc", "relname", "relnamespace") +
         " || '(' || COALESCE((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname::pg_catalog.text), ',' "
         "ORDER BY a.attnum) FROM pg_catalog.pg_attribute a WHERE a.attrelid = d.refobjid AND a.attnum > 0), '') || ')' "
         "WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN " + named("pg_proc", "o", "proname", "pronamespace") +
         " WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN " + named("pg_type", "o", "typname", "typnamespace") +
         " WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN " +
         named("pg_operator", "o", "oprname", "oprnamespace") +
         " WHEN 'pg_catalog.pg_collation'::pg_catalog.regclass THEN " +
         named("pg_collation", "o", "collname", "collnamespace") +
         " END, '') AS part "
         "FROM pg_catalog.pg_depend d WHERE d.classid = '" +
         std::string(classid) + "'::pg_catalog.regclass AND d.objid = " + objid + ") x), ''))";
}

// User views and materialized views (ON SELECT rule) with their fingerprints.
std::string view_fingerprints_sql() {
  return "SELECT r.ev_class, " + fingerprint_sql("r.xmin", "pg_catalog.pg_rewrite", "r.oid") +
         " FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class "
         "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
         "WHERE r.rulename = '_RETURN' AND c.relkind IN ('v','m') AND c.relpersistence <> 't' "
         "AND n.nspname NOT IN ('pg_catalog','information_schema')";
}

// User SQL functions with a BEGIN ATOMIC body, with their fingerprints.
std::string atomic_function_fingerprints_sql() {
  return "SELECT p.oid, " + fingerprint_sql("p.xmin", "pg_catalog.pg_proc", "p.oid") +
         " FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
         "JOIN pg_catalog.pg_language l ON l.oid = p.prolang "
         "WHERE l.lanname = 'sql' AND p.prosqlbody IS NOT NULL "
         "AND n.nspname NOT IN ('pg_catalog','information_schema')";
}

// True when another session (or a prepared transaction) holds or waits for
// a lock on one of `relations` (an SQL set of oids) in `database` in a mode
// stronger than ROW EXCLUSIVE. ACCESS EXCLUSIVE conflicts with the ACCESS
// SHARE that printing takes (and a waiting request would queue this
// connection behind it); the modes in between are taken by LOCK TABLE, DDL
// and maintenance, the moments a client is likely to ask for ACCESS
// EXCLUSIVE next, with NOWAIT perhaps: printing waits for a calmer moment.
// Plain reads and writes (the three weakest modes) and autovacuum do not
// hold it back. (pg_lock_status and pg_stat_get_activity of the one pid
// rather than the pg_locks and pg_stat_activity views: a tenth of the cost,
// and this runs once per definition.)
std::string contested_sql(const std::string& relations, Oid database) {
  return "EXISTS (SELECT 1 FROM pg_catalog.pg_lock_status() l "
         "WHERE l.locktype = 'relation' "
         "AND l.mode NOT IN ('AccessShareLock','RowShareLock','RowExclusiveLock') "
         "AND l.database = " + std::to_string(database) + "::pg_catalog.oid "
         "AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid() "
         "AND l.relation IN (" + relations + ") "
         "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity(l.pid) a "
         "WHERE a.backend_type = 'autovacuum worker'))";
}

// Prints one definition unless a relation its printing locks is contested
// (above): (contested, text). The relations are exactly those the server's
// AcquireRewriteLocks takes: the view itself and the relations of the
// range tables (all of them in pg_depend).
std::string print_view_sql(Oid view, Oid database) {
  const std::string oid = std::to_string(view);
  const std::string relations =
      "SELECT " + oid + "::pg_catalog.oid UNION ALL SELECT d.refobjid FROM pg_catalog.pg_depend d "
      "JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid "
      "WHERE r.ev_class = " + oid + "::pg_catalog.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass";
  return "SELECT s.locked, CASE WHEN s.locked THEN NULL ELSE pg_catalog.pg_get_viewdef(" + oid +
         "::pg_catalog.oid) END FROM (SELECT " + contested_sql(relations, database) + " AS locked) s";
}

std::string print_function_sql(Oid function, Oid database) {
  const std::string oid = std::to_string(function);
  const std::string relations =
      "SELECT d.refobjid FROM pg_catalog.pg_depend d "
      "WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = " + oid +
      "::pg_catalog.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass";
  return "SELECT s.locked, CASE WHEN s.locked THEN NULL ELSE pg_catalog.pg_get_function_sqlbody(" + oid +
         "::pg_catalog.oid) END FROM (SELECT " + contested_sql(relations, database) + " AS locked) s";
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using PgResult = std::unique_ptr<PGresult, ResultCloser>;

// The config's words for upstream TLS are libpq's sslmode names.
std::string_view sslmode(TlsMode m) { return to_string(m); }

// libpq ends its messages with a newline; one line reads better.
std::string one_line(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s.empty() ? std::string("unknown error") : s;
}

template <typename T>
bool parse_number(const char* text, T& out) {
  std::string_view s(text);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

class Session {
 public:
  Session(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}

  Result<PgResult> query(const char* sql, int columns, std::string_view what) {
    PgResult r(PQexec(conn_, sql));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK)
      return make_error("catalog of " + where_ + ": reading " + std::string(what) + " failed: " +
                        one_line(PQerrorMessage(conn_)));
    if (PQnfields(r.get()) != columns)
      return make_error("catalog of " + where_ + ": reading " + std::string(what) + " returned " +
                        std::to_string(PQnfields(r.get())) + " columns, expected " + std::to_string(columns));
    return r;
  }

  Status command(const char* sql) {
    PgResult r(PQexec(conn_, sql));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return make_error("catalog of " + where_ + ": " + sql + " failed: " + one_line(PQerrorMessage(conn_)));
    return ok_status();
  }

  // Definitions, each printed by its `select` ((contested, text), see
  // print_view_sql) and followed by a rollback to a savepoint taken before
  // the first: what printing one locked is released before the next one
  // runs. Up to kPrintBatch of them travel in one simple Query; one that
  // fails ends that string (the server skips the rest), and the next
  // string starts after it.
  struct Printed {
    bool ok = false;
    std::string text;
    std::string why_not;  // when !ok: a client's lock, or the server's error
  };
  Result<std::vector<Printed>> print_all(const std::vector<std::string>& selects) {
    constexpr std::size_t kPrintBatch = 64;
    std::vector<Printed> out(selects.size());
    if (selects.empty()) return out;
    if (auto st = command("SAVEPOINT pgwarden_print"); !st) return Error{st.error()};
    std::size_t next = 0;
    while (next < selects.size()) {
      std::string sql;
      const std::size_t end = std::min(selects.size(), next + kPrintBatch);
      for (std::size_t i = next; i < end; ++i) sql += selects[i] + "; ROLLBACK TO SAVEPOINT pgwarden_print; ";
      if (PQsendQuery(conn_, sql.c_str()) == 0)
        return make_error("catalog of " + where_ + ": printing definitions failed: " + one_line(PQerrorMessage(conn_)));
      std::size_t at = next;  // the definition the next SELECT result belongs to
      bool failed = false;
      while (PGresult* raw = PQgetResult(conn_)) {
        PgResult r(raw);
        const ExecStatusType status = PQresultStatus(raw);
        if (status == PGRES_COMMAND_OK) continue;  // the rollbacks
        if (at >= end) return make_error("catalog of " + where_ + ": printing definitions: unexpected result");
        Printed& p = out[at++];
        if (status == PGRES_TUPLES_OK && PQntuples(raw) == 1 && PQnfields(raw) == 2) {
          if (std::string_view(PQgetvalue(raw, 0, 0)) == "t") {
            p.why_not = "another session holds or waits for a strong lock on a relation it reads";
          } else if (!PQgetisnull(raw, 0, 1)) {
            p.ok = true;
            p.text = PQgetvalue(raw, 0, 1);
          } else {
            p.why_not = "the server printed nothing";
          }
        } else {
          // lock_timeout (55P03), or most often "could not open relation":
          // dropped since the snapshot.
          failed = true;
          const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
          p.why_not = std::string(state != nullptr ? state : "?????") + " " + one_line(PQresultErrorMessage(raw));
        }
      }
      if (failed) {
        if (auto st = command("ROLLBACK TO SAVEPOINT pgwarden_print"); !st) return Error{st.error()};
      } else if (at != end) {
        return make_error("catalog of " + where_ + ": printing definitions: " + std::to_string(end - at) +
                          " result(s) missing");
      }
      next = at;
    }
    if (auto st = command("RELEASE SAVEPOINT pgwarden_print"); !st) return Error{st.error()};
    return out;
  }

  Error bad_value(std::string_view what, int row) const {
    return make_error("catalog of " + where_ + ": unexpected value in " + std::string(what) + " row " +
                      std::to_string(row));
  }

 private:
  PGconn* conn_;
  std::string where_;
};

// Fingerprints by oid, from a two-column query.
Result<std::unordered_map<Oid, std::string>> read_fingerprints(Session& s, const std::string& sql,
                                                               std::string_view what) {
  auto r = s.query(sql.c_str(), 2, what);
  if (!r) return Error{r.error()};
  std::unordered_map<Oid, std::string> out;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    Oid oid = 0;
    if (!parse_number(PQgetvalue(r->get(), i, 0), oid)) return s.bad_value(what, i);
    out.emplace(oid, PQgetvalue(r->get(), i, 1));
  }
  return out;
}

// The definition of each object `current` lists: from `cached` when its
// fingerprint is unchanged, else printed now (or deferred). `fresh` gets
// what this snapshot holds.
struct DefinitionPass {
  Session& session;
  LoadedCatalog& report;
  Oid database;

  Result<std::unordered_map<Oid, std::string>> run(
      const std::unordered_map<Oid, std::string>& current, const std::unordered_map<Oid, DefinitionCache::Entry>& cached,
      std::unordered_map<Oid, DefinitionCache::Entry>& fresh, std::string (*print_sql)(Oid, Oid),
      std::string_view kind) {
    std::unordered_map<Oid, std::string> texts;
    std::vector<std::pair<Oid, const std::string*>> to_print;  // oid, fingerprint
    for (const auto& [oid, fingerprint] : current) {
      if (auto it = cached.find(oid); it != cached.end() && it->second.fingerprint == fingerprint) {
        texts[oid] = it->second.text;
        fresh[oid] = it->second;
        ++report.reused;
      } else {
        to_print.emplace_back(oid, &fingerprint);
      }
    }
    std::vector<std::string> selects;
    selects.reserve(to_print.size());
    for (const auto& [oid, fingerprint] : to_print) selects.push_back(print_sql(oid, database));
    auto printed = session.print_all(selects);
    if (!printed) return Error{printed.error()};
    for (std::size_t i = 0; i < to_print.size(); ++i) {
      const Oid oid = to_print[i].first;
      Session::Printed& p = (*printed)[i];
      if (!p.ok) {
        // Whatever the reason (a client's lock, or the object dropped since
        // the snapshot), the next load tries again: it either prints it or
        // no longer lists it.
        if (report.deferred++ == 0)
          report.deferred_example = std::string(kind) + " " + std::to_string(oid) + ": " + p.why_not;
        continue;
      }
      texts[oid] = p.text;
      fresh[oid] = DefinitionCache::Entry{*to_print[i].second, std::move(p.text)};
      ++report.printed;
    }
    return texts;
  }
};

Result<CatalogData> read_catalog(Session& s, const CatalogSource& source, DefinitionCache& cache,
                                 LoadedCatalog& report) {
  CatalogData data;
  data.user = source.user;

  auto session = s.query(kSessionQuery, 4, "the session settings");
  if (!session) return Error{session.error()};
  if (PQntuples(session->get()) != 1) return s.bad_value("the session settings", 0);
  data.database = PQgetvalue(session->get(), 0, 0);
  data.search_path = PQgetvalue(session->get(), 0, 1);
  int server_version = 0;
  Oid database = 0;
  if (!parse_number(PQgetvalue(session->get(), 0, 2), server_version) ||
      !parse_number(PQgetvalue(session->get(), 0, 3), database))
    return s.bad_value("the session settings", 0);

  auto schemas = s.query(kSchemasQuery, 1, "schemas");
  if (!schemas) return Error{schemas.error()};
  for (int i = 0; i < PQntuples(schemas->get()); ++i) data.schemas.emplace_back(PQgetvalue(schemas->get(), i, 0));

  auto rels = s.query(kRelationsQuery, 4, "relations");
  if (!rels) return Error{rels.error()};
  for (int i = 0; i < PQntuples(rels->get()); ++i) {
    CatalogRelation r;
    const char* kind = PQgetvalue(rels->get(), i, 3);
    if (!parse_number(PQgetvalue(rels->get(), i, 0), r.oid) || kind[0] == '\0' || kind[1] != '\0')
      return s.bad_value("relations", i);
    r.schema = PQgetvalue(rels->get(), i, 1);
    r.name = PQgetvalue(rels->get(), i, 2);
    r.kind = static_cast<RelationKind>(kind[0]);
    data.relations.push_back(std::move(r));
  }

  auto cols = s.query(kColumnsQuery, 4, "columns");
  if (!cols) return Error{cols.error()};
  data.columns.reserve(static_cast<std::size_t>(PQntuples(cols->get())));
  for (int i = 0; i < PQntuples(cols->get()); ++i) {
    CatalogColumn c;
    if (!parse_number(PQgetvalue(cols->get(), i, 0), c.relation) ||
        !parse_number(PQgetvalue(cols->get(), i, 1), c.attnum) ||
        !parse_number(PQgetvalue(cols->get(), i, 3), c.type))
      return s.bad_value("columns", i);
    c.name = PQgetvalue(cols->get(), i, 2);
    data.columns.push_back(std::move(c));
  }

  auto deps = s.query(kRuleDependenciesQuery, 2, "view dependencies");
  if (!deps) return Error{deps.error()};
  for (int i = 0; i < PQntuples(deps->get()); ++i) {
    ViewDependency d;
    if (!parse_number(PQgetvalue(deps->get(), i, 0), d.view) || !parse_number(PQgetvalue(deps->get(), i, 1), d.base))
      return s.bad_value("view dependencies", i);
    data.view_dependencies.push_back(d);
  }

  auto inh = s.query(kInheritanceQuery, 2, "inheritance");
  if (!inh) return Error{inh.error()};
  for (int i = 0; i < PQntuples(inh->get()); ++i) {
    Inheritance e;
    if (!parse_number(PQgetvalue(inh->get(), i, 0), e.child) || !parse_number(PQgetvalue(inh->get(), i, 1), e.parent))
      return s.bad_value("inheritance", i);
    data.inheritance.push_back(e);
  }

  const bool atomic_bodies = server_version >= 140000;
  auto fns = s.query(atomic_bodies ? kFunctionsQuery : kFunctionsQueryBefore14, 7, "functions");
  if (!fns) return Error{fns.error()};
  data.functions.reserve(static_cast<std::size_t>(PQntuples(fns->get())));
  for (int i = 0; i < PQntuples(fns->get()); ++i) {
    CatalogFunction f;
    if (!parse_number(PQgetvalue(fns->get(), i, 0), f.oid)) return s.bad_value("functions", i);
    f.schema = PQgetvalue(fns->get(), i, 1);
    f.name = PQgetvalue(fns->get(), i, 2);
    f.language = PQgetvalue(fns->get(), i, 3);
    f.body = PQgetvalue(fns->get(), i, 4);
    f.takes_a_row = std::string_view(PQgetvalue(fns->get(), i, 6)) == "t";
    data.functions.push_back(std::move(f));
  }

  // The printed definitions come last, from the same snapshot, with every
  // name qualified (an empty search_path; the user's own was read above).
  if (!source.print_definitions) return data;
  auto views = read_fingerprints(s, view_fingerprints_sql(), "view fingerprints");
  if (!views) return Error{views.error()};
  std::unordered_map<Oid, std::string> functions;
  if (atomic_bodies) {
    auto fps = read_fingerprints(s, atomic_function_fingerprints_sql(), "function fingerprints");
    if (!fps) return Error{fps.error()};
    functions = std::move(*fps);
  }
  if (auto st = s.command("SET LOCAL search_path = ''"); !st) return Error{st.error()};
  DefinitionCache fresh;
  DefinitionPass pass{s, report, database};
  auto view_texts = pass.run(*views, cache.views, fresh.views, print_view_sql, "view");
  if (!view_texts) return Error{view_texts.error()};
  auto function_texts = pass.run(functions, cache.functions, fresh.functions, print_function_sql, "function");
  if (!function_texts) return Error{function_texts.error()};
  for (CatalogRelation& r : data.relations) {
    if (auto it = view_texts->find(r.oid); it != view_texts->end()) r.definition = it->second;
  }
  for (CatalogFunction& f : data.functions) {
    if (auto it = function_texts->find(f.oid); it != function_texts->end()) f.body = it->second;
  }
  cache = std::move(fresh);
  return data;
}

}  // namespace

CatalogSource catalog_source(const Upstream& upstream, const std::string& dbname) {
  CatalogSource s;
  s.host = upstream.address.ip_string();
  s.port = upstream.address.port;
  s.user = upstream.user;
  s.password = upstream.password;
  s.dbname = upstream.database.value_or(dbname);
  s.tls = upstream.tls;
  s.ca_file = upstream.ca_file;
  s.server_name = upstream.server_name;
  s.connect_timeout = upstream.connect_timeout;
  return s;
}

Result<LoadedCatalog> load_catalog(const CatalogSource& source, DefinitionCache& cache) {
  const std::string where = source.user + "@" +
                            (source.host.find(':') != std::string::npos ? "[" + source.host + "]" : source.host) +
                            ":" + std::to_string(source.port) + "/" + source.dbname;
  const std::string port = std::to_string(source.port);
  // libpq counts whole seconds, and treats 1 as 2.
  const std::string timeout =
      std::to_string(std::max<long long>(2, (source.connect_timeout.count() + 999) / 1000));
  std::vector<const char*> keys, values;
  auto param = [&](const char* k, const std::string& v) {
    keys.push_back(k);
    values.push_back(v.c_str());
  };
  const std::string ssl(sslmode(source.tls));
  // lock_timeout: no lock this connection asks for is worth a wait (the
  // catalogs' own are granted at once unless a client rewrites a catalog,
  // e.g. VACUUM FULL pg_class); the load fails or defers and runs again.
  const std::string options =
      "-c statement_timeout=30s -c lock_timeout=20ms -c default_transaction_read_only=on";
  const std::string utf8 = "UTF8";
  // No password file or service file: the credential comes from the config only.
  const std::string no_file = "/dev/null";
  // The session's TLS rules (config.h), in libpq's words: the same sslmode,
  // the same CA file, and the name verify-full checks as `host` with the
  // address to dial as `hostaddr` (libpq sends SNI for a host name too).
  if (!source.server_name.empty() && !source.host.empty() && source.server_name != source.host &&
      source.host.front() != '/') {
    param("host", source.server_name);
    param("hostaddr", source.host);
  } else {
    param("host", source.host);
  }
  // Without a ca_file, a path that cannot exist: libpq would otherwise
  // verify against ~/.postgresql/root.crt when that happens to be there,
  // which the sessions' connections never read.
  const std::string no_root_cert = "/dev/null/no-ca-file";
  param("sslrootcert", source.ca_file.empty() ? no_root_cert : source.ca_file);
  param("port", port);
  param("user", source.user);
  param("dbname", source.dbname);
  if (source.password) param("password", source.password->reveal());
  param("passfile", no_file);
  param("sslmode", ssl);
  param("connect_timeout", timeout);
  param("application_name", source.application_name);
  param("client_encoding", utf8);
  param("options", options);
  keys.push_back(nullptr);
  values.push_back(nullptr);

  // expand_dbname = 0: a database name is only a name, never a conninfo string.
  Conn conn(PQconnectdbParams(keys.data(), values.data(), 0));
  if (!conn) return make_error("catalog of " + where + ": out of memory connecting");
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return make_error("catalog of " + where + ": cannot connect: " + one_line(PQerrorMessage(conn.get())));

  Session session(conn.get(), where);
  // One snapshot for every query, so relations and their columns agree.
  if (auto st = session.command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !st) return Error{st.error()};
  LoadedCatalog loaded;
  auto data = read_catalog(session, source, cache, loaded);
  if (!data) return Error{data.error()};
  (void)session.command("COMMIT");
  loaded.catalog = Catalog::build(std::move(data.value()));
  return loaded;
}

Result<std::shared_ptr<const Catalog>> load_catalog(const CatalogSource& source) {
  DefinitionCache nothing_cached;
  auto loaded = load_catalog(source, nothing_cached);
  if (!loaded) return Error{loaded.error()};
  return loaded->catalog;
}

}  // namespace pgw::policy
