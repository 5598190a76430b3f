// DataRow ('D' from the server): one result row. The hottest message of all,
// so decoding validates the row in one pass without allocating and the
// columns are read through ValueList's iterator:
//
//   auto row = DataRow::decode(body);            // checks every length
//   for (Value column : row->columns) { ... }    // std::nullopt = NULL
//
// DataRowWriter builds a row column by column (masking rewrites rows this
// way) without knowing the column count or sizes in advance.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "pgwire/byte_io.h"
#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

struct DataRow {
  static constexpr char kType = 'D';
  ValueList columns{};

  static Result<DataRow> decode(std::string_view body);
  bool operator==(const DataRow&) const = default;
};
void encode(const DataRow& msg, std::string& out);

class DataRowWriter {
 public:
  // Starts a DataRow at the end of `out`.
  explicit DataRowWriter(std::string& out);

  void add(std::string_view value);
  void add_null();
  // A separate name: an add(Value) overload would make add("literal") ambiguous.
  void add_value(const Value& value) { value ? add(*value) : add_null(); }

  // Back-patches the column count and the length. The row is malformed
  // until this is called; call it exactly once.
  void finish();

 private:
  ByteWriter w_;
  size_t mark_;
  uint16_t count_ = 0;
};

}  // namespace pgw::pgwire
