// Rewrites DataRow message bodies according to a RowPlan.
//
// A DataRow body is: int16 field count, then per field an int32 length (-1 is
// NULL) and that many bytes. The rewriter works on these raw bytes: it never
// decodes a field it does not mask, copies unchanged stretches of the row in
// one piece, and when the plan masks nothing it does not even parse the row.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "mask/row_plan.h"

namespace pgw::mask {

// `body` is the DataRow body (after the 'D' type byte and the length).
// Returns unchanged when no field needs a change (forward the original
// message), or appends the new body to `out` and returns rewritten; the
// caller frames it (type 'D', length = 4 + body size). NULL fields stay
// NULL. A body that is malformed or whose field count differs from the plan
// is an error: the engine must not forward a row it could not check.
Result<Rewrite> rewrite_data_row(std::string_view body, const RowPlan& plan, std::string& out);

}  // namespace pgw::mask
