// The decision cache against fresh decisions (decision_differential.h) over
// the policy corpus plus statements that change what later text means
// (search_path, role, string mode, encoding, prepared statements, cursors),
// in three orders, under the corpus's policy and under one that allows the
// changes so they take effect. The fuzz target `decision_cache` runs the
// same check on generated statement lists.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "corpus_lines.h"
#include "decision_differential.h"
#include "policy_fixture.h"
#include "sample_catalog.h"

namespace pgw::policy {
namespace {

// Statements whose effect on the session changes how later ones decide.
const std::vector<std::string> kChanges = {
    "SET search_path = hr, public",
    "SET search_path TO DEFAULT",
    "SELECT set_config('search_path', 'hr', false)",
    "SELECT set_config('search_path', 'public', true)",
    "RESET ALL",
    "DISCARD ALL",
    "SET standard_conforming_strings = off",
    "SET standard_conforming_strings = on",
    "SELECT 'a\\'; DELETE FROM customers; --'",
    "SET ROLE app_reader",
    "RESET ROLE",
    "SET SESSION AUTHORIZATION DEFAULT",
    "SET client_encoding = 'SQL_ASCII'",
    "SET client_encoding = 'UTF8'",
    "SELECT 'caf\xc3\xa9'",
    "SELECT * FROM salaries",
    "SELECT * FROM payroll",
    "PREPARE p AS SELECT * FROM salaries",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "DEALLOCATE p",
    "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM salaries",
    "FETCH c",
    "CLOSE c",
    "BEGIN",
    "SET LOCAL search_path = hr",
    "COMMIT",
    "ROLLBACK",
};

std::vector<std::string> texts() {
  std::vector<std::string> out;
  for (const auto& line : testing::read_corpus(PGW_POLICY_CORPUS_DIR "/readonly_agent.tsv")) out.push_back(line.sql);
  // The changes between corpus lines, so that many lines are decided in
  // several states.
  std::vector<std::string> mixed;
  for (std::size_t i = 0; i < out.size(); ++i) {
    mixed.push_back(out[i]);
    mixed.push_back(kChanges[i % kChanges.size()]);
  }
  return mixed;
}

std::vector<std::string_view> views(const std::vector<std::string>& texts) {
  return {texts.begin(), texts.end()};
}

TEST(DecisionDifferential, CorpusUnderTheReadonlyAgentPolicy) {
  auto config = load_config_file(PGW_READONLY_AGENT_CONFIG);
  ASSERT_TRUE(config.ok()) << config.error();
  const Policy* policy = config->policy_for("readonly-agent", "app");
  ASSERT_NE(policy, nullptr);
  const auto catalog = testing::sample_catalog();
  const auto all = texts();
  ASSERT_GE(all.size(), 300u);
  testing::DecisionDifferential check(*policy, *catalog, "readonly-agent");
  EXPECT_EQ(check.run_orders(views(all)), "");
  // Hits in earnest: most texts come back in a state the cache has seen.
  EXPECT_GE(check.compared(), all.size());
}

TEST(DecisionDifferential, CorpusUnderAPolicyThatLetsTheChangesHappen) {
  auto config = testing::load_policy_config(
      "    allow: [select, set, role, transaction, prepare, execute, deallocate, copy_to, lock, listen]\n"
      "    tables: { deny: [\"hr.*\"] }\n");
  ASSERT_NE(config, nullptr);
  const auto catalog = testing::sample_catalog();
  const auto all = texts();
  testing::DecisionDifferential check(config->policies.at(0), *catalog, "agent");
  EXPECT_EQ(check.run_orders(views(all)), "");
  EXPECT_GE(check.compared(), all.size());
}

}  // namespace
}  // namespace pgw::policy
