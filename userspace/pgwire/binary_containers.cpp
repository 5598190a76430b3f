#include "pgwire/binary_containers.h"

#include <algorithm>

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

constexpr int32_t kMaxDimensions = 6;  // PostgreSQL's MAXDIM

bool read_item(ByteReader& r, BinaryItem& item) {
  int32_t length = 0;
  if (!r.read_i32(length)) return false;
  if (length == -1) {
    item.reset();
    return true;
  }
  if (length < 0) return false;
  std::string_view bytes;
  if (!r.read_bytes(static_cast<size_t>(length), bytes)) return false;
  item = bytes;
  return true;
}

void write_item(ByteWriter& w, const BinaryItem& item) {
  if (!item) {
    w.i32(-1);
    return;
  }
  w.i32(static_cast<int32_t>(item->size()));
  w.bytes(*item);
}

}  // namespace

Result<BinaryArray> decode_binary_array(std::string_view bytes) {
  ByteReader r(bytes);
  int32_t ndim = 0, flags = 0;
  BinaryArray a;
  if (!r.read_i32(ndim) || !r.read_i32(flags) || !r.read_u32(a.element_type)) {
    return make_error("binary array is too short for its header");
  }
  if (ndim < 0 || ndim > kMaxDimensions) return make_error("binary array has " + std::to_string(ndim) + " dimensions");
  if (flags != 0 && flags != 1) return make_error("binary array has an unknown flag");
  // The element count can be anything the lengths say, but each element
  // takes at least its 4-byte length: a count beyond that is a lie.
  uint64_t count = ndim == 0 ? 0 : 1;
  for (int32_t d = 0; d < ndim; ++d) {
    int32_t length = 0, lower = 0;
    if (!r.read_i32(length) || !r.read_i32(lower)) return make_error("binary array is too short for its dimensions");
    if (length < 0) return make_error("binary array has a negative dimension");
    count *= static_cast<uint64_t>(length);
    if (count > bytes.size() / 4) return make_error("binary array claims more elements than it holds");
  }
  a.header = bytes.substr(0, r.position());
  a.elements.resize(static_cast<size_t>(count));
  for (auto& e : a.elements) {
    if (!read_item(r, e)) return make_error("binary array element runs past the end of the value");
  }
  if (!r.at_end()) return make_error("binary array has bytes after its last element");
  return a;
}

void encode_binary_array(const BinaryArray& array, const std::vector<BinaryItem>& elements, std::string& out) {
  ByteWriter w(out);
  const size_t flags_at = out.size() + 4;
  w.bytes(array.header);
  const bool has_null = std::any_of(elements.begin(), elements.end(), [](const BinaryItem& e) { return !e; });
  if (array.header.size() >= 8) {
    out[flags_at] = out[flags_at + 1] = out[flags_at + 2] = 0;
    out[flags_at + 3] = has_null ? 1 : 0;
  }
  for (const auto& e : elements) write_item(w, e);
}

Result<std::vector<BinaryRecordField>> decode_binary_record(std::string_view bytes) {
  ByteReader r(bytes);
  int32_t count = 0;
  if (!r.read_i32(count)) return make_error("binary record is too short for its field count");
  // Each field takes at least 8 bytes (type and length).
  if (count < 0 || static_cast<uint64_t>(count) > bytes.size() / 8) {
    return make_error("binary record claims " + std::to_string(count) + " fields");
  }
  std::vector<BinaryRecordField> fields(static_cast<size_t>(count));
  for (auto& f : fields) {
    if (!r.read_u32(f.type) || !read_item(r, f.value)) return make_error("binary record field runs past the end");
  }
  if (!r.at_end()) return make_error("binary record has bytes after its last field");
  return fields;
}

void encode_binary_record(const std::vector<BinaryRecordField>& fields, std::string& out) {
  ByteWriter w(out);
  w.i32(static_cast<int32_t>(fields.size()));
  for (const auto& f : fields) {
    w.u32(f.type);
    write_item(w, f.value);
  }
}

}  // namespace pgw::pgwire
