// Rewrites COPY TO STDOUT data (text and CSV formats) according to a
// RowPlan, by column position.
//
// The server sends one row per CopyData message; this accepts any number of
// whole rows in `data`. Fields are decoded (text escapes such as \t, \n, \\,
// \x41, \101; CSV quotes) before a mask function or detector sees them, so
// an escape cannot hide a value from the detectors, and masked values are
// encoded again so the row stays parseable. Binary COPY is not handled here:
// the engine refuses it when it would carry a masked column.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "mask/row_plan.h"

namespace pgw::mask {

// The COPY options that change how a row is written.
struct CopyFormat {
  enum class Kind : uint8_t { text, csv };
  Kind kind = Kind::text;
  char delimiter = '\t';
  char quote = '"';   // csv only
  char escape = '"';  // csv only
  std::string null_string = "\\N";

  static CopyFormat text() { return CopyFormat{}; }
  static CopyFormat csv() { return CopyFormat{Kind::csv, ',', '"', '"', ""}; }
};

// Same contract as rewrite_data_row: unchanged (forward the original bytes,
// `out` untouched) or rewritten (new data appended to `out`). A row whose
// field count differs from the plan, or an unterminated CSV quote, is an
// error. In CSV with HEADER, the caller passes the header line through
// itself: it holds column names, not values.
Result<Rewrite> rewrite_copy_data(std::string_view data, const CopyFormat& format, const RowPlan& plan,
                                  std::string& out);

}  // namespace pgw::mask
