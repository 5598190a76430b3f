// The policy corpus (corpus/readonly_agent.tsv) against decide_sql(): each
// statement string under policies/readonly-agent.yaml, in a fresh session,
// with a catalog mirroring the integration harness's schema. The engine runs
// the same file against the real database.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "policy/config.h"
#include "corpus_lines.h"
#include "policy/decision.h"
#include "policy_fixture.h"
#include "sample_catalog.h"

namespace pgw::policy {
namespace {

using testing::read_corpus;

TEST(PolicyCorpus, ReadonlyAgent) {
  auto config = load_config_file(PGW_READONLY_AGENT_CONFIG);
  ASSERT_TRUE(config.ok()) << config.error();
  const Policy* policy = config->policy_for("readonly-agent", "app");
  ASSERT_NE(policy, nullptr);
  const auto catalog = testing::sample_catalog();

  const auto lines = read_corpus(PGW_POLICY_CORPUS_DIR "/readonly_agent.tsv");
  ASSERT_GE(lines.size(), 150u);
  std::size_t allowed = 0, denied = 0;
  for (const auto& c : lines) {
    SCOPED_TRACE("readonly_agent.tsv:" + std::to_string(c.line) + ": " + c.sql);
    const auto state = testing::fresh_state(catalog->default_search_path());
    const Decision d = decide_sql(*policy, c.sql, state, catalog.get());
    EXPECT_EQ(std::string(to_string(d.action)), c.action) << "rule: " << d.rule << "\nmessage: " << d.message;
    if (d.action == Action::allow) {
      ++allowed;
      EXPECT_TRUE(d.sqlstate.empty());
      continue;
    }
    ++denied;
    EXPECT_NE(d.message.find(c.expect), std::string::npos) << "message: " << d.message << "\nrule: " << d.rule;
    if (d.sqlstate == "42601") {
      EXPECT_GT(d.position, 0);
    } else {
      EXPECT_EQ(d.sqlstate, "42501");
      EXPECT_TRUE(d.message.starts_with("pgwarden: ")) << d.message;
      EXPECT_TRUE(d.message.ends_with(" for readonly-agent")) << d.message;
    }
  }
  // Both kinds in earnest: a corpus that only denies proves little.
  EXPECT_GE(allowed, 40u);
  EXPECT_GE(denied, 150u);
}

}  // namespace
}  // namespace pgw::policy
