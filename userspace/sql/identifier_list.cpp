#include "sql/identifier_list.h"

namespace pgw::sql {
namespace {

constexpr std::size_t kMaxIdentifierBytes = 63;  // NAMEDATALEN - 1

// scanner_isspace(): the blanks the server skips between items.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

}  // namespace

std::string truncate_identifier(std::string_view name) {
  if (name.size() <= kMaxIdentifierBytes) return std::string(name);
  std::size_t n = kMaxIdentifierBytes;
  // Step back over UTF-8 continuation bytes so no character is cut in half.
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  return std::string(name.substr(0, n));
}

std::optional<std::vector<std::string>> split_identifier_string(std::string_view text, char separator) {
  std::vector<std::string> items;
  std::size_t i = 0;
  auto skip_blanks = [&] {
    while (i < text.size() && is_blank(text[i])) ++i;
  };
  skip_blanks();
  if (i == text.size()) return items;  // an empty string: an empty list
  while (true) {
    std::string item;
    if (text[i] == '"') {
      ++i;
      while (true) {
        if (i >= text.size()) return std::nullopt;  // unterminated quote
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            item += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        item += text[i++];
      }
    } else {
      while (i < text.size() && text[i] != separator && !is_blank(text[i])) {
        char c = text[i++];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        item += c;
      }
      if (item.empty()) return std::nullopt;  // "a,,b" or a leading separator
    }
    items.push_back(truncate_identifier(item));
    skip_blanks();
    if (i == text.size()) return items;
    if (text[i] != separator) return std::nullopt;  // junk after an item
    ++i;
    skip_blanks();
    if (i == text.size()) return std::nullopt;  // a trailing separator
  }
}

std::optional<QualifiedName> parse_relation_text(std::string_view text) {
  // regclassin(): all digits is an OID, "-" is InvalidOid; nothing to name.
  if (text == "-" || (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos))
    return std::nullopt;
  auto parts = split_identifier_string(text, '.');
  if (!parts || parts->empty() || parts->size() > 3) return std::nullopt;
  QualifiedName out;
  out.name = std::move(parts->back());
  if (parts->size() >= 2) out.schema = std::move((*parts)[parts->size() - 2]);
  if (parts->size() == 3) out.catalog = std::move((*parts)[0]);
  return out;
}

}  // namespace pgw::sql
