// A parameter or result value as people read it: text-format values as they
// are; binary ones in their type's text form where pgwarden knows the type
// (the text types, int2/int4/oid/bool, and what binary_text.h renders), else
// as bytea hex ("\x..."). Used where a value is shown to a person: the
// parameters of a statement held for approval, and session transcripts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

// `type_oid` 0 (unknown) shows a binary value as hex.
std::string shown_value(uint32_t type_oid, int16_t format, std::string_view bytes);

// A Bind's parameters or a FunctionCall's arguments: `formats` follows the
// protocol's none/one/each convention, `types` may be shorter than `values`
// (missing types are unknown); NULL is std::nullopt.
std::vector<std::optional<std::string>> shown_values(const Int16Array& formats, const ValueList& values,
                                                     const std::vector<uint32_t>& types);

}  // namespace pgw::pgwire
