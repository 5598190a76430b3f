// pgw::sql::analyze(): the facts of every statement of one SQL string, from
// PostgreSQL's own parser (libpg_query, PostgreSQL 15), on a ParsedSql
// (parsed_sql.h: one parse the lineage tracer reads too) or on the text.
//
//   auto analysis = pgw::sql::analyze("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d");
//   if (!analysis.ok()) deny(analysis.error);
//   for (const auto& st : analysis.statements)
//     if (st.has(StatementClass::delete_)) ...
//
// Thread-safe (libpg_query keeps its parser state per thread) and free of
// exceptions. Hostile input (huge or deeply nested expressions) ends in an
// error, never a crash: the parser's own stack is on the heap and bounded,
// and the tree walk keeps an explicit stack. Tests run it on a 256 KiB
// thread stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sql/parsed_sql.h"
#include "sql/statement_facts.h"

namespace pgw::sql {

struct AnalyzeOptions {
  // analyze(text) only (a ParsedSql has its own ParseOptions): longer input
  // is refused before parsing.
  std::size_t max_input_bytes = 1u << 20;
  // Parse tree nodes visited per input (a 1 MiB "1+1+...+1" is ~1M nodes).
  std::size_t max_nodes = 4'000'000;
  // analyze(text) only: the session's standard_conforming_strings (see
  // ParseOptions).
  bool standard_conforming_strings = true;
  // Compile DO bodies (PL/pgSQL) and take the classes of the SQL inside.
  // When off, or when a body cannot be analyzed, DO is procedural + unknown.
  bool analyze_do_bodies = true;
  // DO within EXECUTE 'DO ...' within DO ..., and SQL in a string within SQL
  // in a string (query_to_xml('SELECT query_to_xml(...)')): deeper is unknown.
  int max_do_depth = 4;
};

struct Analysis {
  std::vector<StatementFacts> statements;  // empty on error
  AnalyzeError error = AnalyzeError::none;
  std::string error_message;
  int error_position = 0;  // 1-based character position in the input (parser errors), else 0

  bool ok() const { return error == AnalyzeError::none; }
  ClassSet classes() const;  // union over all statements
};

// The facts of a parse (parsed_sql.h): the one to use when the lineage
// tracer reads the same statement. options.max_input_bytes and
// options.standard_conforming_strings are the parse's business and are not
// read here. Cost on a parse: the walk alone (for a pgbench statement, about
// half of what analyze(text) costs).
Analysis analyze(const ParsedSql& parsed, const AnalyzeOptions& options = {}) noexcept;

// Parses `sql` (ParsedSql::parse with options' max_input_bytes and
// standard_conforming_strings) and analyzes it.
Analysis analyze(std::string_view sql, const AnalyzeOptions& options = {}) noexcept;

// Parses a few known statements and checks the facts: a guard that the
// PostgreSQL headers pgw_sql was built with match the parser in libpg_query.
// Call once at startup.
Status self_check();

}  // namespace pgw::sql
