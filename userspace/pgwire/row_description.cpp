#include "pgwire/row_description.h"

#include <cstring>

#include "pgwire/codec_errors.h"

namespace pgw::pgwire {

FieldDescription FieldDescriptionList::iterator::operator*() const {
  FieldDescription f;
  const size_t name_size = std::strlen(p_);  // terminated: checked by decode
  f.name = std::string_view(p_, name_size);
  const char* q = p_ + name_size + 1;
  f.table = load_u32(q);
  f.column = load_i16(q + 4);
  f.type = load_u32(q + 6);
  f.type_size = load_i16(q + 10);
  f.type_modifier = load_i32(q + 12);
  f.format = load_i16(q + 16);
  return f;
}

FieldDescriptionList::iterator& FieldDescriptionList::iterator::operator++() {
  p_ += std::strlen(p_) + 1 + kFixedPartSize;
  ++index_;
  return *this;
}

Result<RowDescription> RowDescription::decode(std::string_view body) {
  constexpr const char* kName = "RowDescription";
  ByteReader r(body);
  uint16_t count;
  if (!r.read_u16(count)) return detail::truncated(kName);
  const size_t start = r.position();
  for (uint16_t i = 0; i < count; ++i) {
    std::string_view name, fixed;
    if (!r.read_cstring(name) || !r.read_bytes(FieldDescriptionList::kFixedPartSize, fixed)) {
      return detail::truncated(kName);
    }
    const int16_t format = load_i16(fixed.data() + 16);
    if (format != kFormatText && format != kFormatBinary) {
      return detail::invalid(kName, "format code other than 0 or 1 for column \"" + std::string(name) + "\"");
    }
  }
  if (!r.at_end()) return detail::trailing_bytes(kName);
  RowDescription msg;
  msg.fields = FieldDescriptionList(count, body.substr(start));
  return msg;
}

void encode(const RowDescription& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(RowDescription::kType);
  w.u16(static_cast<uint16_t>(msg.fields.size()));
  w.bytes(msg.fields.raw());
  w.end_message(mark);
}

void encode_row_description(std::span<const FieldDescription> fields, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(RowDescription::kType);
  w.u16(static_cast<uint16_t>(fields.size()));
  for (const FieldDescription& f : fields) {
    w.cstring(f.name);
    w.u32(f.table);
    w.i16(f.column);
    w.u32(f.type);
    w.i16(f.type_size);
    w.i32(f.type_modifier);
    w.i16(f.format);
  }
  w.end_message(mark);
}

}  // namespace pgw::pgwire
