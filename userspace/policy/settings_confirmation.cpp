#include "policy/settings_confirmation.h"

#include "common/quote.h"
#include "policy/decision_rules.h"

namespace pgw::policy {

bool policy_needs_settings_confirmation(const Policy& policy) {
  if (class_list(policy, StatementClass::role) != ListMatch::allow) return true;
  const TableRules& t = policy.tables;
  return !t.allow.empty() || !t.deny.empty() || !t.approve.empty() || !policy.mask.empty();
}

std::optional<std::string> unseen_settings_changer(const sql::StatementFacts& facts, const Catalog* catalog) {
  if (facts.has_flag(sql::kUnknownSetting)) return "set_config with a computed name";
  for (const auto& fn : facts.functions) {
    if (is_system_schema(fn.schema)) continue;
    // x.f: a column, or a call f(x) of a function of that name. Only a user
    // function can change settings; with no user function named f it is a
    // column or a built-in.
    if (fn.maybe_field && catalog != nullptr && !catalog->user_function_named(fn.name)) continue;
    // Unqualified: a user function of the same name may be the one the
    // server picks (by search_path, or by argument types).
    if (!fn.schema.empty() || catalog == nullptr || !catalog->only_system_function_named(fn.name))
      return "function " + fn.qualified();
  }
  return std::nullopt;
}

bool may_set_reported_setting(const sql::StatementFacts& facts) {
  for (const auto& s : facts.settings)
    if (s.may_not_run && s.name_known && server_settings_include(s.name)) return true;
  return false;
}

std::optional<std::string> forbidden_change(const Policy& policy, const ServerSettings& server,
                                            std::string_view login_user) {
  if (class_list(policy, StatementClass::role) == ListMatch::allow) return std::nullopt;
  if (server.session_authorization != login_user)
    return "the session authorization became " + quote_for_message(server.session_authorization);
  if (!server.role.empty() && server.role != "none") return "the role became " + quote_for_message(server.role);
  return std::nullopt;
}

}  // namespace pgw::policy
