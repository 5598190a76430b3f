// The matching rules decide() is built from, one per kind of policy entry.
// Internal to the decision layer; separate so each rule is testable alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/config.h"
#include "sql/statement_facts.h"

namespace pgw::policy {

// The policy's class for an SQL class (same names; never an unchecked cast).
StatementClass policy_class(sql::StatementClass c);

enum class ListMatch : std::uint8_t { none, allow, approve, deny };

// Which list names class `c` (deny first: the loader refuses a class in two lists).
ListMatch class_list(const Policy& policy, StatementClass c);

// Which list names function `f`, and the entry as written ("function:NAME").
// deny / approve entries match ASCII case-insensitively and an unqualified
// entry matches every schema (the safe side); allow entries match the name
// exactly as the server would look it up: an unqualified entry any schema,
// SCHEMA.NAME that schema (or an unqualified call when SCHEMA is pg_catalog,
// which is searched first).
struct FunctionMatch {
  ListMatch list = ListMatch::none;
  std::string entry;
};
FunctionMatch function_list(const Policy& policy, const sql::FunctionRef& f);

// A `tables:` glob ("schema.table", * and ? within a name, ** across) on a
// relation. Schema and name are matched separately so a name containing a
// dot cannot slip past "public.*". schema "*" means any schema: it matches
// when some schema could satisfy the glob's schema part.
bool table_glob_matches(std::string_view pattern, std::string_view schema, std::string_view name);

// Every table of `schema` (DROP SCHEMA, GRANT ... ALL TABLES IN SCHEMA):
// `some`: the glob matches at least one possible table of it (deny/approve);
// `all`: every table of it (allow). schema "*" means every schema
// (database_to_xml reads every table of the database).
bool table_glob_matches_schema(std::string_view pattern, std::string_view schema, bool all);

}  // namespace pgw::policy
