// The text form of an array value, as the server's array_out writes it:
//
//   [dimension decoration "[l:u]...=" when a lower bound is not 1]
//   '{' item (delimiter item)* '}'     an item is a nested '{...}' or an element
//
// An element is NULL (unquoted, any case), an unquoted string (none of the
// delimiter, braces, quotes, backslash or whitespace), or a double-quoted
// string in which '"' and '\' are escaped with a backslash. Nested levels of
// a multi-dimensional array use the same syntax; every element sits at the
// innermost level. The delimiter is ',' for every built-in type but box (';').
//
// The splitter also accepts what array_in accepts and array_out never
// writes (whitespace around items, backslash escapes in unquoted elements),
// so that a value is either split exactly or refused, never misread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::pgwire {

struct ArrayTextElement {
  size_t begin = 0;  // the element's bytes in the text, quotes included
  size_t end = 0;
  bool quoted = false;
  bool null = false;  // the unquoted word NULL

  // The bytes between the quotes (or the whole unquoted element), escapes
  // still in place.
  std::string_view raw(std::string_view text) const {
    return quoted ? text.substr(begin + 1, end - begin - 2) : text.substr(begin, end - begin);
  }
};

// Appends the elements of `text` to `out` in storage order. An error means
// the text is not an array literal.
Status split_array_text(std::string_view text, char delimiter, std::vector<ArrayTextElement>& out);

// An element's value: `raw` without its escapes.
void unescape_array_element(std::string_view raw, std::string& out);

// Appends `value` as a quoted element (array_in reads any value this way,
// including "NULL" and the empty string).
void append_quoted_array_element(std::string_view value, std::string& out);

}  // namespace pgw::pgwire
