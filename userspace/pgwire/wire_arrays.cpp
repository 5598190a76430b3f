#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

std::string ValueList::pack(std::span<const Value> values) {
  std::string out;
  ByteWriter w(out);
  for (const Value& v : values) write_value(w, v);
  return out;
}

bool read_value_list(ByteReader& r, ValueList& out) {
  uint16_t count;
  if (!r.read_u16(count)) return false;
  const std::string_view rest = r.rest();
  size_t pos = 0;
  for (uint16_t i = 0; i < count; ++i) {
    if (rest.size() - pos < 4) return false;
    const int32_t len = load_i32(rest.data() + pos);
    pos += 4;
    if (len < -1) return false;
    if (len > 0) {
      if (rest.size() - pos < static_cast<size_t>(len)) return false;
      pos += static_cast<size_t>(len);
    }
  }
  std::string_view raw;
  (void)r.read_bytes(pos, raw);  // cannot fail: pos <= rest.size()
  out = ValueList(count, raw);
  return true;
}

void write_value_list(ByteWriter& w, const ValueList& list) {
  w.u16(static_cast<uint16_t>(list.size()));
  w.bytes(list.raw());
}

}  // namespace pgw::pgwire
