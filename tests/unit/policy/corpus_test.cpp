// The policy corpus (corpus/readonly_agent.tsv) against decide_sql(): each
// statement string under policies/readonly-agent.yaml, in a fresh session,
// with a catalog mirroring the integration harness's schema. The engine runs
// the same file against the real database.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/decision.h"
#include "policy_fixture.h"
#include "sample_catalog.h"

namespace pgw::policy {
namespace {

struct CorpusLine {
  int line = 0;
  std::string sql;
  std::string action;
  std::string expect;  // substring of the client message; "-" for allow
};

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == 'n') { out += '\n'; ++i; continue; }
      if (n == 't') { out += '\t'; ++i; continue; }
      if (n == '\\') { out += '\\'; ++i; continue; }
    }
    out += s[i];
  }
  return out;
}

std::vector<CorpusLine> read_corpus(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<CorpusLine> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos || line.find('\t', t2 + 1) != std::string::npos) {
      ADD_FAILURE() << path << ":" << n << ": expected SQL<TAB>action<TAB>message";
      continue;
    }
    out.push_back({n, unescape(line.substr(0, t1)), line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)});
  }
  return out;
}

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
