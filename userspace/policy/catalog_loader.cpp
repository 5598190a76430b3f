#include "policy/catalog_loader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <string_view>
#include <vector>

namespace pgw::policy {
namespace {

// Every name is schema-qualified: the queries run with the login user's own
// search_path, which must not change what they read.
constexpr const char* kSessionQuery =
    "SELECT pg_catalog.current_database(), pg_catalog.current_setting('search_path'), "
    "pg_catalog.current_setting('server_version_num')";

// Other sessions' temporary schemas and relations are theirs alone.
constexpr const char* kSchemasQuery =
    "SELECT nspname FROM pg_catalog.pg_namespace "
    "WHERE nspname !~ '^pg_(toast_)?temp_'";

// View definitions are what masking traces a view's columns through; the
// system's own views hold no user data and are left out.
constexpr const char* kRelationsQuery =
    "SELECT c.oid, n.nspname, c.relname, c.relkind, "
    "CASE WHEN c.relkind IN ('v','m') AND n.nspname NOT IN ('pg_catalog','information_schema') "
    "THEN pg_catalog.pg_get_viewdef(c.oid) END "
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
// traces what they return (a SQL-standard BEGIN ATOMIC body is only
// available deparsed, by pg_get_function_sqlbody, new in PostgreSQL 14;
// older servers have prosrc only, and calling the missing function would
// fail the whole snapshot).
constexpr const char* kFunctionsQuery =
    "SELECT p.oid, n.nspname, p.proname, l.lanname, "
    "CASE WHEN l.lanname = 'sql' AND n.nspname NOT IN ('pg_catalog','information_schema') "
    "THEN COALESCE(pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc) END "
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "JOIN pg_catalog.pg_language l ON l.oid = p.prolang";
constexpr const char* kFunctionsQueryBefore14 =
    "SELECT p.oid, n.nspname, p.proname, l.lanname, "
    "CASE WHEN l.lanname = 'sql' AND n.nspname NOT IN ('pg_catalog','information_schema') "
    "THEN p.prosrc END "
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "JOIN pg_catalog.pg_language l ON l.oid = p.prolang";

// Partitions and inheritance children: a parent's mask rules cover them.
constexpr const char* kInheritanceQuery = "SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits";

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

  Error bad_value(std::string_view what, int row) const {
    return make_error("catalog of " + where_ + ": unexpected value in " + std::string(what) + " row " +
                      std::to_string(row));
  }

 private:
  PGconn* conn_;
  std::string where_;
};

Result<CatalogData> read_catalog(Session& s, const CatalogSource& source) {
  CatalogData data;
  data.user = source.user;

  auto session = s.query(kSessionQuery, 3, "the session settings");
  if (!session) return Error{session.error()};
  if (PQntuples(session->get()) != 1) return s.bad_value("the session settings", 0);
  data.database = PQgetvalue(session->get(), 0, 0);
  data.search_path = PQgetvalue(session->get(), 0, 1);
  int server_version = 0;
  if (!parse_number(PQgetvalue(session->get(), 0, 2), server_version)) return s.bad_value("the session settings", 0);

  auto schemas = s.query(kSchemasQuery, 1, "schemas");
  if (!schemas) return Error{schemas.error()};
  for (int i = 0; i < PQntuples(schemas->get()); ++i) data.schemas.emplace_back(PQgetvalue(schemas->get(), i, 0));

  auto rels = s.query(kRelationsQuery, 5, "relations");
  if (!rels) return Error{rels.error()};
  for (int i = 0; i < PQntuples(rels->get()); ++i) {
    CatalogRelation r;
    const char* kind = PQgetvalue(rels->get(), i, 3);
    if (!parse_number(PQgetvalue(rels->get(), i, 0), r.oid) || kind[0] == '\0' || kind[1] != '\0')
      return s.bad_value("relations", i);
    r.schema = PQgetvalue(rels->get(), i, 1);
    r.name = PQgetvalue(rels->get(), i, 2);
    r.definition = PQgetvalue(rels->get(), i, 4);
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

  auto fns = s.query(server_version >= 140000 ? kFunctionsQuery : kFunctionsQueryBefore14, 5, "functions");
  if (!fns) return Error{fns.error()};
  data.functions.reserve(static_cast<std::size_t>(PQntuples(fns->get())));
  for (int i = 0; i < PQntuples(fns->get()); ++i) {
    CatalogFunction f;
    if (!parse_number(PQgetvalue(fns->get(), i, 0), f.oid)) return s.bad_value("functions", i);
    f.schema = PQgetvalue(fns->get(), i, 1);
    f.name = PQgetvalue(fns->get(), i, 2);
    f.language = PQgetvalue(fns->get(), i, 3);
    f.body = PQgetvalue(fns->get(), i, 4);
    data.functions.push_back(std::move(f));
  }
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
  s.connect_timeout = upstream.connect_timeout;
  return s;
}

Result<std::shared_ptr<const Catalog>> load_catalog(const CatalogSource& source) {
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
  const std::string options = "-c statement_timeout=30s -c default_transaction_read_only=on";
  const std::string utf8 = "UTF8";
  // No password file or service file: the credential comes from the config only.
  const std::string no_file = "/dev/null";
  param("host", source.host);
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
  auto data = read_catalog(session, source);
  if (!data) return Error{data.error()};
  (void)session.command("COMMIT");
  return Catalog::build(std::move(data.value()));
}

}  // namespace pgw::policy
