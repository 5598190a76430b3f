// One parse, read by analyze() and trace_lineage(): the same answers as
// parsing for each, in the parse's string mode, from any thread, by several
// threads at once, and errors carried to both readers.
#include "sql/parsed_sql.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "sql/analyze.h"
#include "sql/lineage.h"

namespace pgw::sql {
namespace {

struct Oracle : TaintOracle {
  bool relation_is_masked(std::string_view, std::string_view name) const override { return name == "customers"; }
  bool column_is_masked(std::string_view c) const override { return c == "ssn" || c == "email"; }
  Taint function_taint(std::string_view, std::string_view) const override { return Taint::clean; }
  Taint field_call_taint(std::string_view) const override { return Taint::clean; }
  bool takes_a_row(std::string_view name) const override { return name == "row_to_json"; }
};

std::string facts_of(const Analysis& a) {
  if (!a.ok()) return "error " + std::string(to_string(a.error)) + ": " + a.error_message;
  std::string out;
  for (const auto& s : a.statements) out += to_string(s) + "\n";
  return out;
}

std::string lineage_of(const Result<std::vector<StatementLineage>>& r) {
  if (!r.ok()) return "error: " + r.error();
  std::string out;
  for (const auto& st : r.value()) {
    out += std::to_string(static_cast<int>(st.source)) + (st.writes_masked ? " writes " + st.write_target : "") +
           (st.filters_on_masked ? " filters" : "") + (st.touches_masked ? " touches" : "") + ":";
    for (const auto& o : st.outputs) out += " " + o.name + "=" + std::string(to_string(o.taint));
    out += "\n";
  }
  return out;
}

const std::vector<std::string>& samples() {
  static const std::vector<std::string> sql = {
      "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
      "SELECT id, upper(ssn), email || '' FROM customers c WHERE c.id < 10 ORDER BY ssn",
      "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d; SET search_path = hr; SELECT 1",
      "SELECT query_to_xml('SELECT pg_notify(''x'', ssn) FROM customers', true, false, '')",
      "DO $$BEGIN DELETE FROM t; END$$",
      "COPY (SELECT ssn FROM customers) TO STDOUT WITH (FORMAT csv, HEADER 'OFF')",
      "SELECT setval('s', 1), pg_advisory_lock(1)",
  };
  return sql;
}

TEST(ParsedSql, BothReadersAnswerAsIfEachHadParsed) {
  Oracle oracle;
  for (const auto& sql : samples()) {
    const ParsedSql parsed = ParsedSql::parse(sql);
    ASSERT_TRUE(parsed.ok()) << sql << ": " << parsed.error_message();
    EXPECT_EQ(parsed.text(), sql);
    EXPECT_EQ(facts_of(analyze(parsed)), facts_of(analyze(sql))) << sql;
    EXPECT_EQ(lineage_of(trace_lineage(parsed, oracle)), lineage_of(trace_lineage(sql, oracle))) << sql;
    // Reading does not change the parse: the second reads agree.
    EXPECT_EQ(facts_of(analyze(parsed)), facts_of(analyze(sql))) << sql;
    EXPECT_EQ(lineage_of(trace_lineage(parsed, oracle)), lineage_of(trace_lineage(sql, oracle))) << sql;
  }
}

TEST(ParsedSql, ErrorsReachBothReaders) {
  Oracle oracle;
  const ParsedSql syntax = ParsedSql::parse("SELECT * FROM t WHERE");
  EXPECT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error(), AnalyzeError::syntax);
  EXPECT_EQ(syntax.error_position(), 22);
  EXPECT_EQ(syntax.text(), "SELECT * FROM t WHERE");
  Analysis a = analyze(syntax);
  EXPECT_EQ(a.error, AnalyzeError::syntax);
  EXPECT_EQ(a.error_message, "syntax error at end of input");
  EXPECT_EQ(a.error_position, 22);
  auto r = trace_lineage(syntax, oracle);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "syntax error at end of input");

  EXPECT_EQ(ParsedSql::parse(std::string_view("SELECT 1\0", 9)).error(), AnalyzeError::nul_byte);
  EXPECT_EQ(ParsedSql::parse("SELECT '\xff'").error(), AnalyzeError::invalid_utf8);
  ParseOptions small;
  small.max_input_bytes = 8;
  EXPECT_EQ(ParsedSql::parse("SELECT 12345", small).error(), AnalyzeError::too_long);
  EXPECT_FALSE(trace_lineage(ParsedSql::parse("SELECT 12345", small), oracle).ok());

  const ParsedSql nothing;  // never parsed: no reader may take it for an empty statement
  EXPECT_FALSE(nothing.ok());
  EXPECT_EQ(analyze(nothing).error, AnalyzeError::internal);
  EXPECT_FALSE(trace_lineage(nothing, oracle).ok());
}

TEST(ParsedSql, ReadersUseTheParsesStringMode) {
  // With standard_conforming_strings off '\'' escapes a quote: one statement.
  const std::string sql = "SELECT 'a\\'; DELETE FROM t; --'";
  ParseOptions off;
  off.standard_conforming_strings = false;
  const ParsedSql on_parse = ParsedSql::parse(sql);
  const ParsedSql off_parse = ParsedSql::parse(sql, off);
  EXPECT_TRUE(on_parse.standard_conforming_strings());
  EXPECT_FALSE(off_parse.standard_conforming_strings());
  EXPECT_EQ(analyze(on_parse).statements.size(), 2u);
  EXPECT_EQ(analyze(off_parse).statements.size(), 1u);
  // SQL nested in a string is parsed when it is read, in the parse's mode,
  // whatever the reading thread parsed last.
  const std::string nested = "SELECT query_to_xml($q$SELECT 'a\\'; DELETE FROM t; --'$q$, true, false, '')";
  const ParsedSql nested_off = ParsedSql::parse(nested, off);
  const ParsedSql nested_on = ParsedSql::parse(nested);
  EXPECT_FALSE(analyze(nested_off).statements.at(0).has(StatementClass::delete_));
  EXPECT_TRUE(analyze(nested_on).statements.at(0).has(StatementClass::delete_));
  EXPECT_FALSE(analyze(nested_off).statements.at(0).has(StatementClass::delete_));
}

TEST(ParsedSql, MadeOnOneThreadReadOnOthersFreedOnAnother) {
  Oracle oracle;
  const std::string sql = samples()[3];
  const std::string want_facts = facts_of(analyze(sql));
  const std::string want_lineage = lineage_of(trace_lineage(sql, oracle));
  ParsedSql parsed;
  std::thread([&] { parsed = ParsedSql::parse(sql); }).join();
  ASSERT_TRUE(parsed.ok());
  // Several readers of one parse at once.
  std::atomic<int> mismatches{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) {
        if (i % 2 == 0 ? facts_of(analyze(parsed)) != want_facts
                       : lineage_of(trace_lineage(parsed, oracle)) != want_lineage)
          ++mismatches;
      }
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  std::thread([p = std::move(parsed)]() mutable { ParsedSql gone = std::move(p); }).join();
  EXPECT_FALSE(parsed.ok());  // moved from
}

TEST(ParsedSql, MovesHandTheParseOver) {
  ParsedSql a = ParsedSql::parse("SELECT 1");
  ParsedSql b = ParsedSql::parse("DELETE FROM t");
  ASSERT_TRUE(a.ok() && b.ok());
  b = std::move(a);  // b's old parse is freed
  EXPECT_FALSE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.text(), "SELECT 1");
  EXPECT_EQ(analyze(b).statements.at(0).classes, ClassSet{StatementClass::select});
  ParsedSql c(std::move(b));
  EXPECT_TRUE(c.ok());
  EXPECT_FALSE(b.ok());
}

}  // namespace
}  // namespace pgw::sql
