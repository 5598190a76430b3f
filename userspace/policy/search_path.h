// search_path values as the server holds them.
//
// The server splits a search_path string with SplitIdentifierString
// (sql/identifier_list.h, which does it for pgwarden): items
// separated by commas, blanks around them ignored, "double quoted" items kept
// as written ("" is a quote), unquoted items lower-cased (ASCII) and every
// item truncated to 63 bytes. "$user" stays as it is and means the current
// role when a name is looked up.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgw::policy {

struct SearchPath {
  std::vector<std::string> schemas;  // "$user" kept literally
  bool unknown = false;              // a value pgwarden cannot know (set_config with a parameter)

  static SearchPath unknown_path() { return SearchPath{{}, true}; }
  // The server's canonical form: "$user", public; "?" when unknown.
  std::string to_string() const;
  friend bool operator==(const SearchPath&, const SearchPath&) = default;
};

// The string form (set_config(), current_setting(), startup options).
// nullopt when the server would refuse it (an unterminated quote, an empty
// unquoted item): then the setting does not change.
std::optional<SearchPath> parse_search_path(std::string_view text);

// SET search_path = a, "B": the parser already split and unquoted the items.
SearchPath search_path_from_items(const std::vector<std::string>& items);

}  // namespace pgw::policy
