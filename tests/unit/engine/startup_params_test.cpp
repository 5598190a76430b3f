#include "engine/startup_params.h"

#include <gtest/gtest.h>

namespace pgw::engine {
namespace {

pgwire::StartupMessage startup(std::vector<std::pair<std::string, std::string>> params) {
  pgwire::StartupMessage m;
  m.parameters = std::move(params);
  return m;
}

TEST(StartupParams, PassesHarmlessSettingsInOrder) {
  auto r = vet_startup(startup({{"user", "alice"},
                                {"database", "shop"},
                                {"application_name", "psql"},
                                {"client_encoding", "UTF8"},
                                {"DateStyle", "ISO, MDY"}}));
  auto* ok = std::get_if<ClientStartup>(&r);
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->user, "alice");
  EXPECT_EQ(ok->database, "shop");
  ASSERT_EQ(ok->settings.size(), 3u);
  EXPECT_EQ(ok->settings[0].first, "application_name");
  EXPECT_EQ(ok->settings[2].second, "ISO, MDY");
}

TEST(StartupParams, DatabaseDefaultsToUser) {
  auto r = vet_startup(startup({{"user", "bob"}}));
  ASSERT_TRUE(std::holds_alternative<ClientStartup>(r));
  EXPECT_EQ(std::get<ClientStartup>(r).database, "bob");
}

TEST(StartupParams, RefusesRoleAndSearchPath) {
  for (const char* name : {"role", "search_path", "session_authorization", "standard_conforming_strings"}) {
    auto r = vet_startup(startup({{"user", "a"}, {name, "x"}}));
    auto* refusal = std::get_if<StartupRefusal>(&r);
    ASSERT_NE(refusal, nullptr) << name;
    EXPECT_EQ(refusal->sqlstate, "42501");
    EXPECT_NE(refusal->message.find(name), std::string::npos);
    EXPECT_EQ(refusal->message.rfind("pgwarden:", 0), 0u);
  }
}

TEST(StartupParams, RefusesMultibyteEncodingsThatCanHideQuotes) {
  for (const char* enc : {"SJIS", "GBK", "BIG5", "GB18030", "UHC"}) {
    auto r = vet_startup(startup({{"user", "a"}, {"client_encoding", enc}}));
    EXPECT_TRUE(std::holds_alternative<StartupRefusal>(r)) << enc;
  }
  for (const char* enc : {"UTF8", "utf-8", "unicode", "SQL_ASCII"}) {
    auto r = vet_startup(startup({{"user", "a"}, {"client_encoding", enc}}));
    EXPECT_TRUE(std::holds_alternative<ClientStartup>(r)) << enc;
  }
}

TEST(StartupParams, OptionsAreVettedSettingBySetting) {
  auto ok = vet_startup(startup({{"user", "a"}, {"options", "-c application_name=x --extra-float-digits=3"}}));
  ASSERT_TRUE(std::holds_alternative<ClientStartup>(ok));
  const auto& s = std::get<ClientStartup>(ok).settings;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].first, "extra_float_digits");
  EXPECT_EQ(s[1].second, "3");

  for (const char* opts : {"-c role=postgres", "-crole=postgres", "--search_path=hr", "-c application_name=a -c role=b",
                           "-c search\\ path=x", "-Xfoo", "-c"}) {
    auto r = vet_startup(startup({{"user", "a"}, {"options", opts}}));
    EXPECT_TRUE(std::holds_alternative<StartupRefusal>(r)) << opts;
  }
}

TEST(StartupParams, ReplicationIsRefusedAsUnsupported) {
  auto r = vet_startup(startup({{"user", "a"}, {"replication", "database"}}));
  auto* refusal = std::get_if<StartupRefusal>(&r);
  ASSERT_NE(refusal, nullptr);
  EXPECT_EQ(refusal->sqlstate, "0A000");
}

TEST(StartupParams, ProtocolOptionsPassThroughForNegotiation) {
  auto r = vet_startup(startup({{"user", "a"}, {"_pq_.something", "1"}}));
  ASSERT_TRUE(std::holds_alternative<ClientStartup>(r));
  EXPECT_EQ(std::get<ClientStartup>(r).protocol_options.size(), 1u);
}

}  // namespace
}  // namespace pgw::engine
