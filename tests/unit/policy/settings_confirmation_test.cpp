// Which statements make the engine ask the server what the settings are,
// under which policies, and what the answer does to the session state.
#include "policy/settings_confirmation.h"

#include <gtest/gtest.h>

#include "policy/decision.h"
#include "policy_fixture.h"
#include "sample_catalog.h"
#include "sql/analyze.h"

namespace pgw::policy {
namespace {

using testing::fresh_state;
using testing::load_policy_config;

sql::StatementFacts facts_of(std::string_view sql) {
  auto a = sql::analyze(sql);
  EXPECT_TRUE(a.ok()) << sql;
  EXPECT_EQ(a.statements.size(), 1u) << sql;
  return a.statements.at(0);
}

TEST(SettingsConfirmation, WhatMayChangeSettingsUnseen) {
  auto catalog = testing::masking_catalog();
  // A computed name, a function of the client's own, any function without a catalog.
  for (const char* sql : {"SELECT set_config(n, 'x', false) FROM (VALUES ('role')) v(n)",
                          "SELECT public.plpgsql_fn()", "SELECT plpgsql_fn()", "SELECT get_ssn(1)",
                          "SELECT not_in_the_catalog()", "CALL some_procedure()"}) {
    EXPECT_TRUE(may_change_settings_unseen(facts_of(sql), catalog.get())) << sql;
  }
  for (const char* sql : {"SELECT 1", "SELECT now(), lower('A')", "SELECT pg_catalog.upper('a')",
                          "SELECT set_config('search_path', '', false)", "SET ROLE x",
                          "SELECT count(*) FROM customers"}) {
    EXPECT_FALSE(may_change_settings_unseen(facts_of(sql), catalog.get())) << sql;
  }
  EXPECT_TRUE(may_change_settings_unseen(facts_of("SELECT now()"), nullptr));
}

// x.f may be the call f(x): asked about only when a user function has the name.
TEST(SettingsConfirmation, AttributeNotationAsksOnlyForAUserFunctionsName) {
  auto catalog = testing::masking_catalog();
  for (const char* sql : {"SELECT (1).plpgsql_fn", "SELECT c.get_ssn FROM customers c"}) {
    EXPECT_TRUE(may_change_settings_unseen(facts_of(sql), catalog.get())) << sql;
  }
  for (const char* sql : {"SELECT c.name, (c).id FROM customers c", "SELECT c.row_to_json FROM customers c",
                          "SELECT (c).no_such_name FROM customers c"}) {
    EXPECT_FALSE(may_change_settings_unseen(facts_of(sql), catalog.get())) << sql;
  }
  EXPECT_TRUE(may_change_settings_unseen(facts_of("SELECT c.name FROM customers c"), nullptr));
}

TEST(SettingsConfirmation, OnlyWherePolicyDecisionsCanDependOnIt) {
  auto readonly = load_policy_config("    allow: [select, set]\n    deny: [role]\n");
  auto permissive = load_policy_config("    allow: [select, set, role]\n");
  auto with_tables = load_policy_config("    allow: [select, set, role]\n    tables: { deny: [\"hr.*\"] }\n");
  ASSERT_TRUE(readonly && permissive && with_tables);
  EXPECT_TRUE(policy_needs_settings_confirmation(readonly->policies.front()));
  EXPECT_FALSE(policy_needs_settings_confirmation(permissive->policies.front()));
  EXPECT_TRUE(policy_needs_settings_confirmation(with_tables->policies.front()));
}

TEST(SettingsConfirmation, DecisionsAskAfterTheLastStatementOnly) {
  auto config = load_policy_config("    allow: [select, set, transaction]\n    deny: [role]\n");
  ASSERT_TRUE(config);
  const Policy& p = config->policies.front();
  auto catalog = testing::masking_catalog();
  auto state = fresh_state();

  // pg_dump's: a set_config of a name read from pg_settings is a SET, asked about.
  Decision d = decide_sql(p, "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings "
                             "WHERE name = 'restrict_nonsystem_relation_kind'", state, catalog.get());
  EXPECT_EQ(d.action, Action::allow) << d.message << d.detail;
  EXPECT_TRUE(d.confirm_settings);

  d = decide_sql(p, "SELECT pg_catalog.set_config('search_path', '', false)", state, catalog.get());
  EXPECT_EQ(d.action, Action::allow) << d.message << d.detail;
  EXPECT_FALSE(d.confirm_settings);

  d = decide_sql(p, "SELECT plpgsql_fn(); SELECT 1", state, catalog.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "settings unseen");
  EXPECT_NE(d.detail.find("last statement"), std::string::npos) << d.detail;

  d = decide_sql(p, "SELECT 1; SELECT plpgsql_fn()", state, catalog.get());
  EXPECT_EQ(d.action, Action::allow) << d.message << d.detail;
  EXPECT_TRUE(d.confirm_settings);

  // A literal role is judged as SET ROLE is.
  d = decide_sql(p, "SELECT set_config('role', 'postgres', false)", state, catalog.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "deny: role");
}

TEST(SettingsConfirmation, ARoleChangeIsForbiddenWhereRoleIsNotAllowed) {
  auto readonly = load_policy_config("    allow: [select, set]\n    deny: [role]\n");
  auto permissive = load_policy_config("    allow: [select, set, role]\n");
  ASSERT_TRUE(readonly && permissive);
  const ServerSettings same{"none", "app_owner", "public"};
  const ServerSettings role{"postgres", "app_owner", "public"};
  const ServerSettings auth{"none", "postgres", "public"};
  EXPECT_EQ(forbidden_change(readonly->policies.front(), same, "app_owner"), std::nullopt);
  EXPECT_NE(forbidden_change(readonly->policies.front(), role, "app_owner"), std::nullopt);
  EXPECT_NE(forbidden_change(readonly->policies.front(), auth, "app_owner"), std::nullopt);
  EXPECT_EQ(forbidden_change(permissive->policies.front(), role, "app_owner"), std::nullopt);
}

// The answer replaces the unknown a computed set_config left, for certain
// once the statement's transaction has ended.
TEST(SettingsConfirmation, TheAnswerSettlesTheTrackedState) {
  StandaloneProtocol protocol;
  auto state = fresh_state("\"$user\", public", protocol);
  sql::StatementFacts computed = facts_of("SELECT set_config(n, 'hr', false) FROM (VALUES ('search_path')) v(n)");
  const std::uint64_t cycle = protocol.cycles_sent();
  state.apply(computed);
  EXPECT_EQ(state.search_paths(), (std::vector<std::vector<std::string>>{{"*"}}));
  state.confirm({"none", "app_owner", "hr"}, cycle, true);
  EXPECT_EQ(state.search_paths(), (std::vector<std::vector<std::string>>{{"hr"}}));
}

// Inside a transaction block the value may have been set only for the
// transaction (SET LOCAL in a function): after the commit either may hold.
TEST(SettingsConfirmation, InATransactionEitherValueMayHoldAfterIt) {
  StandaloneProtocol protocol;
  auto state = fresh_state("public", protocol);
  protocol.sent = 1;  // a statement of the block is in flight
  protocol.clean = true;
  ++protocol.moves;
  state.confirm({"none", "app_owner", "hr"}, 0, false);
  protocol.answered = 1;
  ++protocol.moves;
  state.on_ready_for_query('I');
  auto paths = state.search_paths();
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::vector<std::string>>{{"hr"}, {"public"}}));
}

}  // namespace
}  // namespace pgw::policy
