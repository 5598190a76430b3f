#include "policy/search_path.h"

namespace pgw::policy {
namespace {

constexpr std::size_t kMaxIdentifierBytes = 63;  // NAMEDATALEN - 1

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// An item needs quotes in the canonical form unless it is a plain lower-case
// identifier (what quote_identifier checks, minus the keyword list: quoting a
// keyword too is only cosmetic).
bool needs_quotes(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return true;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$')) return true;
  return false;
}

}  // namespace

std::string truncate_identifier(std::string_view name) {
  if (name.size() <= kMaxIdentifierBytes) return std::string(name);
  std::size_t n = kMaxIdentifierBytes;
  // Step back over UTF-8 continuation bytes so no character is cut in half.
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  return std::string(name.substr(0, n));
}

std::string SearchPath::to_string() const {
  if (unknown) return "?";
  std::string out;
  for (const auto& s : schemas) {
    if (!out.empty()) out += ", ";
    if (needs_quotes(s)) {
      out += '"';
      for (char c : s) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    } else {
      out += s;
    }
  }
  return out;
}

std::optional<SearchPath> parse_search_path(std::string_view text) {
  SearchPath path;
  std::size_t i = 0;
  auto skip_blanks = [&] {
    while (i < text.size() && is_blank(text[i])) ++i;
  };
  skip_blanks();
  if (i == text.size()) return path;  // an empty string: an empty path
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
      while (i < text.size() && text[i] != ',' && !is_blank(text[i])) {
        char c = text[i++];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        item += c;
      }
      if (item.empty()) return std::nullopt;  // ",," or a leading comma
    }
    path.schemas.push_back(truncate_identifier(item));
    skip_blanks();
    if (i == text.size()) return path;
    if (text[i] != ',') return std::nullopt;  // junk after an item
    ++i;
    skip_blanks();
    if (i == text.size()) return std::nullopt;  // a trailing comma
  }
}

SearchPath search_path_from_items(const std::vector<std::string>& items) {
  SearchPath path;
  for (const auto& item : items) path.schemas.push_back(truncate_identifier(item));
  return path;
}

}  // namespace pgw::policy
