// The detectors applied to one value of any type (internal to pgw_mask):
// the `detect` action of a ColumnRule, by the value's type shape
// (type_shapes.h). Arrays and records are walked to their text-carrying
// elements, at any depth, in text and binary format.
#pragma once

#include <string>
#include <string_view>

#include "mask/field_masker.h"
#include "mask/row_plan.h"

namespace pgw::mask::detail {

// `value` is in binary format when `binary`; `rule.detectors` is not empty.
// replaced: the new value was appended to `out` (same type, same format).
FieldOutcome detect_in_value(const ColumnRule& rule, std::string_view value, bool binary, std::string& out);

}  // namespace pgw::mask::detail
