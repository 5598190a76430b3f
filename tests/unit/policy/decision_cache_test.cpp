// DecisionCache: exact-text keys with the full context, LRU bounds, and the
// effects a cached decision still has to apply to the session.
#include <gtest/gtest.h>

#include "policy/decision_cache.h"
#include "policy_fixture.h"

namespace pgw::policy {
namespace {

using testing::fresh_state;
using testing::load_policy_config;

class DecisionCacheTest : public ::testing::Test {
 protected:
  Decision decide(std::string_view sql, const SessionSqlState& state) {
    return decide_sql(config_->policies.at(0), sql, state, nullptr);
  }
  DecisionCache::Context context(const SessionSqlState& state, std::uint64_t policy_version = 1,
                                 std::uint64_t catalog_version = 7) {
    return DecisionCache::Context("agent", "app", policy_version, catalog_version, state.meaning_key());
  }

  std::shared_ptr<const Config> config_ =
      load_policy_config("    allow: [select, set, function:set_config]\n    tables: { deny: [\"hr.*\"] }\n");
  SessionSqlState state_ = fresh_state();
};

TEST_F(DecisionCacheTest, HitAfterInsert) {
  DecisionCache cache;
  const auto ctx = context(state_);
  EXPECT_EQ(cache.find(ctx, "SELECT 1"), nullptr);
  cache.insert(ctx, "SELECT 1", decide("SELECT 1", state_));
  const CachedDecision* hit = cache.find(ctx, "SELECT 1");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->action, Action::allow);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  // Byte for byte: whitespace and case are other texts.
  EXPECT_EQ(cache.find(ctx, "SELECT  1"), nullptr);
  EXPECT_EQ(cache.find(ctx, "select 1"), nullptr);
}

TEST_F(DecisionCacheTest, TextsWithOneFingerprintNeverShareAVerdict) {
  // libpg_query's fingerprint ignores constants: these two share one.
  const char* path = "SELECT set_config('search_path', 'hr', false)";
  const char* role = "SELECT set_config('role', 'postgres', false)";
  DecisionCache cache;
  const auto ctx = context(state_);
  cache.insert(ctx, path, decide(path, state_));
  cache.insert(ctx, role, decide(role, state_));
  ASSERT_NE(cache.find(ctx, path), nullptr);
  ASSERT_NE(cache.find(ctx, role), nullptr);
  EXPECT_EQ(cache.find(ctx, path)->action, Action::allow);
  EXPECT_EQ(cache.find(ctx, role)->action, Action::deny);
  EXPECT_EQ(cache.find(ctx, role)->message, "pgwarden: role on role \"postgres\" denied by policy for agent");
}

TEST_F(DecisionCacheTest, EveryContextPartSeparatesEntries) {
  DecisionCache cache;
  const char* sql = "SELECT * FROM salaries";
  cache.insert(context(state_), sql, decide(sql, state_));
  ASSERT_NE(cache.find(context(state_), sql), nullptr);
  EXPECT_EQ(cache.find(DecisionCache::Context("other", "app", 1, 7, state_.meaning_key()), sql), nullptr);
  EXPECT_EQ(cache.find(DecisionCache::Context("agent", "other", 1, 7, state_.meaning_key()), sql), nullptr);
  EXPECT_EQ(cache.find(context(state_, 2), sql), nullptr);
  EXPECT_EQ(cache.find(context(state_, 1, 8), sql), nullptr);
  // The same text after SET search_path = hr means hr.salaries.
  auto hr = fresh_state();
  hr.apply(sql::analyze("SET search_path = hr").statements.at(0));
  EXPECT_EQ(cache.find(context(hr), sql), nullptr);
  cache.insert(context(hr), sql, decide(sql, hr));
  EXPECT_EQ(cache.find(context(hr), sql)->action, Action::deny);
  EXPECT_EQ(cache.find(context(state_), sql)->action, Action::allow);
  // Parts cannot run into each other.
  EXPECT_EQ(cache.find(DecisionCache::Context("agen", "tapp", 1, 7, state_.meaning_key()), sql), nullptr);
}

TEST_F(DecisionCacheTest, LeastRecentlyUsedGoesFirst) {
  DecisionCache::Limits limits;
  limits.max_entries = 2;
  DecisionCache cache(limits);
  const auto ctx = context(state_);
  for (const char* sql : {"SELECT 1", "SELECT 2"}) cache.insert(ctx, sql, decide(sql, state_));
  ASSERT_NE(cache.find(ctx, "SELECT 1"), nullptr);  // now the most recent
  cache.insert(ctx, "SELECT 3", decide("SELECT 3", state_));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.find(ctx, "SELECT 1"), nullptr);
  EXPECT_EQ(cache.find(ctx, "SELECT 2"), nullptr);
  EXPECT_NE(cache.find(ctx, "SELECT 3"), nullptr);
}

TEST_F(DecisionCacheTest, BytesAndTextLengthAreBounded) {
  DecisionCache::Limits limits;
  limits.max_bytes = 4096;
  limits.max_text_bytes = 300;
  DecisionCache cache(limits);
  const auto ctx = context(state_);
  for (int i = 0; i < 200; ++i) {
    const std::string sql = "SELECT " + std::to_string(i) + " /*" + std::string(200, 'x') + "*/";
    cache.insert(ctx, sql, decide(sql, state_));
    EXPECT_LE(cache.bytes(), limits.max_bytes);
  }
  EXPECT_GT(cache.size(), 0u);
  EXPECT_LT(cache.size(), 200u);
  const std::string long_sql = "SELECT 1 /*" + std::string(400, 'y') + "*/";
  cache.insert(ctx, long_sql, decide(long_sql, state_));
  EXPECT_EQ(cache.find(ctx, long_sql), nullptr);
}

TEST_F(DecisionCacheTest, UncacheableDecisionsAreNotStored) {
  DecisionCache cache;
  const auto ctx = context(state_);
  config_ = load_policy_config("    allow: [select, prepare, execute]\n");
  const char* sql = "PREPARE p AS SELECT 1; EXECUTE p";
  const Decision d = decide(sql, state_);
  EXPECT_FALSE(d.cacheable);
  cache.insert(ctx, sql, d);
  EXPECT_EQ(cache.find(ctx, sql), nullptr);
}

TEST_F(DecisionCacheTest, CachedEffectsStillApply) {
  DecisionCache cache;
  const auto ctx = context(state_);
  const char* sql = "SET search_path = hr";
  cache.insert(ctx, sql, decide(sql, state_));
  const CachedDecision* hit = cache.find(ctx, sql);
  ASSERT_NE(hit, nullptr);
  EXPECT_TRUE(hit->changes_session);
  auto state = fresh_state();
  hit->apply_to(state);
  EXPECT_EQ(state.search_paths(), (std::vector<std::vector<std::string>>{{"hr"}}));
  cache.insert(ctx, "SELECT 1", decide("SELECT 1", state_));
  EXPECT_EQ(cache.find(ctx, "SELECT 1")->effects, nullptr);
}

}  // namespace
}  // namespace pgw::policy
