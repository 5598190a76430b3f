#include "mask/row_plan.h"

#include <algorithm>

namespace pgw::mask {

ColumnRule ColumnRule::pass_through(uint32_t oid, int16_t fmt) {
  ColumnRule r;
  r.type_oid = oid;
  r.shape = type_shape(oid);
  r.format = fmt;
  return r;
}

ColumnRule ColumnRule::masked(MaskFunction fn, uint32_t oid, int16_t fmt) {
  ColumnRule r = pass_through(oid, fmt);
  r.action = ColumnAction::mask;
  r.function = std::move(fn);
  return r;
}

ColumnRule ColumnRule::masked_and_scanned(MaskFunction fn, DetectorSet set, MaskFunction hit_fn, uint32_t oid,
                                          int16_t fmt) {
  ColumnRule r = masked(std::move(fn), oid, fmt);
  if (r.function.keeps_part_of_value()) {
    r.detectors = set;
    r.kept_hit_function = std::move(hit_fn);
  }
  return r;
}

ColumnRule ColumnRule::nulled(uint32_t oid, int16_t fmt) {
  ColumnRule r = pass_through(oid, fmt);
  r.action = ColumnAction::to_null;
  return r;
}

ColumnRule ColumnRule::detected(DetectorSet set, MaskFunction fn, uint32_t oid, int16_t fmt) {
  ColumnRule r = pass_through(oid, fmt);
  r.action = ColumnAction::detect;
  r.detectors = set;
  r.function = std::move(fn);
  return r;
}

RowPlan::RowPlan(std::vector<ColumnRule> columns) : columns_(std::move(columns)) {
  needs_work_ = std::any_of(columns_.begin(), columns_.end(), [](const ColumnRule& c) {
    return c.action == ColumnAction::mask || c.action == ColumnAction::to_null ||
           (c.action == ColumnAction::detect && !c.detectors.empty());
  });
}

}  // namespace pgw::mask
