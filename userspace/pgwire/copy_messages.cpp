#include "pgwire/copy_messages.h"

#include "pgwire/byte_io.h"
#include "pgwire/codec_errors.h"

namespace pgw::pgwire {

using detail::invalid;
using detail::trailing_bytes;
using detail::truncated;

void encode(const CopyData& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(CopyData::kType);
  w.bytes(msg.data);
  w.end_message(mark);
}

Result<CopyFail> CopyFail::decode(std::string_view body) {
  constexpr const char* kName = "CopyFail";
  ByteReader r(body);
  CopyFail msg;
  if (!r.read_cstring(msg.message)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const CopyFail& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(CopyFail::kType);
  w.cstring(msg.message);
  w.end_message(mark);
}

Status decode_copy_response_body(std::string_view body, CopyResponseBody& out) {
  constexpr const char* kName = "COPY response";
  ByteReader r(body);
  uint8_t format;
  if (!r.read_u8(format) || !read_wire_array(r, out.column_formats)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  out.format = static_cast<int8_t>(format);
  if (out.format != kFormatText && out.format != kFormatBinary) return invalid(kName, "overall format other than 0 or 1");
  if (!valid_format_codes(out.column_formats)) return invalid(kName, "column format other than 0 or 1");
  if (out.format == kFormatText) {
    for (size_t i = 0; i < out.column_formats.size(); ++i) {
      if (out.column_formats[i] != kFormatText) return invalid(kName, "binary column in a text COPY");
    }
  }
  return ok_status();
}

void encode_copy_response(char type, const CopyResponseBody& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(type);
  w.u8(static_cast<uint8_t>(msg.format));
  write_wire_array(w, msg.column_formats);
  w.end_message(mark);
}

}  // namespace pgw::pgwire
