#include "mask/row_plan.h"

#include <algorithm>

namespace pgw::mask {

ValueClass classify_type(uint32_t type_oid) {
  switch (type_oid) {
    case 0:     // unknown to the caller
    case 18:    // "char"
    case 19:    // name
    case 25:    // text
    case 142:   // xml
    case 705:   // unknown
    case 1042:  // bpchar
    case 1043:  // varchar
      return ValueClass::text_like;
    case 114:
      return ValueClass::json;
    case 3802:
      return ValueClass::jsonb;
    default:
      return ValueClass::other;
  }
}

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
