// analyze() on a cache miss: parse + walk + facts, per statement; the parse
// alone; and the facts plus masking's lineage of a statement, parsed once
// (ParsedSql) or once per reader.
//   build/tests/unit/sql/pgw_sql_bench
#include <benchmark/benchmark.h>

#include "sql/analyze.h"
#include "sql/lineage.h"
#include "sql/parsed_sql.h"

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

// The parse alone (what the facts and the lineage of a statement share).
void parse_sql(benchmark::State& state, const char* sql) {
  for (auto _ : state) {
    auto parsed = pgw::sql::ParsedSql::parse(sql);
    benchmark::DoNotOptimize(parsed);
  }
}

BENCHMARK_CAPTURE(parse_sql, pgbench_select, kPgbenchSelect);
BENCHMARK_CAPTURE(parse_sql, complex_select, kComplex);

// What masking's oracle answers for the sample schema (customers masked).
struct Oracle : pgw::sql::TaintOracle {
  bool relation_is_masked(std::string_view, std::string_view name) const override { return name == "customers"; }
  bool column_is_masked(std::string_view c) const override { return c == "email" || c == "ssn"; }
  pgw::sql::Taint function_taint(std::string_view, std::string_view) const override {
    return pgw::sql::Taint::clean;
  }
  pgw::sql::Taint field_call_taint(std::string_view) const override { return pgw::sql::Taint::clean; }
  bool takes_a_row(std::string_view name) const override { return name == "row_to_json"; }
};

// The policy's facts and masking's lineage of one statement, as the engine
// needs both on a cache miss: each parsing the text, or both reading one parse.
void facts_and_lineage_two_parses(benchmark::State& state, const char* sql) {
  Oracle oracle;
  for (auto _ : state) {
    auto analysis = pgw::sql::analyze(sql);
    auto lineage = pgw::sql::trace_lineage(sql, oracle);
    benchmark::DoNotOptimize(analysis);
    benchmark::DoNotOptimize(lineage);
  }
}

void facts_and_lineage_one_parse(benchmark::State& state, const char* sql) {
  Oracle oracle;
  for (auto _ : state) {
    auto parsed = pgw::sql::ParsedSql::parse(sql);
    auto analysis = pgw::sql::analyze(parsed);
    auto lineage = pgw::sql::trace_lineage(parsed, oracle);
    benchmark::DoNotOptimize(analysis);
    benchmark::DoNotOptimize(lineage);
  }
}

BENCHMARK_CAPTURE(facts_and_lineage_two_parses, pgbench_select, kPgbenchSelect);
BENCHMARK_CAPTURE(facts_and_lineage_one_parse, pgbench_select, kPgbenchSelect);
BENCHMARK_CAPTURE(facts_and_lineage_two_parses, complex_select, kComplex);
BENCHMARK_CAPTURE(facts_and_lineage_one_parse, complex_select, kComplex);

}  // namespace

BENCHMARK_MAIN();
