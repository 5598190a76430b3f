// Globs over separated names: cgroup paths ('/') and SQL names such as
// schema.table or schema.table.column ('.').
//
//   *    any run of characters within one segment (never the separator)
//   ?    one character other than the separator
//   **   as a whole segment: any number of segments, including none, so
//        "/agents/**" matches "/agents", "/agents/a" and "/agents/a/b";
//        inside a segment ("a**b") it is the same as *
//   \c   the character c literally (\* \? \\)
//
// Matching is case-sensitive and allocates nothing; it runs in time
// O(pattern x text) at worst, with no exponential backtracking.
#pragma once

#include <string_view>

namespace pgw::policy {

bool glob_match(std::string_view pattern, std::string_view text, char separator);

// True when `pattern` contains no wildcard at all (a plain name).
bool glob_is_literal(std::string_view pattern);

}  // namespace pgw::policy
