// Statements that may change session settings in ways pgwarden cannot read
// from their text, and when that matters.
//
// `SET role = x` and set_config('role', 'x', false) say what they change;
// set_config(name, ...) with a computed name, or a call of a user function
// whose body runs SET ROLE or SET search_path, do not. Refusing every such
// statement would refuse pg_dump (it computes a setting name from
// pg_settings) and every application that calls its own functions. Instead
// the engine asks the server right after the statement what the session's
// role, session authorization and search_path are, holding the client's
// next messages until it knows (engine/relay/settings_probe.h), and ends the
// session when the role changed where the policy does not allow it.
//
// The question is worth its round trip only when the answer can change a
// decision: when the policy does not allow the `role` class, or when it has
// table or mask rules (which read the search_path). A policy that allows
// every class and has neither (PostgreSQL's regression suite runs under
// such a one) is never asked.
//
// Not covered: functions a statement runs without naming them (a view's or
// a trigger's, an operator's, a column default's).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/catalog.h"
#include "policy/config.h"
#include "policy/session_sql_state.h"
#include "sql/statement_facts.h"

namespace pgw::policy {

bool policy_needs_settings_confirmation(const Policy& policy);

// What in the statement may change settings its facts do not show, for a
// message ("set_config with a computed name", "function public.f"); nullopt
// when nothing may: a set_config() with a computed name, or a call of a
// function that is not one of the server's own (pg_catalog,
// information_schema). Without a catalog every function counts as the
// client's own.
std::optional<std::string> unseen_settings_changer(const sql::StatementFacts& facts, const Catalog* catalog);
inline bool may_change_settings_unseen(const sql::StatementFacts& facts, const Catalog* catalog) {
  return unseen_settings_changer(facts, catalog).has_value();
}

// A set_config() of a setting the engine's question reports (search_path,
// role, session_authorization) that its query may not call
// (Setting::may_not_run: `SELECT set_config(...) WHERE false`). Its text
// says what it would set, not whether it did: the engine asks after it
// where it can, and otherwise keeps the value only as possible.
bool may_set_reported_setting(const sql::StatementFacts& facts);

// The same for a FunctionCall message (by OID; nullptr: not in the catalog).
inline bool function_may_change_settings_unseen(const CatalogFunction* fn) {
  return fn == nullptr || !is_system_schema(fn->schema);
}

// nullopt when the server's answer is one the policy allows; else what
// changed, for the message that ends the session: under a policy that does
// not allow `role`, the session must still run as the login user.
std::optional<std::string> forbidden_change(const Policy& policy, const ServerSettings& server,
                                            std::string_view login_user);

}  // namespace pgw::policy
