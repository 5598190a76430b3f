// The text form of a built-in scalar type's value received in binary
// format, for the types whose text output can hold digits or words a
// content detector could match: numbers (binary_numbers.h), intervals,
// geometric types, bit strings, tsvector, snapshots, int8/numeric ranges
// and multiranges, int2vector/oidvector and the reg* types (an OID in
// binary).
//
// The text is what a detector must see, laid out as the type's output
// function lays it out where that decides what a detector finds (digit runs
// and what separates them). Where the output depends on a session setting
// the binary value does not carry, the rendering is the one that shows most:
// intervals come out in the sql_standard style with every sign written
// ("+1-2 +3 +4:05:06"), whose signed fields are the only interval output
// that reads like a phone number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

// Whether binary_to_text() knows the type.
bool has_binary_text(uint32_t type_oid);

// Appends the text of `bytes` (a value of `type_oid` in binary format). An
// error means the type is not known here or the bytes are not such a value.
Status binary_to_text(uint32_t type_oid, std::string_view bytes, std::string& out);

}  // namespace pgw::pgwire
