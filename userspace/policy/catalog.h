// What one upstream database holds, as far as policy decisions need it: a
// snapshot of its schemas, relations, columns, view dependencies and
// functions, and the search_path its login user starts with.
//
// A Catalog is immutable once built. The engine loads a fresh one in the
// background (catalog_loader.h) and swaps a std::shared_ptr<const Catalog>;
// a decision keeps the snapshot it started with. Every snapshot has a
// process-unique version(), which decision-cache keys include, so a verdict
// made against an older snapshot is never reused with a newer one.
//
// Name resolution follows PostgreSQL's rules for relations (namespace.c,
// RangeVarGetRelid) with one deliberate difference: the answer is every
// relation a name COULD mean, not the one it means now. An unqualified name
// could also mean a same-named relation created later (by another session, or
// earlier in the same SQL string) in any schema searched before the one
// holding it today, so those count too. See resolve().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pgw::policy {

using Oid = std::uint32_t;

// pg_class.relkind values the catalog keeps (indexes, TOAST tables and
// composite types cannot be named in a FROM clause).
enum class RelationKind : char {
  table = 'r',
  view = 'v',
  matview = 'm',
  foreign = 'f',
  partitioned = 'p',
  sequence = 'S',
};
std::string_view to_string(RelationKind k);  // "table", "view", ...

struct CatalogRelation {
  Oid oid = 0;
  std::string schema;
  std::string name;
  RelationKind kind = RelationKind::table;
  // Views and materialized views outside the system schemas: the defining
  // query as pg_get_viewdef prints it (stars expanded). Empty otherwise.
  std::string definition;
  std::string qualified() const { return schema + "." + name; }
};

struct CatalogColumn {
  Oid relation = 0;
  std::int16_t attnum = 0;
  std::string name;
  Oid type = 0;
};

struct CatalogFunction {
  Oid oid = 0;
  std::string schema;
  std::string name;
  std::string language;  // pg_language.lanname: "sql", "plpgsql", "internal", "c", ...
  std::string body;      // SQL-language functions outside the system schemas; else empty
  // Callable with a whole row as its one argument (its first parameter is
  // record, anyelement, "any", ... or a row type, and the others have
  // defaults): t.f may run f(t).
  bool takes_a_row = false;
};

// A view (or materialized view) reads these relations: pg_rewrite's rule of
// the view, and the pg_depend rows that rule has on pg_class. Rules on tables
// (CREATE RULE ... DO INSTEAD) count the same way: naming the table touches
// what its rules touch.
struct ViewDependency {
  Oid view = 0;
  Oid base = 0;
};

// A child table of an inheritance parent or a partition of a partitioned
// table (pg_inherits): it holds the parent's columns, so the parent's mask
// rules cover it too.
struct Inheritance {
  Oid child = 0;
  Oid parent = 0;
};

// Everything a loader (or a test) provides; Catalog::build() indexes it.
struct CatalogData {
  std::string database;                  // current_database() of the loading connection
  std::string user;                      // the login user that loaded it
  std::string search_path;               // current_setting('search_path') for that user
  std::vector<std::string> schemas;
  std::vector<CatalogRelation> relations;
  std::vector<CatalogColumn> columns;
  std::vector<ViewDependency> view_dependencies;
  std::vector<CatalogFunction> functions;
  std::vector<Inheritance> inheritance;
};

// One relation a written name could mean.
struct RelationCandidate {
  std::string schema;  // "*" when the schema cannot be known (an unknown search_path)
  std::string name;
  const CatalogRelation* relation = nullptr;  // nullptr: does not exist in this snapshot
  bool exists() const { return relation != nullptr; }
  bool any_schema() const { return schema == "*"; }
  std::string qualified() const { return schema + "." + name; }
};

// The server's own schemas: what is in them no client made.
inline bool is_system_schema(std::string_view schema) {
  return schema == "pg_catalog" || schema == "information_schema";
}

class Catalog {
 public:
  // Indexes the data. Duplicate (schema, name) pairs keep the first.
  static std::shared_ptr<const Catalog> build(CatalogData data);

  std::uint64_t version() const { return version_; }
  const std::string& database() const { return data_.database; }
  const std::string& user() const { return data_.user; }
  const std::string& default_search_path() const { return data_.search_path; }

  bool has_schema(std::string_view schema) const;
  const CatalogRelation* find(std::string_view schema, std::string_view name) const;
  const CatalogRelation* relation(Oid oid) const;
  const CatalogFunction* function(Oid oid) const;
  // True when every function of this name is in pg_catalog or
  // information_schema: an unqualified call of it runs a built-in.
  bool only_system_function_named(std::string_view name) const;
  // Some function outside the system schemas has this name.
  bool user_function_named(std::string_view name) const;
  std::span<const CatalogColumn> columns(Oid relation) const;  // by attnum

  // The relations a view (or a table with rules) reads or writes, through
  // views of views (each once, cycles and self-references ignored): what a
  // policy must check besides the name itself. Empty for a plain table.
  std::vector<const CatalogRelation*> base_relations(Oid view) const;

  const std::vector<CatalogRelation>& relations() const { return data_.relations; }
  const std::vector<CatalogFunction>& functions() const { return data_.functions; }
  const std::vector<Inheritance>& inheritance() const { return data_.inheritance; }
  std::size_t relation_count() const { return data_.relations.size(); }
  std::size_t function_count() const { return data_.functions.size(); }
  std::size_t schema_count() const { return data_.schemas.size(); }

 private:
  Catalog() = default;
  CatalogData data_;
  std::uint64_t version_ = 0;
  std::unordered_map<std::string, std::size_t> by_name_;  // "schema\0name" -> index
  std::unordered_map<Oid, std::size_t> by_oid_;
  std::unordered_map<Oid, std::size_t> function_by_oid_;
  std::unordered_set<std::string> system_function_names_;  // functions in pg_catalog / information_schema
  std::unordered_set<std::string> user_function_names_;    // functions in every other schema
  std::unordered_map<Oid, std::pair<std::size_t, std::size_t>> columns_by_relation_;  // [begin, end)
  std::unordered_map<Oid, std::vector<Oid>> view_bases_;
  std::vector<std::string> sorted_schemas_;
};

// Every relation `schema.name` (schema empty: unqualified) could mean.
//
// `search_path` is the expanded path (no "$user"; "*" for a schema pgwarden
// cannot know). `catalog` may be null (no snapshot: nothing is known to exist).
//
// Qualified names mean exactly that relation. Unqualified names walk
// pg_catalog first (unless the path names it elsewhere), then the path, as
// PostgreSQL does, and collect:
//   - in pg_catalog: the relation if the snapshot has it (nobody but a
//     superuser with allow_system_table_mods can create one there); without a
//     snapshot, pg_catalog.NAME for names starting with "pg_" (every system
//     relation does);
//   - in any other schema before the first that holds the name: SCHEMA.NAME,
//     not existing yet (it may be created later and would then win);
//   - the first schema that holds the name, where the walk stops;
//   - when no schema holds it: every schema of the path.
// The implicit pg_temp schema (the session's own temporary tables) is not
// walked: it holds only what this session created. A path that names pg_temp
// explicitly walks it like any other schema.
std::vector<RelationCandidate> resolve(const Catalog* catalog, std::string_view schema,
                                       std::string_view name,
                                       std::span<const std::string> search_path);

}  // namespace pgw::policy
