#include "pgwire/array_text.h"

namespace pgw::pgwire {

namespace {

// array_in's notion of whitespace (scanner_isspace).
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool iequals_null(std::string_view s) {
  return s.size() == 4 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'u' && (s[2] | 0x20) == 'l' &&
         (s[3] | 0x20) == 'l';
}

}  // namespace

Status split_array_text(std::string_view text, char delimiter, std::vector<ArrayTextElement>& out) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && is_space(text[i])) ++i;
  };
  skip_space();
  if (i < text.size() && text[i] == '[') {
    // "[1:2][0:3]=": bounds only, never values.
    const size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) return make_error("array dimensions without '='");
    i = eq + 1;
    skip_space();
  }
  if (i >= text.size() || text[i] != '{') return make_error("array text does not start with '{'");

  int depth = 0;
  // After '{' or a delimiter an item must follow; after an item, a
  // delimiter or '}'.
  bool expect_item = true;
  bool empty_level = false;  // just after '{': '}' may follow at once
  while (i < text.size()) {
    skip_space();
    if (i >= text.size()) break;
    const char c = text[i];
    if (c == '{') {
      if (!expect_item) return make_error("'{' where a delimiter was expected");
      ++depth;
      ++i;
      expect_item = true;
      empty_level = true;
      continue;
    }
    if (c == '}') {
      if (expect_item && !empty_level) return make_error("'}' after a delimiter");
      --depth;
      ++i;
      expect_item = false;
      empty_level = false;
      if (depth == 0) break;
      continue;
    }
    if (c == delimiter) {
      if (expect_item) return make_error("two delimiters in a row");
      ++i;
      expect_item = true;
      empty_level = false;
      continue;
    }
    if (!expect_item) return make_error("an element where a delimiter was expected");
    if (depth == 0) return make_error("an element outside the braces");
    ArrayTextElement e;
    e.begin = i;
    if (c == '"') {
      e.quoted = true;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\') {
          if (i + 1 >= text.size()) return make_error("array text ends in an escape");
          i += 2;
          continue;
        }
        if (text[i] == '"') {
          closed = true;
          ++i;
          break;
        }
        ++i;
      }
      if (!closed) return make_error("unterminated quoted array element");
      e.end = i;
    } else {
      while (i < text.size()) {
        const char u = text[i];
        if (u == '\\') {
          if (i + 1 >= text.size()) return make_error("array text ends in an escape");
          i += 2;
          continue;
        }
        if (u == delimiter || u == '}' || u == '{' || u == '"') break;
        ++i;
      }
      // Trailing whitespace is not part of an unquoted element.
      size_t end = i;
      while (end > e.begin && is_space(text[end - 1]) && !(end >= 2 && text[end - 2] == '\\')) --end;
      e.end = end;
      if (e.end == e.begin) return make_error("empty unquoted array element");
      e.null = iequals_null(text.substr(e.begin, e.end - e.begin));
    }
    out.push_back(e);
    expect_item = false;
    empty_level = false;
  }
  if (depth != 0) return make_error("unbalanced braces in array text");
  skip_space();
  if (i != text.size()) return make_error("bytes after the closing brace of an array");
  return ok_status();
}

void unescape_array_element(std::string_view raw, std::string& out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
    out.push_back(raw[i]);
  }
}

void append_quoted_array_element(std::string_view value, std::string& out) {
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace pgw::pgwire
