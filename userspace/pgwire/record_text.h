// The text form of a composite value (a ROW(...), a named composite type or
// a table's row type), as the server's record_out writes it:
//
//   '(' field (',' field)* ')'
//
// An empty field is NULL; a field with a quote, backslash, parenthesis,
// comma or whitespace in it (or an empty string) is double-quoted, with '"'
// and '\' doubled; any other field is written as it is. record_in also reads
// backslash escapes, in and out of quotes; the splitter does too.
//
// The text says nothing about the fields' types (a field holding an array
// or a nested record is just a string here).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::pgwire {

struct RecordTextField {
  size_t begin = 0;  // the field's bytes in the text, quotes included; begin == end: NULL
  size_t end = 0;
  bool null() const { return begin == end; }
};

// Appends the fields of `text` to `out`. An error means the text is not a
// record literal.
Status split_record_text(std::string_view text, std::vector<RecordTextField>& out);

// A field's value, without its quotes and escapes.
void unescape_record_field(std::string_view raw_field, std::string& out);

}  // namespace pgw::pgwire
