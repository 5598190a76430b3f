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

// Which settings pass is the policy's to say (policy/startup_settings.h):
// here every named setting is read and kept, in order, to be judged.
TEST(StartupParams, KeepsEverySettingForThePolicy) {
  auto r = vet_startup(startup({{"user", "a"},
                                {"role", "x"},
                                {"statement_timeout", "30000"},
                                {"client_encoding", "SJIS"},
                                {"options", "-c search_path=hr"}}));
  auto* ok = std::get_if<ClientStartup>(&r);
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->settings, (StartupSettings{{"role", "x"},
                                           {"statement_timeout", "30000"},
                                           {"client_encoding", "SJIS"},
                                           {"search_path", "hr"}}));
}

TEST(StartupParams, OptionsBecomeSettings) {
  auto ok = vet_startup(startup({{"user", "a"}, {"options", "-c application_name=x --extra-float-digits=3"}}));
  ASSERT_TRUE(std::holds_alternative<ClientStartup>(ok));
  const auto& s = std::get<ClientStartup>(ok).settings;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].first, "extra_float_digits");
  EXPECT_EQ(s[1].second, "3");

  // A switch pgwarden cannot name is refused, whatever the policy says.
  for (const char* opts : {"-Xfoo", "-c", "-D /tmp", "-c =x"}) {
    auto r = vet_startup(startup({{"user", "a"}, {"options", opts}}));
    auto* refusal = std::get_if<StartupRefusal>(&r);
    ASSERT_NE(refusal, nullptr) << opts;
    EXPECT_EQ(refusal->sqlstate, "42501");
    EXPECT_EQ(refusal->message.rfind("pgwarden:", 0), 0u);
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

// The options string is read as the server reads it (pg_split_opts, then
// its switches), so what pgwarden judges is what the server would set.
TEST(StartupParams, OptionsSplitLikeTheServer) {
  auto split = [](std::string_view options) {
    auto r = split_startup_options(options);
    EXPECT_TRUE(r.ok()) << options << ": " << (r.ok() ? "" : r.error());
    return r.ok() ? *r : StartupSettings{};
  };
  EXPECT_EQ(split("-c search_path=hr --statement-timeout=5s -crole=postgres"),
            (StartupSettings{{"search_path", "hr"}, {"statement_timeout", "5s"}, {"role", "postgres"}}));
  EXPECT_EQ(split("  -c application_name=a\\ b\t\n--DateStyle=ISO,\\\\MDY  "),
            (StartupSettings{{"application_name", "a b"}, {"DateStyle", "ISO,\\MDY"}}));
  // Every blank the server's isspace() knows separates, \v and \f too.
  EXPECT_EQ(split("-c\vapplication_name=x\f-cextra_float_digits=3"),
            (StartupSettings{{"application_name", "x"}, {"extra_float_digits", "3"}}));
  // A trailing backslash escapes nothing and is dropped, as the server drops it.
  EXPECT_EQ(split("-c application_name=x\\"), (StartupSettings{{"application_name", "x"}}));
  EXPECT_EQ(split(""), StartupSettings{});
  EXPECT_EQ(split(" \t "), StartupSettings{});
  for (const char* bad : {"-e", "-c", "--statement_timeout", "-c =x", "plain", "-ec application_name=x"}) {
    EXPECT_FALSE(split_startup_options(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace pgw::engine
