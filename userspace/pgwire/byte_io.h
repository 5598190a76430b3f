// Big-endian primitives of the PostgreSQL wire protocol.
//
// ByteReader never reads past the end of its view: every read returns false
// instead, and leaves the reader where it was, so a decoder can turn any
// truncation into one clean error. It never allocates and never throws, which
// keeps it usable on the hot path (DataRow, RowDescription).
//
// ByteWriter appends to a caller-owned std::string so one buffer can collect
// several messages before a single send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pgw::pgwire {

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool read_u8(uint8_t& out) {
    if (remaining() < 1) return false;
    out = static_cast<uint8_t>(data_[pos_]);
    pos_ += 1;
    return true;
  }

  bool read_char(char& out) {
    if (remaining() < 1) return false;
    out = data_[pos_];
    pos_ += 1;
    return true;
  }

  bool read_u16(uint16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<uint16_t>((byte_at(0) << 8) | byte_at(1));
    pos_ += 2;
    return true;
  }

  bool read_i16(int16_t& out) {
    uint16_t u;
    if (!read_u16(u)) return false;
    out = static_cast<int16_t>(u);
    return true;
  }

  bool read_u32(uint32_t& out) {
    if (remaining() < 4) return false;
    out = (uint32_t{byte_at(0)} << 24) | (uint32_t{byte_at(1)} << 16) |
          (uint32_t{byte_at(2)} << 8) | uint32_t{byte_at(3)};
    pos_ += 4;
    return true;
  }

  bool read_i32(int32_t& out) {
    uint32_t u;
    if (!read_u32(u)) return false;
    out = static_cast<int32_t>(u);
    return true;
  }

  // A NUL-terminated string; `out` excludes the terminator. Fails when no
  // terminator is left in the view.
  bool read_cstring(std::string_view& out) {
    const size_t nul = data_.find('\0', pos_);
    if (nul == std::string_view::npos) return false;
    out = data_.substr(pos_, nul - pos_);
    pos_ = nul + 1;
    return true;
  }

  bool read_bytes(size_t n, std::string_view& out) {
    if (remaining() < n) return false;
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  bool skip(size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }

  // Everything not read yet; consumes it.
  std::string_view read_rest() {
    std::string_view rest = data_.substr(pos_);
    pos_ = data_.size();
    return rest;
  }

  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  size_t position() const { return pos_; }
  std::string_view rest() const { return data_.substr(pos_); }

 private:
  uint8_t byte_at(size_t i) const { return static_cast<uint8_t>(data_[pos_ + i]); }

  std::string_view data_;
  size_t pos_ = 0;
};

// Big-endian load helpers for code that has already bounds-checked a view
// (the frame scanner, list views over validated bodies).
inline uint16_t load_u16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}
inline uint32_t load_u32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) | (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}
inline int16_t load_i16(const char* p) { return static_cast<int16_t>(load_u16(p)); }
inline int32_t load_i32(const char* p) { return static_cast<int32_t>(load_u32(p)); }

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}

  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void ch(char v) { out_.push_back(v); }
  void u16(uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 2);
  }
  void i16(int16_t v) { u16(static_cast<uint16_t>(v)); }
  void u32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    out_.append(b, 4);
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }

  // Writes `s` and a NUL terminator. `s` must not contain a NUL byte: the
  // receiver would cut the string there and misparse the rest of the
  // message. Strings decoded from the wire never do; callers that pass
  // user-supplied text are responsible for that check.
  void cstring(std::string_view s) {
    out_.append(s);
    out_.push_back('\0');
  }
  void bytes(std::string_view s) { out_.append(s); }

  // Starts a typed message: the type byte and a length placeholder. Returns
  // the mark end_message() needs once the body is written.
  size_t begin_message(char type) {
    out_.push_back(type);
    return begin_untyped();
  }

  // Starts a startup-phase packet, which has a length but no type byte.
  size_t begin_untyped() {
    const size_t mark = out_.size();
    u32(0);
    return mark;
  }

  // Back-patches the length at `mark`: it counts itself and the body, not
  // the type byte.
  void end_message(size_t mark) {
    const uint32_t len = static_cast<uint32_t>(out_.size() - mark);
    out_[mark] = static_cast<char>(len >> 24);
    out_[mark + 1] = static_cast<char>(len >> 16);
    out_[mark + 2] = static_cast<char>(len >> 8);
    out_[mark + 3] = static_cast<char>(len);
  }

  std::string& buffer() { return out_; }

 private:
  std::string& out_;
};

}  // namespace pgw::pgwire
