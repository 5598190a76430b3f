// Target `sql`: the SQL classifier and the lineage tracer on any text.
// Byte 0 picks standard_conforming_strings and whether DO bodies are
// compiled; the rest is the statement string. Checks, beyond "no crash":
//   - analyze(text) and analyze(parse(text)) agree (one parse, two paths);
//   - a parse that succeeds gives one fact set per statement, and the
//     lineage tracer one entry per statement (or refuses the whole text).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sql/analyze.h"
#include "sql/lineage.h"
#include "sql/parsed_sql.h"

using namespace pgw;

namespace {

// A policy with one masked table and column, and one function known to
// return masked values: enough for the tracer to take every branch.
class Oracle final : public sql::TaintOracle {
 public:
  bool relation_is_masked(std::string_view, std::string_view name) const override {
    return name == "customers" || name == "payroll";
  }
  bool column_is_masked(std::string_view column) const override { return column == "ssn" || column == "email"; }
  sql::Taint function_taint(std::string_view schema, std::string_view name) const override {
    if (name == "reveal") return sql::Taint::tainted;
    if (schema == "pg_catalog" || name == "lower" || name == "count") return sql::Taint::clean;
    return sql::Taint::untraceable;
  }
  sql::Taint field_call_taint(std::string_view name) const override {
    return name == "reveal" ? sql::Taint::tainted : sql::Taint::clean;
  }
  bool takes_a_row(std::string_view name) const override { return name == "row_to_json" || name == "to_jsonb"; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Oracle oracle;
  // A text with a masked column traces; if the tracer refused it (its stack
  // budget misread under ASan's fake stacks did once), every input would
  // skip the lineage checks below.
  static const bool traces = [] {
    auto known = sql::trace_lineage(sql::ParsedSql::parse("SELECT ssn FROM customers", {}), oracle);
    fuzz::require(known.ok() && known.value().size() == 1, "SELECT ssn FROM customers traces");
    return true;
  }();
  (void)traces;
  fuzz::FuzzInput input(data, size);
  const uint8_t mode = input.byte();
  const std::string_view text = input.rest();
  sql::ParseOptions parse_options;
  parse_options.standard_conforming_strings = (mode & 1) == 0;
  sql::AnalyzeOptions options;
  options.standard_conforming_strings = parse_options.standard_conforming_strings;
  options.analyze_do_bodies = (mode & 2) == 0;
  // Bounded so one input stays fast; the limits themselves are unit-tested.
  options.max_nodes = 200'000;

  const sql::ParsedSql parsed = sql::ParsedSql::parse(text, parse_options);
  const sql::Analysis from_parse = sql::analyze(parsed, options);
  const sql::Analysis from_text = sql::analyze(text, options);
  fuzz::check(from_parse.error == from_text.error);
  fuzz::check(from_parse.statements.size() == from_text.statements.size());
  fuzz::check(from_parse.classes() == from_text.classes());
  if (!parsed.ok()) {
    fuzz::check(!from_parse.ok());
    return 0;
  }
  auto lineage = sql::trace_lineage(parsed, oracle);
  if (lineage.ok() && from_parse.ok()) fuzz::check(lineage.value().size() == from_parse.statements.size());
  return 0;
}
