// The policy's hot path: a cached decision (the engine's common case) and
// an uncached one (parse + decide) for pgbench -S's statement, under
// policies/readonly-agent.yaml with a catalog like the sample schema.
//
// BM_CachedLookup reports the median and p99 of single lookups measured
// one by one (counters p50_ns, p99_ns) besides Google Benchmark's mean.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/decision.h"
#include "policy/decision_cache.h"
#include "sample_catalog.h"

namespace {

using namespace pgw::policy;

const char* const kPgbenchSelect = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;";
const char* const kPgbenchPrepared = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";

struct Fixture {
  Fixture() {
    auto loaded = load_config_file(PGW_READONLY_AGENT_CONFIG);
    if (!loaded) throw std::runtime_error(loaded.error());
    config = std::move(loaded.value());
    policy = config.policy_for("readonly-agent", "app");
    SessionSqlState::Start start;
    start.login_user = "app_owner";
    state = std::make_unique<SessionSqlState>(start, protocol);
  }
  Config config;
  const Policy* policy = nullptr;
  std::shared_ptr<const Catalog> catalog = testing::sample_catalog();
  StandaloneProtocol protocol;
  std::unique_ptr<SessionSqlState> state;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// A cache as a loop thread would have it after a while: many statements
// (pgbench -S with distinct aids), the one looked up among them.
void BM_CachedLookup(benchmark::State& st) {
  auto& f = fixture();
  DecisionCache cache;
  const DecisionCache::Context ctx("readonly-agent", "app", 1, f.catalog->version(), f.state->meaning_key());
  std::vector<std::string> texts;
  for (int i = 0; i < 5000; ++i)
    texts.push_back("SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(i * 7919 % 100000) + ";");
  for (const auto& t : texts) cache.insert(ctx, t, decide_sql(*f.policy, t, *f.state, f.catalog.get()));

  std::vector<double> samples;
  samples.reserve(1 << 16);
  std::size_t i = 0;
  for (auto _ : st) {
    const std::string& text = texts[i++ % texts.size()];
    const auto t0 = std::chrono::steady_clock::now();
    const CachedDecision* hit = cache.find(ctx, text);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(hit);
    if (samples.size() < samples.capacity())
      samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    st.counters["p50_ns"] = samples[samples.size() / 2];
    st.counters["p99_ns"] = samples[samples.size() * 99 / 100];
  }
  st.counters["hit_rate"] = static_cast<double>(cache.hits()) / static_cast<double>(cache.hits() + cache.misses());
}
BENCHMARK(BM_CachedLookup);

// The context rebuilt for every statement (what an engine that does not
// keep it per session would pay) plus the lookup.
void BM_CachedLookupWithContext(benchmark::State& st) {
  auto& f = fixture();
  DecisionCache cache;
  const DecisionCache::Context ctx("readonly-agent", "app", 1, f.catalog->version(), f.state->meaning_key());
  cache.insert(ctx, kPgbenchSelect, decide_sql(*f.policy, kPgbenchSelect, *f.state, f.catalog.get()));
  for (auto _ : st) {
    const DecisionCache::Context c("readonly-agent", "app", 1, f.catalog->version(), f.state->meaning_key());
    benchmark::DoNotOptimize(cache.find(c, kPgbenchSelect));
  }
}
BENCHMARK(BM_CachedLookupWithContext);

// A cache miss: libpg_query's parse, the facts, and the decision.
void BM_DecideUncached(benchmark::State& st, const char* sql) {
  auto& f = fixture();
  for (auto _ : st) {
    Decision d = decide_sql(*f.policy, sql, *f.state, f.catalog.get());
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK_CAPTURE(BM_DecideUncached, pgbench_simple, kPgbenchSelect);
BENCHMARK_CAPTURE(BM_DecideUncached, pgbench_prepared, kPgbenchPrepared);
BENCHMARK_CAPTURE(BM_DecideUncached, join_cte,
                  "WITH t AS (SELECT customer_id, sum(amount) s FROM orders GROUP BY 1) "
                  "SELECT c.name, t.s FROM customers c JOIN t ON t.customer_id = c.id WHERE c.id > 10 "
                  "ORDER BY t.s DESC LIMIT 10");

// decide_sql() on a parse made beforehand (the engine shares it with the
// lineage tracer): the walk and the decision, no parse.
void BM_DecideOnParsed(benchmark::State& st, const char* sql) {
  auto& f = fixture();
  const auto parsed = pgw::sql::ParsedSql::parse(sql, parse_options_for(*f.state));
  for (auto _ : st) {
    Decision d = decide_sql(*f.policy, parsed, *f.state, f.catalog.get());
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK_CAPTURE(BM_DecideOnParsed, pgbench_simple, kPgbenchSelect);

// decide() alone, on facts already parsed.
void BM_DecideOnly(benchmark::State& st) {
  auto& f = fixture();
  const auto analysis = pgw::sql::analyze(kPgbenchSelect);
  for (auto _ : st) {
    Decision d = decide(*f.policy, analysis, *f.state, f.catalog.get());
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecideOnly);

}  // namespace

BENCHMARK_MAIN();
