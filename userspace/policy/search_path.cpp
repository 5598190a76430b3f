#include "policy/search_path.h"

#include "sql/identifier_list.h"

namespace pgw::policy {
namespace {

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
  auto items = sql::split_identifier_string(text, ',');
  if (!items) return std::nullopt;
  return SearchPath{std::move(*items), false};
}

SearchPath search_path_from_items(const std::vector<std::string>& items) {
  SearchPath path;
  for (const auto& item : items) path.schemas.push_back(sql::truncate_identifier(item));
  return path;
}

}  // namespace pgw::policy
