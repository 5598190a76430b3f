#include "pgwire/data_row.h"

#include "pgwire/codec_errors.h"

namespace pgw::pgwire {

Result<DataRow> DataRow::decode(std::string_view body) {
  ByteReader r(body);
  DataRow msg;
  if (!read_value_list(r, msg.columns)) return detail::invalid("DataRow", "column values are truncated or malformed");
  if (!r.at_end()) return detail::trailing_bytes("DataRow");
  return msg;
}

void encode(const DataRow& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(DataRow::kType);
  write_value_list(w, msg.columns);
  w.end_message(mark);
}

DataRowWriter::DataRowWriter(std::string& out) : w_(out), mark_(w_.begin_message(DataRow::kType)) {
  w_.u16(0);  // column count, patched by finish()
}

void DataRowWriter::add(std::string_view value) {
  w_.i32(static_cast<int32_t>(value.size()));
  w_.bytes(value);
  ++count_;
}

void DataRowWriter::add_null() {
  w_.i32(-1);
  ++count_;
}

void DataRowWriter::finish() {
  std::string& out = w_.buffer();
  out[mark_ + 4] = static_cast<char>(count_ >> 8);
  out[mark_ + 5] = static_cast<char>(count_);
  w_.end_message(mark_);
}

}  // namespace pgw::pgwire
