// One parse of a SQL string, shared by everything that reads it.
//
// The policy's facts (analyze()) and masking's lineage (trace_lineage())
// read the same statement; each used to parse it again. A ParsedSql is the
// parse they share:
//
//   auto parsed = sql::ParsedSql::parse(text, {.standard_conforming_strings = scs});
//   auto decision = policy::decide_sql(policy, parsed, state, catalog);  // reads it
//   auto lineage = sql::trace_lineage(parsed, model.oracle());           // reads it again, no parse
//
// Ownership: move-only; it owns libpg_query's memory context holding the
// raw parse tree (about the size of the text, times a small factor) and a
// copy of the text, and frees both when destroyed.
//
// Threads: the context has no parent, so it belongs to no thread of
// libpg_query (whose memory and error state are per thread): a ParsedSql may
// be made on one thread, read on another and destroyed on a third. Reading
// (analyze, trace_lineage) never writes to it: several threads may read one
// at once. Each reader allocates its work in a context of its own, freed
// when it returns.
//
// The input checks of analyze() apply here: longer than max_input_bytes, an
// embedded NUL, or not UTF-8 is an error before the parser runs; a syntax
// error carries the parser's message and position.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

struct pgw_parsed;  // raw/raw_facts.h

namespace pgw::sql {

enum class AnalyzeError {
  none,
  too_long,     // more than max_input_bytes
  nul_byte,     // an embedded NUL (the protocol cannot carry one; the parser would stop there)
  invalid_utf8, // not UTF-8: the parser reads UTF-8, as the server does for a UTF8 client
  syntax,       // the parser's message and position
  too_complex,  // more than max_nodes
  internal,
};
std::string_view to_string(AnalyzeError e);

struct ParseOptions {
  // Longer input is refused before parsing.
  std::size_t max_input_bytes = 1u << 20;
  // The session's standard_conforming_strings. With off, '\' escapes a quote
  // inside '...' and the parser must know it, or "SELECT 'a\'; DELETE ...--'"
  // reads as two statements when the server sees one (or the reverse).
  bool standard_conforming_strings = true;
};

class ParsedSql {
 public:
  // Never throws: an allocation failure is an `internal` error.
  static ParsedSql parse(std::string_view sql, const ParseOptions& options = {}) noexcept;

  ParsedSql() noexcept = default;  // not parsed: error() is internal
  ParsedSql(ParsedSql&& other) noexcept;
  ParsedSql& operator=(ParsedSql&& other) noexcept;
  ParsedSql(const ParsedSql&) = delete;
  ParsedSql& operator=(const ParsedSql&) = delete;
  ~ParsedSql();

  bool ok() const noexcept { return tree_ != nullptr; }
  AnalyzeError error() const noexcept { return error_; }
  const std::string& error_message() const noexcept { return error_message_; }
  int error_position() const noexcept { return error_position_; }  // 1-based character, or 0

  // The text as given (also when the parse failed).
  std::string_view text() const noexcept { return text_; }
  bool standard_conforming_strings() const noexcept { return standard_conforming_strings_; }

  // The raw tree, for pgw_sql's readers (raw/raw_facts.h); null unless ok().
  const pgw_parsed* tree() const noexcept { return tree_; }

 private:
  pgw_parsed* tree_ = nullptr;
  std::string text_;
  bool standard_conforming_strings_ = true;
  AnalyzeError error_ = AnalyzeError::internal;
  std::string error_message_ = "not parsed";
  int error_position_ = 0;
};

}  // namespace pgw::sql
