#include "sql/parsed_sql.h"

#include <utility>

#include "sql/raw/raw_facts.h"

namespace pgw::sql {
namespace {

// UTF-8 as PostgreSQL accepts it (pg_utf8_islegal): no overlong forms, no
// surrogates, nothing above U+10FFFF. Returns the offset of the first bad
// byte, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view to_string(AnalyzeError e) {
  switch (e) {
    case AnalyzeError::none: return "none";
    case AnalyzeError::too_long: return "too_long";
    case AnalyzeError::nul_byte: return "nul_byte";
    case AnalyzeError::invalid_utf8: return "invalid_utf8";
    case AnalyzeError::syntax: return "syntax";
    case AnalyzeError::too_complex: return "too_complex";
    case AnalyzeError::internal: return "internal";
  }
  return "?";
}

ParsedSql ParsedSql::parse(std::string_view sql, const ParseOptions& options) noexcept {
  ParsedSql out;
  try {
    out.standard_conforming_strings_ = options.standard_conforming_strings;
    out.error_message_.clear();
    // Kept whatever happens: a caller may parse it again in another mode.
    // The parser needs it NUL-terminated, as std::string keeps it.
    out.text_.assign(sql);
    auto fail = [&](AnalyzeError error, std::string message, int position = 0) {
      out.error_ = error;
      out.error_message_ = std::move(message);
      out.error_position_ = position;
      return std::move(out);
    };
    if (sql.size() > options.max_input_bytes)
      return fail(AnalyzeError::too_long, "statement of " + std::to_string(sql.size()) +
                                              " bytes is longer than the limit of " +
                                              std::to_string(options.max_input_bytes));
    if (sql.find('\0') != std::string_view::npos) return fail(AnalyzeError::nul_byte, "statement contains a NUL byte");
    if (auto bad = invalid_utf8_at(sql); bad != std::string_view::npos)
      return fail(AnalyzeError::invalid_utf8,
                  "statement is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
    pgw_raw_error raw_error;
    pgw_parsed* tree = nullptr;
    const int status = pgw_parse(out.text_.c_str(), options.standard_conforming_strings ? 1 : 0, &tree, &raw_error);
    if (status == PGW_RAW_SYNTAX_ERROR) return fail(AnalyzeError::syntax, raw_error.message, raw_error.cursor_pos);
    if (status != PGW_RAW_OK || tree == nullptr) {
      pgw_parsed_free(tree);
      return fail(AnalyzeError::internal, raw_error.message);
    }
    out.tree_ = tree;
    out.error_ = AnalyzeError::none;
    return out;
  } catch (...) {
    ParsedSql failed;
    failed.error_message_ = "out of memory";  // short: no allocation
    return failed;
  }
}

ParsedSql::ParsedSql(ParsedSql&& other) noexcept
    : tree_(std::exchange(other.tree_, nullptr)),
      text_(std::move(other.text_)),
      standard_conforming_strings_(other.standard_conforming_strings_),
      error_(std::exchange(other.error_, AnalyzeError::internal)),
      error_message_(std::move(other.error_message_)),
      error_position_(std::exchange(other.error_position_, 0)) {}

ParsedSql& ParsedSql::operator=(ParsedSql&& other) noexcept {
  if (this != &other) {
    pgw_parsed_free(tree_);
    tree_ = std::exchange(other.tree_, nullptr);
    text_ = std::move(other.text_);
    standard_conforming_strings_ = other.standard_conforming_strings_;
    error_ = std::exchange(other.error_, AnalyzeError::internal);
    error_message_ = std::move(other.error_message_);
    error_position_ = std::exchange(other.error_position_, 0);
  }
  return *this;
}

ParsedSql::~ParsedSql() { pgw_parsed_free(tree_); }

}  // namespace pgw::sql
