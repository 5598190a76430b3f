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

// How a type's values can be masked, by type OID.
//   text_like: text, varchar, bpchar, name, "char", unknown, xml, and OID 0
//              (the caller does not know the type, e.g. a COPY column list);
//              the binary format of these types is the text itself, so they
//              are masked in place in either format.
//   json, jsonb: masked values become a JSON string (binary jsonb keeps its
//              version byte), so json-parsing clients still parse them.
//   other:     every other type (numbers, dates, uuid, arrays, ...): a masked
//              value becomes NULL, because '***' in an int8 column would break
//              every client's parser.
// A type known to the caller to be string-like (a domain over text, citext)
// should be passed as text's OID, 25.
enum class ValueClass : uint8_t { text_like, json, jsonb, other };
ValueClass classify_type(uint32_t type_oid);

inline constexpr int16_t kTextFormat = 0;
inline constexpr int16_t kBinaryFormat = 1;

struct ColumnRule {
  ColumnAction action = ColumnAction::pass;
  MaskFunction function;  // mask: the value's fate; detect: applied to each hit
  DetectorSet detectors;  // detect only
  int16_t format = kTextFormat;  // DataRow only; COPY text/CSV is always text
  uint32_t type_oid = 0;
  TypeShape shape;  // type_shape(type_oid), looked up once per plan, not per value

  static ColumnRule pass_through(uint32_t oid = 0, int16_t fmt = kTextFormat);
  static ColumnRule masked(MaskFunction fn, uint32_t oid = 0, int16_t fmt = kTextFormat);
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
