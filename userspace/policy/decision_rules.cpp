#include "policy/decision_rules.h"

#include <array>

#include "policy/glob.h"

namespace pgw::policy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// A string the pattern part matches (wildcards dropped, escapes resolved),
// standing for "some schema could be named so".
std::string example_of(std::string_view part) {
  std::string out;
  for (std::size_t i = 0; i < part.size(); ++i) {
    char c = part[i];
    if (c == '*') continue;
    if (c == '?') { out += 'x'; continue; }
    if (c == '\\' && i + 1 < part.size()) c = part[++i];
    out += c;
  }
  return out;
}

}  // namespace

StatementClass policy_class(sql::StatementClass c) {
  static const auto table = [] {
    std::array<StatementClass, sql::kStatementClassCount> t{};
    for (std::size_t i = 0; i < sql::kStatementClassCount; ++i) {
      auto name = sql::to_string(static_cast<sql::StatementClass>(i));
      t[i] = statement_class_from_string(name).value_or(StatementClass::unknown);
    }
    return t;
  }();
  auto i = static_cast<std::size_t>(c);
  return i < table.size() ? table[i] : StatementClass::unknown;
}
static_assert(sql::kStatementClassCount == kStatementClassCount);

ListMatch class_list(const Policy& policy, StatementClass c) {
  if (policy.deny.has(c)) return ListMatch::deny;
  if (policy.approve.has(c)) return ListMatch::approve;
  if (policy.allow.has(c)) return ListMatch::allow;
  return ListMatch::none;
}

FunctionMatch function_list(const Policy& policy, const sql::FunctionRef& f) {
  auto matches = [&](std::string_view entry, bool strict) {
    std::string_view schema, name = entry;
    if (auto dot = entry.find('.'); dot != std::string_view::npos) {
      schema = entry.substr(0, dot);
      name = entry.substr(dot + 1);
    }
    if (strict) {
      if (f.name != name) return false;
      return schema.empty() || f.schema == schema || (f.schema.empty() && schema == "pg_catalog");
    }
    if (!iequals(f.name, name)) return false;
    return schema.empty() || f.schema.empty() || iequals(f.schema, schema);
  };
  for (const auto& e : policy.deny.functions)
    if (matches(e, false)) return {ListMatch::deny, "function:" + e};
  for (const auto& e : policy.approve.functions)
    if (matches(e, false)) return {ListMatch::approve, "function:" + e};
  for (const auto& e : policy.allow.functions)
    if (matches(e, true)) return {ListMatch::allow, "function:" + e};
  return {};
}

bool table_glob_matches(std::string_view pattern, std::string_view schema, std::string_view name) {
  // A relation of unknown schema: some schema could be named as the glob's
  // schema part asks.
  const std::string any = schema == "*" ? example_of(split_dotted_glob(pattern).front()) : std::string();
  const std::string_view parts[] = {schema == "*" ? std::string_view(any) : schema, name};
  return dotted_glob_match(pattern, parts);
}

bool table_glob_matches_schema(std::string_view pattern, std::string_view schema, bool all) {
  const std::vector<std::string_view> parts = split_dotted_glob(pattern);
  if (parts.size() == 1) return pattern == "**";
  const bool schema_ok = parts[0] == "**" || glob_part_match(parts[0], schema);
  if (!schema_ok) return false;
  const std::string_view rest = pattern.substr(parts[0].size() + 1);
  return !all || rest == "*" || rest == "**";
}

}  // namespace pgw::policy
