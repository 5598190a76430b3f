// Names held in strings, split the way the server splits them.
//
// PostgreSQL reads a list of identifiers from a string in one place,
// SplitIdentifierString() (utils/adt/varlena.c): search_path values
// (separator ','), and relation names given as text to a regclass argument
// ('public.orders_id_seq' in nextval(), separator '.'). Blanks around items
// are ignored, "double quoted" items are kept as written ("" is a quote),
// unquoted items are lower-cased (ASCII) and every item is truncated to 63
// bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgw::sql {

// nullopt when the server would refuse the string (an unterminated quote,
// an empty unquoted item, junk after an item). An empty or all-blank
// string gives an empty list.
std::optional<std::vector<std::string>> split_identifier_string(std::string_view text, char separator);

// An identifier as the server stores a name: at most 63 bytes, cut on a
// UTF-8 character boundary.
std::string truncate_identifier(std::string_view name);

// A relation named in a string, as regclassin() reads it (nextval('s'),
// table_to_xml('hr.salaries', ...)): [[catalog.]schema.]name.
struct QualifiedName {
  std::string catalog, schema, name;
};
// nullopt when the text is not a name the server would look up: an OID
// ('16384'), '-', a syntax error, or more than three parts.
std::optional<QualifiedName> parse_relation_text(std::string_view text);

}  // namespace pgw::sql
