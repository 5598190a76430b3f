// What to do with each column of a result: the input of the row rewriters.
//
// The engine builds one RowPlan per result shape (from RowDescription, the
// Bind result formats and the policy's column rules and detectors) and reuses
// it for every DataRow or COPY row of that result.
#pragma once

#include <cstdint>
#include <vector>

#include "mask/detector.h"
#include "mask/mask_function.h"
#include "mask/type_shapes.h"

namespace pgw::mask {

enum class ColumnAction : uint8_t {
  pass,     // forward the bytes untouched
  mask,     // replace the value with `function`
  to_null,  // replace the value with NULL
  detect,   // mask what `detectors` find inside the value, with `function`
};


inline constexpr int16_t kTextFormat = 0;
inline constexpr int16_t kBinaryFormat = 1;

struct ColumnRule {
  ColumnAction action = ColumnAction::pass;
  MaskFunction function;  // mask: the value's fate; detect: applied to each hit
  // detect: what is scanned for. mask: what `function` keeps of the value
  // (function.keeps_part_of_value()) is scanned for too, and each hit there
  // becomes kept_hit_function(hit): a column rule never shows a value the
  // detectors mask everywhere else (an SSN in the domain an email mask
  // keeps, in the tail partial keeps).
  DetectorSet detectors;
  MaskFunction kept_hit_function;  // mask only
  int16_t format = kTextFormat;  // DataRow only; COPY text/CSV is always text
  uint32_t type_oid = 0;
  TypeShape shape;  // type_shape(type_oid), looked up once per plan, not per value

  static ColumnRule pass_through(uint32_t oid = 0, int16_t fmt = kTextFormat);
  static ColumnRule masked(MaskFunction fn, uint32_t oid = 0, int16_t fmt = kTextFormat);
  // masked(fn), with what fn keeps scanned by `set` and hits masked by `hit_fn`.
  static ColumnRule masked_and_scanned(MaskFunction fn, DetectorSet set, MaskFunction hit_fn, uint32_t oid = 0,
                                       int16_t fmt = kTextFormat);
  static ColumnRule nulled(uint32_t oid = 0, int16_t fmt = kTextFormat);
  static ColumnRule detected(DetectorSet set, MaskFunction fn, uint32_t oid = 0, int16_t fmt = kTextFormat);
};

class RowPlan {
 public:
  RowPlan() = default;
  explicit RowPlan(std::vector<ColumnRule> columns);

  const std::vector<ColumnRule>& columns() const { return columns_; }
  size_t size() const { return columns_.size(); }
  const ColumnRule& operator[](size_t i) const { return columns_[i]; }

  // False when every column passes: rows are forwarded without being parsed.
  bool needs_work() const { return needs_work_; }

 private:
  std::vector<ColumnRule> columns_;
  bool needs_work_ = false;
};

// What a rewriter did with one message.
enum class Rewrite : uint8_t {
  unchanged,  // nothing to mask: forward the original bytes, `out` was not touched
  rewritten,  // the new bytes were appended to `out`
};

}  // namespace pgw::mask
