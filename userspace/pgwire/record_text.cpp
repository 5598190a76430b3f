#include "pgwire/record_text.h"

namespace pgw::pgwire {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

Status split_record_text(std::string_view text, std::vector<RecordTextField>& out) {
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size() || text[i] != '(') return make_error("record text does not start with '('");
  ++i;
  // Empty parentheses are a record without columns.
  if (i < text.size() && text[i] == ')') {
    ++i;
  } else {
    for (;;) {
      RecordTextField f;
      f.begin = i;
      bool in_quotes = false;
      while (i < text.size()) {
        const char c = text[i];
        if (c == '\\') {
          if (i + 1 >= text.size()) return make_error("record text ends in an escape");
          i += 2;
          continue;
        }
        if (c == '"') {
          // Inside quotes, "" is one quote character.
          if (in_quotes && i + 1 < text.size() && text[i + 1] == '"') {
            i += 2;
            continue;
          }
          in_quotes = !in_quotes;
          ++i;
          continue;
        }
        if (!in_quotes && (c == ',' || c == ')')) break;
        ++i;
      }
      if (i >= text.size()) return make_error("unterminated record text");
      f.end = i;
      out.push_back(f);
      if (text[i] == ')') {
        ++i;
        break;
      }
      ++i;  // the comma
    }
  }
  while (i < text.size() && is_space(text[i])) ++i;
  if (i != text.size()) return make_error("bytes after the closing parenthesis of a record");
  return ok_status();
}

void unescape_record_field(std::string_view raw, std::string& out) {
  bool in_quotes = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      out.push_back(raw[++i]);
    } else if (c == '"') {
      if (in_quotes && i + 1 < raw.size() && raw[i + 1] == '"') {
        out.push_back('"');
        ++i;
      } else {
        in_quotes = !in_quotes;
      }
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace pgw::pgwire
