// What one SQL statement does, as far as its text tells: the facts a policy
// decides on. Produced by pgw::sql::analyze(); plain values, cheap to copy
// into a decision cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgw::sql {

// Statement classes. A statement takes every class found anywhere in its
// tree (a DELETE inside a CTE makes a SELECT also a delete). The values match
// enum pgw_class of raw/raw_facts.h.
enum class StatementClass : std::uint8_t {
  select,
  insert,
  update,
  delete_,
  merge,
  copy_to,
  copy_from,
  truncate,
  ddl,
  create,
  alter,
  drop,
  grant,  // GRANT/REVOKE and role management (dcl)
  role,   // SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE, set_config('role', ...)
  set,    // any other setting
  transaction,
  procedural,  // DO, CALL
  admin,       // VACUUM, ANALYZE, REINDEX, CLUSTER, CHECKPOINT, LOAD, ALTER SYSTEM, REFRESH
  prepare,
  execute,
  deallocate,
  listen,
  notify,
  lock,     // LOCK, SELECT ... FOR UPDATE/SHARE
  unknown,  // anything not understood: a policy must treat it as denied
};
inline constexpr std::size_t kStatementClassCount = 25;

// "select", "delete", "copy_from", ... (the names policies use).
std::string_view to_string(StatementClass c);
std::optional<StatementClass> statement_class_from_string(std::string_view name);

class ClassSet {
 public:
  constexpr ClassSet() = default;
  constexpr explicit ClassSet(std::uint32_t bits) : bits_(bits) {}
  constexpr ClassSet(std::initializer_list<StatementClass> classes) {
    for (auto c : classes) add(c);
  }
  constexpr void add(StatementClass c) { bits_ |= bit(c); }
  constexpr void add(ClassSet other) { bits_ |= other.bits_; }
  constexpr void remove(StatementClass c) { bits_ &= ~bit(c); }
  constexpr bool has(StatementClass c) const { return (bits_ & bit(c)) != 0; }
  constexpr bool intersects(ClassSet other) const { return (bits_ & other.bits_) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr std::uint32_t bits() const { return bits_; }
  std::vector<StatementClass> list() const;
  std::string to_string() const;  // "select,delete"
  void append_to(std::string& out) const;  // to_string()'s text, without allocating beyond `out`
  friend constexpr bool operator==(ClassSet, ClassSet) = default;

 private:
  static constexpr std::uint32_t bit(StatementClass c) { return 1u << static_cast<unsigned>(c); }
  std::uint32_t bits_ = 0;
};

// How a relation is used; a bit set of these (values match enum pgw_usage).
enum Usage : std::uint8_t {
  kRead = 1u << 0,
  kWrite = 1u << 1,
  kDdl = 1u << 2,
  kLock = 1u << 3,
  kTruncate = 1u << 4,
  kCopy = 1u << 5,
  kAdmin = 1u << 6,
};
std::string usage_to_string(std::uint8_t usage);  // "read,write"

// A relation as written, with identifiers already folded by the parser
// (unquoted names lower-cased, U&"..." decoded). An empty schema means the
// name is unqualified: it resolves through the session's search_path.
struct Relation {
  std::string catalog;
  std::string schema;
  std::string name;
  std::uint8_t usage = 0;
  std::string qualified() const;  // "schema.name" or "name"
  friend bool operator==(const Relation&, const Relation&) = default;
};

// An operation on every object of a schema (DROP SCHEMA, ALTER SCHEMA RENAME,
// GRANT ... ON ALL TABLES IN SCHEMA, GRANT ... ON SCHEMA, CREATE SCHEMA).
struct SchemaRef {
  std::string name;
  std::uint8_t usage = 0;
  friend bool operator==(const SchemaRef&, const SchemaRef&) = default;
};

// Why a function is on the built-in deny-list (function_denylist.h).
enum class FunctionRisk : std::uint8_t {
  none,
  file_access,     // reads or lists server files
  large_object,    // lo_* : server files (lo_import/lo_export) and large objects
  sql_in_string,   // runs SQL (or reads a table) named in a string: query_to_xml, ts_stat
  remote_sql,      // dblink and friends
  backend_signal,  // pg_terminate_backend, pg_cancel_backend
  server_control,  // pg_reload_conf, pg_rotate_logfile, pg_promote, WAL and backup control
  replication,     // replication slots and logical decoding
};
std::string_view to_string(FunctionRisk r);

struct FunctionRef {
  std::string catalog;
  std::string schema;  // empty when unqualified
  std::string name;    // as folded by the parser
  FunctionRisk risk = FunctionRisk::none;
  // Written x.f or (x).f: a call f(x) only when x has no column or field f
  // (PostgreSQL's attribute notation), which the text alone cannot tell.
  bool maybe_field = false;
  std::string qualified() const;
  friend bool operator==(const FunctionRef&, const FunctionRef&) = default;
};

enum class SettingAction : std::uint8_t {
  set,           // SET name = values, set_config(name, value, ...)
  reset,         // RESET name, SET name TO DEFAULT, set_config(name, NULL, ...)
  from_current,  // SET name FROM CURRENT
  reset_all,     // RESET ALL, DISCARD ALL (name empty)
};

struct Setting {
  // Lower-cased GUC name: "search_path", "role", "session_authorization",
  // "client_encoding", "standard_conforming_strings", "transaction_read_only"
  // (SET TRANSACTION), "default_transaction_read_only" (SET SESSION
  // CHARACTERISTICS), ... Empty for reset_all, and for a set_config() whose
  // name is not a literal (then name_known is false).
  std::string name;
  bool name_known = true;
  SettingAction action = SettingAction::set;
  bool is_local = false;      // SET LOCAL / set_config(..., true)
  bool via_function = false;  // set_config()
  // A set_config() its query may not call while the statement succeeds
  // (WHERE false, a CASE branch, LIMIT 0, a set-returning function beside
  // it): all but a top-level SELECT of constant set_config calls alone.
  bool may_not_run = false;
  bool value_known = true;    // false when a value is not a literal
  // SET: one element per list item, unquoted (SET search_path = a, "B" gives
  // {"a", "B"}). set_config(): the single string argument as written
  // ('a, "B"'), which the server splits itself.
  std::vector<std::string> values;
  friend bool operator==(const Setting&, const Setting&) = default;
};

// DECLARE name CURSOR [WITH HOLD]: a named portal the session can read with
// FETCH or a protocol Execute; WITH HOLD outlives the transaction that
// declared it.
struct CursorDeclaration {
  std::string name;
  bool holdable = false;
  friend bool operator==(const CursorDeclaration&, const CursorDeclaration&) = default;
};

// Statement-level flags (bit set).
enum Flag : std::uint32_t {
  kCopyProgram = 1u << 0,      // COPY ... TO/FROM PROGRAM
  kCopyFile = 1u << 1,         // COPY ... TO/FROM a server file
  kExplainOnly = 1u << 2,      // EXPLAIN without ANALYZE: planned, not run
  kDynamicSql = 1u << 3,       // PL/pgSQL EXECUTE of a computed string
  kDoBodyUnknown = 1u << 4,    // a DO body that could not be analyzed
  kUnknownSetting = 1u << 5,   // set_config() with a computed name
  kUnsupportedNode = 1u << 6,  // a parse node the walker does not know
  // COMMIT, ROLLBACK, ROLLBACK TO SAVEPOINT, PREPARE TRANSACTION (END and
  // ABORT too): settings made since the transaction or savepoint began may
  // be undone (a rollback) or end (SET LOCAL).
  kEndsTransactionScope = 1u << 7,
  // Derived from the functions called (function_denylist.h) and COPY:
  kRunsSqlString = 1u << 8,       // SQL held in a string: query_to_xml, dblink, dynamic EXECUTE
  kTouchesFiles = 1u << 9,        // server files or programs: pg_read_file, lo_import, COPY file/PROGRAM
  kDenylistedFunction = 1u << 10, // at least one function of the built-in deny-list
};
std::string flags_to_string(std::uint32_t flags);

struct StatementFacts {
  // Byte range of the statement in the input, as PostgreSQL's RawStmt gives
  // it: from just after the previous semicolon (leading blanks and comments
  // included) to the end of the statement, its semicolon excluded.
  std::size_t location = 0;
  std::size_t length = 0;
  ClassSet classes;
  std::uint32_t flags = 0;
  std::vector<Relation> relations;  // sorted by (catalog, schema, name), unique
  std::vector<SchemaRef> schemas;
  std::vector<FunctionRef> functions;  // sorted, unique
  std::vector<Setting> settings;       // in statement order
  std::vector<std::string> prepares;   // PREPARE name (the statement's classes include the query's)
  std::vector<std::string> executes;   // EXECUTE name: add the classes recorded at PREPARE
  std::vector<std::string> deallocates;
  bool deallocate_all = false;
  std::vector<CursorDeclaration> declares;  // DECLARE name CURSOR ... (the classes are its query's)
  std::vector<std::string> fetches;         // FETCH / MOVE ... name: add the facts recorded at DECLARE
  std::vector<std::string> closes;          // CLOSE name
  bool close_all = false;                   // CLOSE ALL, DISCARD ALL
  std::vector<std::string> listens;
  std::vector<std::string> unlistens;
  bool unlisten_all = false;
  std::vector<std::string> notifies;
  bool notify_unknown_channel = false;  // pg_notify() with a computed channel

  bool has(StatementClass c) const { return classes.has(c); }
  bool has_flag(Flag f) const { return (flags & f) != 0; }
  const Relation* find_relation(std::string_view schema, std::string_view name) const;
  const FunctionRef* find_function(std::string_view name) const;
};

// Sorts relations, schemas, functions and names, merging duplicates (usage
// bits are OR-ed). analyze() returns facts in this form.
void sort_and_merge(StatementFacts& facts);

// EXECUTE x (SQL, or Bind/Execute of a protocol statement) runs what x was
// prepared with: adds the facts of the prepared query (its classes without
// "prepare", relations, functions, settings, flags) to the EXECUTE's facts.
void add_prepared_facts(StatementFacts& execute, const StatementFacts& prepared);

// One line for logs, tests and "policy explain":
// "classes=select,lock relations=public.t(read,lock) functions=now flags=..."
std::string to_string(const StatementFacts& facts);

}  // namespace pgw::sql
