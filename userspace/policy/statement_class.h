// The statement classes a policy can name in allow / deny / approve.
// The SQL classifier (userspace/sql) maps every parse tree to a set of these;
// the config names them in lower case. The order matches pgw::sql::StatementClass
// (userspace/sql/statement_facts.h) value for value, but map between the two
// by name or with a static_assert per value, never by an unchecked cast.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgw::policy {

enum class StatementClass : uint8_t {
  select,
  insert,
  update,
  delete_,     // `delete` is a keyword
  merge,
  copy_to,
  copy_from,
  truncate,
  ddl,         // any DDL; create / alter / drop name the finer kinds
  create,
  alter,
  drop,
  grant,       // GRANT / REVOKE (dcl)
  role,        // SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE
  set,         // other settings
  transaction,
  procedural,  // DO, CALL
  admin,       // VACUUM, ANALYZE, REINDEX, CLUSTER, CHECKPOINT, LOAD, ALTER SYSTEM
  prepare,
  execute,
  deallocate,
  listen,
  notify,
  lock,
  unknown,     // the classifier could not tell: denied unless a policy allows it
};

inline constexpr size_t kStatementClassCount = static_cast<size_t>(StatementClass::unknown) + 1;

// Config spelling, indexed by the enum value.
inline constexpr std::array<std::string_view, kStatementClassCount> kStatementClassNames = {
    "select",   "insert",      "update",     "delete",  "merge",   "copy_to",
    "copy_from", "truncate",   "ddl",        "create",  "alter",   "drop",
    "grant",    "role",        "set",        "transaction", "procedural", "admin",
    "prepare",  "execute",     "deallocate", "listen",  "notify",  "lock",
    "unknown",
};

constexpr std::string_view to_string(StatementClass c) {
  return kStatementClassNames[static_cast<size_t>(c)];
}

constexpr std::optional<StatementClass> statement_class_from_string(std::string_view name) {
  for (size_t i = 0; i < kStatementClassNames.size(); ++i) {
    if (kStatementClassNames[i] == name) return static_cast<StatementClass>(i);
  }
  return std::nullopt;
}

}  // namespace pgw::policy
