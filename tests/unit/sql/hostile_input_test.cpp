// Hostile input ends in a clean result or a clean error, never a crash:
// analyze() and the lineage tracer alike.
//
// Every case runs on a thread with a deliberately small stack (256 KiB, an
// eighth of PostgreSQL's own max_stack_depth default), which proves that
// neither the parser nor the walkers recurse with the depth of the input.
#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <functional>
#include <string>

#include "sql/analyze.h"
#include "sql/lineage.h"

namespace pgw::sql {
namespace {

constexpr std::size_t kSmallStack = 256 * 1024;

// Runs fn on a fresh thread with a small stack and waits for it.
void on_small_stack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, kSmallStack), 0);
  pthread_t thread;
  auto trampoline = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, const_cast<std::function<void()>*>(&fn)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

Analysis analyze_small_stack(const std::string& sql, const AnalyzeOptions& options = {}) {
  Analysis result;
  on_small_stack([&] { result = analyze(sql, options); });
  return result;
}

std::string repeat(std::string_view unit, int n) {
  std::string out;
  out.reserve(unit.size() * static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out += unit;
  return out;
}

TEST(HostileInput, HundredThousandTermSumIsAnalyzed) {
  auto a = analyze_small_stack("SELECT 1" + repeat("+1", 100'000) + " FROM t");
  ASSERT_TRUE(a.ok()) << a.error_message;
  ASSERT_EQ(a.statements.size(), 1u);
  EXPECT_EQ(a.statements[0].classes, ClassSet{StatementClass::select});
  ASSERT_EQ(a.statements[0].relations.size(), 1u);
}

TEST(HostileInput, DeepSumHidingAFunctionStillFindsIt) {
  auto a = analyze_small_stack("SELECT " + repeat("1+", 50'000) + "pg_read_file('/etc/passwd')");
  ASSERT_TRUE(a.ok()) << a.error_message;
  EXPECT_NE(a.statements[0].find_function("pg_read_file"), nullptr);
}

TEST(HostileInput, TenThousandNestedParenthesesIsASyntaxError) {
  auto a = analyze_small_stack("SELECT " + repeat("(", 10'000) + "1" + repeat(")", 10'000));
  EXPECT_EQ(a.error, AnalyzeError::syntax);
  EXPECT_NE(a.error_message.find("memory exhausted"), std::string::npos) << a.error_message;
  EXPECT_TRUE(a.statements.empty());
}

TEST(HostileInput, ThreeThousandNestedParenthesesIsAnalyzed) {
  auto a = analyze_small_stack("SELECT " + repeat("(", 3'000) + "1" + repeat(")", 3'000));
  ASSERT_TRUE(a.ok()) << a.error_message;
}

TEST(HostileInput, TenThousandNestedSubqueriesIsASyntaxError) {
  auto a = analyze_small_stack(repeat("SELECT * FROM (", 10'000) + "SELECT 1" +
                               repeat(") x", 10'000));
  EXPECT_EQ(a.error, AnalyzeError::syntax);
}

TEST(HostileInput, AThousandNestedSubqueriesIsAnalyzed) {
  auto a = analyze_small_stack(repeat("SELECT * FROM (", 1'000) + "SELECT * FROM deep" +
                               repeat(") x", 1'000));
  ASSERT_TRUE(a.ok()) << a.error_message;
  ASSERT_EQ(a.statements[0].relations.size(), 1u);
  EXPECT_EQ(a.statements[0].relations[0].name, "deep");
}

TEST(HostileInput, NestedScalarSubqueriesEndCleanly) {
  auto a = analyze_small_stack("SELECT " + repeat("(SELECT ", 10'000) + "1" + repeat(")", 10'000));
  EXPECT_EQ(a.error, AnalyzeError::syntax);
}

TEST(HostileInput, RightRecursiveOperatorsEndCleanly) {
  EXPECT_EQ(analyze_small_stack("SELECT " + repeat("NOT ", 100'000) + "true").error,
            AnalyzeError::syntax);
  EXPECT_EQ(analyze_small_stack("SELECT " + repeat("- ", 100'000) + "1").error,
            AnalyzeError::syntax);
  EXPECT_EQ(analyze_small_stack("SELECT " + repeat("f(", 20'000) + "1" + repeat(")", 20'000)).error,
            AnalyzeError::syntax);
  EXPECT_EQ(analyze_small_stack("SELECT ARRAY" + repeat("[", 20'000) + "1" + repeat("]", 20'000))
                .error,
            AnalyzeError::syntax);
}

TEST(HostileInput, LongFlatListsAreAnalyzed) {
  auto in_list = analyze_small_stack("SELECT * FROM t WHERE a IN (1" + repeat(",1", 100'000) + ")");
  EXPECT_TRUE(in_list.ok()) << in_list.error_message;
  auto ands = analyze_small_stack("SELECT 1 WHERE true" + repeat(" AND true", 50'000));
  EXPECT_TRUE(ands.ok()) << ands.error_message;
  auto unions = analyze_small_stack("SELECT 1" + repeat(" UNION SELECT a FROM u", 10'000));
  ASSERT_TRUE(unions.ok()) << unions.error_message;
  EXPECT_EQ(unions.statements[0].relations.size(), 1u);
  auto casts = analyze_small_stack("SELECT 1" + repeat("::int", 50'000));
  EXPECT_TRUE(casts.ok()) << casts.error_message;
}

TEST(HostileInput, ManyStatementsAreAllReported) {
  auto a = analyze_small_stack(repeat("SELECT 1;", 20'000) + "DELETE FROM t");
  ASSERT_TRUE(a.ok()) << a.error_message;
  ASSERT_EQ(a.statements.size(), 20'001u);
  EXPECT_TRUE(a.statements.back().has(StatementClass::delete_));
}

TEST(HostileInput, LongCteChainResolvesNamesNearby) {
  std::string sql = "WITH c0 AS (SELECT 1)";
  for (int i = 1; i < 5'000; ++i)
    sql += ", c" + std::to_string(i) + " AS (SELECT * FROM c" + std::to_string(i - 1) + ")";
  sql += " SELECT * FROM c4999, c4800, salaries";
  auto a = analyze_small_stack(sql);
  ASSERT_TRUE(a.ok()) << a.error_message;
  ASSERT_EQ(a.statements[0].relations.size(), 1u);
  EXPECT_EQ(a.statements[0].relations[0].name, "salaries");
}

TEST(HostileInput, CteLookupIsBoundedAndErrsOnTheSafeSide) {
  // Thousands of CTEs that all read the first one: each lookup would walk
  // thousands of names. The search stops after 256 names, so a reference to
  // a CTE defined further away is reported as a relation (the safe side).
  std::string sql = "WITH c0 AS (SELECT 1)";
  int n = 1;
  while (sql.size() < (1u << 20) - 100) sql += ", c" + std::to_string(n++) + " AS (TABLE c0)";
  sql += " SELECT 1";
  auto start = std::chrono::steady_clock::now();
  auto a = analyze_small_stack(sql);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(a.ok()) << a.error_message;
  ASSERT_EQ(a.statements[0].relations.size(), 1u);
  EXPECT_EQ(a.statements[0].relations[0].name, "c0");
  EXPECT_LT(elapsed, std::chrono::seconds(5));  // about 0.3 s here; unbounded it took 8 s
}

TEST(HostileInput, InputOverTheLengthCapIsRefusedBeforeParsing) {
  AnalyzeOptions options;
  options.max_input_bytes = 1000;
  auto a = analyze("SELECT '" + std::string(2000, 'x') + "'", options);
  EXPECT_EQ(a.error, AnalyzeError::too_long);
  EXPECT_TRUE(analyze("SELECT '" + std::string(900, 'x') + "'", options).ok());
  // The default cap is 1 MiB.
  EXPECT_EQ(analyze("SELECT '" + std::string(1u << 20, 'x') + "'").error, AnalyzeError::too_long);
}

TEST(HostileInput, EmbeddedNulIsRefused) {
  // The parser would stop at the NUL and never see the DELETE.
  std::string sql("SELECT 1;\0DELETE FROM t", 23);
  EXPECT_EQ(analyze(sql).error, AnalyzeError::nul_byte);
}

TEST(HostileInput, NodeLimitEndsInTooComplex) {
  AnalyzeOptions options;
  options.max_nodes = 1000;
  auto a = analyze("SELECT 1" + repeat("+f(x)", 2'000), options);
  EXPECT_EQ(a.error, AnalyzeError::too_complex);
  EXPECT_TRUE(a.statements.empty());
  EXPECT_TRUE(analyze("SELECT 1" + repeat("+f(x)", 100), options).ok());
}

TEST(HostileInput, DeeplyNestedPlpgsqlBlocksEndCleanly) {
  std::string body = repeat("IF true THEN ", 20'000) + "DELETE FROM t;" + repeat(" END IF;", 20'000);
  auto a = analyze_small_stack("DO $$BEGIN " + body + " END$$");
  ASSERT_TRUE(a.ok()) << a.error_message;
  // Too deep for PL/pgSQL's own parser: the DO is unknown, hence denied.
  EXPECT_TRUE(a.statements[0].has(StatementClass::unknown));
  EXPECT_TRUE(a.statements[0].has_flag(kDoBodyUnknown));
}

TEST(HostileInput, ModeratelyNestedPlpgsqlBlocksAreAnalyzed) {
  std::string body = repeat("IF true THEN ", 500) + "DELETE FROM t;" + repeat(" END IF;", 500);
  auto a = analyze_small_stack("DO $$BEGIN " + body + " END$$");
  ASSERT_TRUE(a.ok()) << a.error_message;
  EXPECT_TRUE(a.statements[0].has(StatementClass::delete_));
  EXPECT_FALSE(a.statements[0].has(StatementClass::unknown));
}

TEST(HostileInput, LongPlpgsqlExpressionIsAnalyzed) {
  auto a = analyze_small_stack("DO $$DECLARE x int; BEGIN x := 1" + repeat("+1", 50'000) +
                               "; DELETE FROM t; END$$");
  ASSERT_TRUE(a.ok()) << a.error_message;
  EXPECT_TRUE(a.statements[0].has(StatementClass::delete_));
}

TEST(HostileInput, DoNestedBeyondTheDepthLimitIsUnknown) {
  // DO runs EXECUTE of a literal DO, which runs EXECUTE of a literal DO ...
  std::string sql = "DELETE FROM t";
  for (int level = 0; level < 6; ++level) {
    std::string tag = "$l" + std::to_string(level) + "$";
    sql = "DO " + tag + "BEGIN EXECUTE " + "$e" + std::to_string(level) + "$" + sql + "$e" +
          std::to_string(level) + "$; END" + tag;
  }
  auto a = analyze_small_stack(sql);
  ASSERT_TRUE(a.ok()) << a.error_message;
  EXPECT_TRUE(a.statements[0].has(StatementClass::unknown));
  EXPECT_TRUE(a.statements[0].has_flag(kDoBodyUnknown));

  AnalyzeOptions deeper;
  deeper.max_do_depth = 8;
  auto b = analyze_small_stack(sql, deeper);
  ASSERT_TRUE(b.ok()) << b.error_message;
  EXPECT_TRUE(b.statements[0].has(StatementClass::delete_));
  EXPECT_FALSE(b.statements[0].has(StatementClass::unknown));
}

// ---- the lineage tracer on the same kind of input ------------------------------

struct MaskedCustomers : TaintOracle {
  bool relation_is_masked(std::string_view, std::string_view name) const override { return name == "customers"; }
  bool column_is_masked(std::string_view c) const override { return c == "ssn"; }
  Taint function_taint(std::string_view, std::string_view) const override { return Taint::clean; }
  Taint field_call_taint(std::string_view) const override { return Taint::clean; }
  bool takes_a_row(std::string_view name) const override { return name == "row_to_json"; }
};

Result<std::vector<StatementLineage>> trace_small_stack(const std::string& sql) {
  Result<std::vector<StatementLineage>> result = Error{"not run"};
  on_small_stack([&] {
    MaskedCustomers oracle;
    result = trace_lineage(sql, oracle);
  });
  return result;
}

// 175 000 casts in one 875 KB Query crashed pgwarden (SIGSEGV): the
// tracer's column naming (PostgreSQL's FigureColname) recursed once per cast.
TEST(HostileInput, LineageOfAHundredSeventyFiveThousandCasts) {
  const std::string sql = "SELECT 1" + repeat("::int", 175'000);
  ASSERT_GT(sql.size(), 870'000u);
  auto r = trace_small_stack(sql);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ(r->at(0).outputs.size(), 1u);
  EXPECT_EQ(r->at(0).outputs[0].name, "int4");
  EXPECT_EQ(r->at(0).outputs[0].taint, Taint::clean);
  auto masked = trace_small_stack("SELECT ssn" + repeat("::text", 150'000) + " FROM customers");
  ASSERT_TRUE(masked.ok()) << masked.error();
  EXPECT_EQ(masked->at(0).outputs[0].name, "ssn");
  EXPECT_EQ(masked->at(0).outputs[0].taint, Taint::tainted);
  // The same through analyze().
  EXPECT_TRUE(analyze_small_stack(sql).ok());
}

TEST(HostileInput, LineageOfLongNamingChains) {
  for (const std::string& sql : {
           "SELECT ssn" + repeat(" COLLATE \"C\"", 60'000) + " FROM customers",
           "SELECT " + repeat("(", 2'000) + "c" + repeat(").ssn", 1) + repeat(")", 1'999) + " FROM customers c",
           "SELECT " + repeat("CASE WHEN true THEN 1 ELSE ", 2'000) + "ssn" + repeat(" END", 2'000) + " FROM customers",
           "SELECT " + repeat("(SELECT ", 2'500) + "ssn" + repeat(")", 2'500) + " FROM customers",
           "SELECT " + repeat("(SELECT ", 2'500) + "ssn" + repeat("::text)::text", 2'500) + " FROM customers",
       }) {
    auto r = trace_small_stack(sql);
    if (r.ok()) {
      ASSERT_EQ(r->size(), 1u) << sql.substr(0, 60);
      EXPECT_EQ(r->at(0).outputs.back().taint, Taint::tainted) << sql.substr(0, 60);
    } else {
      // The parser's own limit (bison's stack): an error, never a crash.
      EXPECT_FALSE(r.error().empty());
    }
  }
}

TEST(HostileInput, SqlInStringsNestedDeepEndCleanly) {
  // Dollar quotes make each level of query_to_xml('...') cost a few bytes.
  std::string sql = "SELECT ssn FROM customers";
  for (int i = 0; i < 5'000; ++i) {
    const std::string tag = "$t" + std::to_string(i) + "$";
    sql = "SELECT query_to_xml(" + tag + sql + tag + ",true,false,'')";
  }
  ASSERT_LT(sql.size(), 1u << 20);
  auto r = trace_small_stack(sql);
  EXPECT_FALSE(r.ok());  // too deep to trace: refused
  auto a = analyze_small_stack(sql);
  ASSERT_TRUE(a.ok()) << a.error_message;
  EXPECT_TRUE(a.statements[0].has(StatementClass::unknown));  // nested past max_do_depth
}

TEST(HostileInput, GarbageEndsInASyntaxErrorWithAPosition) {
  auto a = analyze("SELECT * FROM t WHERE");
  EXPECT_EQ(a.error, AnalyzeError::syntax);
  EXPECT_EQ(a.error_message, "syntax error at end of input");
  EXPECT_EQ(a.error_position, 22);
  auto b = analyze("SELECT 'unterminated");
  EXPECT_EQ(b.error, AnalyzeError::syntax);
  EXPECT_NE(b.error_message.find("unterminated"), std::string::npos) << b.error_message;
}

TEST(HostileInput, InvalidUtf8IsRefused) {
  EXPECT_EQ(analyze("SELECT '\xff'").error, AnalyzeError::invalid_utf8);
  EXPECT_EQ(analyze("SELECT '\xc0\xa7'").error, AnalyzeError::invalid_utf8);  // overlong quote
  EXPECT_EQ(analyze("SELECT '\xed\xa0\x80'").error, AnalyzeError::invalid_utf8);  // surrogate
  EXPECT_EQ(analyze("SELECT '\xe2\x82'").error, AnalyzeError::invalid_utf8);  // truncated
  EXPECT_TRUE(analyze("SELECT 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98'").ok());
  auto a = analyze("SELECT * FROM \"caf\xc3\xa9\"");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.statements[0].relations[0].name, "caf\xc3\xa9");
}

TEST(HostileInput, AnErrorDoesNotPoisonTheNextCall) {
  on_small_stack([] {
    for (int i = 0; i < 100; ++i) {
      EXPECT_FALSE(analyze("SELEC 1").ok());
      EXPECT_FALSE(analyze("DO $$BEGIN DELETE FROM ; END$$").statements.empty());
      auto ok = analyze("SELECT * FROM t");
      ASSERT_TRUE(ok.ok());
      EXPECT_EQ(ok.statements[0].relations.size(), 1u);
    }
  });
}

}  // namespace
}  // namespace pgw::sql
