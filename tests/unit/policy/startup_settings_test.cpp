// Startup settings are judged like SET by the identity's policy, and start
// the session's tracked state.
#include "policy/startup_settings.h"

#include <gtest/gtest.h>

#include "policy_fixture.h"

namespace pgw::policy {
namespace {

using testing::idle_protocol;
using testing::load_policy_config;

const Policy& only_policy(const std::shared_ptr<const Config>& c) { return c->policies.front(); }

TEST(StartupSettings, HarmlessSettingsPassWhereSetIsAllowed) {
  auto config = load_policy_config("    allow: [select, set]\n    deny: [role]\n");
  ASSERT_TRUE(config);
  const Policy& p = only_policy(config);
  for (const auto& [name, value] : StartupSettings{{"statement_timeout", "30000"},
                                                   {"lock_timeout", "1s"},
                                                   {"idle_in_transaction_session_timeout", "60000"},
                                                   {"search_path", "hr, public"},
                                                   {"client_encoding", "SJIS"},
                                                   {"Application_Name", "x"}}) {
    EXPECT_EQ(refuse_startup_setting(p, name, value), std::nullopt) << name;
  }
}

TEST(StartupSettings, RoleAndSessionAuthorizationAreTheRoleClass) {
  auto config = load_policy_config("    allow: [select, set]\n    deny: [role]\n");
  ASSERT_TRUE(config);
  for (const char* name : {"role", "ROLE", "session_authorization"}) {
    auto refusal = refuse_startup_setting(only_policy(config), name, "postgres");
    ASSERT_TRUE(refusal.has_value()) << name;
    EXPECT_EQ(refusal->rfind("pgwarden: startup setting \"", 0), 0u) << *refusal;
    EXPECT_NE(refusal->find(std::string(name) + "=postgres"), std::string::npos) << *refusal;
    EXPECT_NE(refusal->find("deny: role"), std::string::npos) << *refusal;
  }
  auto allowing = load_policy_config("    allow: [select, set, role]\n");
  ASSERT_TRUE(allowing);
  EXPECT_EQ(refuse_startup_setting(only_policy(allowing), "role", "postgres"), std::nullopt);
}

TEST(StartupSettings, APolicyWithoutSetRefusesAllButPresentation) {
  auto config = load_policy_config("    allow: [select]\n");
  ASSERT_TRUE(config);
  auto refusal = refuse_startup_setting(only_policy(config), "statement_timeout", "30000");
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("statement_timeout=30000"), std::string::npos) << *refusal;
  // What psql and pgJDBC send by themselves still connects.
  for (const auto& [name, value] : StartupSettings{{"application_name", "psql"},
                                                   {"DateStyle", "ISO"},
                                                   {"TimeZone", "UTC"},
                                                   {"extra_float_digits", "2"},
                                                   {"client_encoding", "UTF8"}}) {
    EXPECT_EQ(refuse_startup_setting(only_policy(config), name, value), std::nullopt) << name;
  }
}

// At connection time these load code into the backend, which no SET can.
TEST(StartupSettings, PreloadLibrariesAreAdmin) {
  auto config = load_policy_config("    allow: [select, set]\n");
  ASSERT_TRUE(config);
  for (const char* name : {"local_preload_libraries", "session_preload_libraries"}) {
    EXPECT_TRUE(refuse_startup_setting(only_policy(config), name, "x").has_value()) << name;
    EXPECT_TRUE(startup_setting_facts(name, "x").has(sql::StatementClass::admin)) << name;
  }
}

TEST(StartupSettings, TheyStartTheTrackedState) {
  SessionSqlState::Start start;
  start.login_user = "app_owner";
  apply_startup_settings(start, {{"search_path", "hr, public"},
                                 {"Client_Encoding", "LATIN1"},
                                 {"standard_conforming_strings", "off"},
                                 {"role", "reader"}});
  SessionSqlState state(start, idle_protocol());
  const auto paths = state.search_paths();
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0], (std::vector<std::string>{"hr", "public"}));
  EXPECT_FALSE(state.encoding_is_utf8());
  EXPECT_TRUE(state.may_be_escape_strings());
  EXPECT_FALSE(state.may_be_standard_strings());
  ASSERT_EQ(state.roles().size(), 1u);
  EXPECT_EQ(state.roles()[0].current, "reader");
  EXPECT_EQ(state.roles()[0].session_user, "app_owner");
}

}  // namespace
}  // namespace pgw::policy
