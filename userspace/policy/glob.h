// Globs over separated names: cgroup paths ('/') and SQL names such as
// schema.table or schema.table.column ('.').
//
//   *    any run of characters within one segment (never the separator)
//   ?    one character other than the separator
//   **   as a whole segment: any number of segments, including none, so
//        "/agents/**" matches "/agents", "/agents/a" and "/agents/a/b";
//        inside a segment ("a**b") it is the same as *
//   \c   the character c literally (\* \? \\ \. \/)
//
// Matching is case-sensitive and allocates nothing; it runs in time
// O(pattern x text) at worst, with no exponential backtracking.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace pgw::policy {

bool glob_match(std::string_view pattern, std::string_view text, char separator);

// True when `pattern` contains no wildcard at all (a plain name).
bool glob_is_literal(std::string_view pattern);

// ---- SQL names ------------------------------------------------------------
// A `tables:` glob ("schema.table") or a column rule ("schema.table.column")
// names a relation or column by its parts. A quoted SQL name may hold any
// character, a dot too, so the glob is split into parts at every '.' that
// is not escaped ("public.odd\.name" is two parts), and the name is matched
// as its parts, never as one dotted string: a table named "a.b" is the one
// part "a.b". This is the one place that splits such globs; the config
// check, the table rules and the column rules all go through it.

// The parts of a dotted glob, as views into `pattern`. Always at least one.
std::vector<std::string_view> split_dotted_glob(std::string_view pattern);

// True when some part is exactly "**": the glob spans any number of parts.
bool dotted_glob_spans(std::span<const std::string_view> parts);

// One glob part against one name part. Within a part, * and ? also match
// dots (they belong to the name).
bool glob_part_match(std::string_view part, std::string_view name);

// The pattern against a name given part by part ({schema, table} or
// {schema, table, column}), a "**" part standing for any number of them.
bool dotted_glob_match(std::string_view pattern, std::span<const std::string_view> name);

}  // namespace pgw::policy
