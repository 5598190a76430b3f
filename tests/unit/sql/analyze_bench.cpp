// analyze() on a cache miss: parse + walk + facts, per statement.
//   build-sql/tests/unit/sql/pgw_sql_bench
#include <benchmark/benchmark.h>

#include "sql/analyze.h"

namespace {

// What pgbench -S sends (simple protocol, after variable substitution).
constexpr const char* kPgbenchSelect = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;";

constexpr const char* kComplex =
    "WITH recent AS (SELECT o.customer_id, sum(o.total) AS spent FROM public.orders o "
    "WHERE o.created_at > now() - interval '30 days' GROUP BY o.customer_id), "
    "ranked AS (SELECT r.*, rank() OVER (ORDER BY r.spent DESC) AS pos FROM recent r) "
    "SELECT c.id, c.name, lower(c.email), k.spent, k.pos, "
    "(SELECT count(*) FROM public.tickets t WHERE t.customer_id = c.id AND t.status = 'open') "
    "FROM public.customers c JOIN ranked k ON k.customer_id = c.id "
    "LEFT JOIN LATERAL (SELECT a.city FROM public.addresses a WHERE a.customer_id = c.id "
    "ORDER BY a.updated_at DESC LIMIT 1) addr ON true "
    "WHERE k.pos <= 100 AND c.deleted_at IS NULL AND c.region = ANY (ARRAY['eu', 'us']) "
    "ORDER BY k.pos LIMIT 50";

constexpr const char* kDoBlock =
    "DO $$DECLARE n int; BEGIN SELECT count(*) INTO n FROM t WHERE a > 0; "
    "IF n > 10 THEN DELETE FROM t WHERE a < 0; END IF; END$$";

void analyze_sql(benchmark::State& state, const char* sql) {
  for (auto _ : state) {
    auto analysis = pgw::sql::analyze(sql);
    benchmark::DoNotOptimize(analysis);
    if (!analysis.ok()) state.SkipWithError(analysis.error_message.c_str());
  }
}

BENCHMARK_CAPTURE(analyze_sql, pgbench_select, kPgbenchSelect);
BENCHMARK_CAPTURE(analyze_sql, complex_select, kComplex);
BENCHMARK_CAPTURE(analyze_sql, do_block, kDoBlock);

}  // namespace

BENCHMARK_MAIN();
