// One field's fate under its ColumnRule (internal to pgw_mask): shared by the
// DataRow and COPY rewriters so that a value is masked the same way whatever
// message carries it.
#pragma once

#include <string>
#include <string_view>

#include "mask/row_plan.h"

namespace pgw::mask::detail {

enum class FieldOutcome : uint8_t {
  keep,      // forward the original bytes
  null,      // the field becomes NULL
  replaced,  // the new value was appended to `out`
};

// `value` is the field's bytes (never called for a NULL field); `binary` says
// it is in binary format (a DataRow column with format code 1).
FieldOutcome mask_field(const ColumnRule& rule, std::string_view value, bool binary, std::string& out);

}  // namespace pgw::mask::detail
