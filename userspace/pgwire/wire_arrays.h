// Non-allocating views over the repeated fields of protocol messages:
//   WireArray<T>  an Int16 count then that many Int16 / Int32 (format codes,
//                 parameter type OIDs)
//   ValueList     an Int16 count then (Int32 length, bytes) entries, length
//                 -1 meaning NULL (DataRow columns, Bind parameters,
//                 FunctionCall arguments)
// The read_* functions validate the whole structure once; iterating a view
// afterwards does no bounds checks and cannot fail, which is what the hot
// path (DataRow) needs. Views point into the caller's buffer.
//
// Counts are read as unsigned 16-bit, as PostgreSQL and libpq both do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

using Oid = uint32_t;

// Format codes of parameters, results and COPY columns.
inline constexpr int16_t kFormatText = 0;
inline constexpr int16_t kFormatBinary = 1;

template <typename T>
class WireArray {
  static_assert(sizeof(T) == 2 || sizeof(T) == 4);

 public:
  WireArray() = default;
  // `raw` is size() big-endian values back to back (no count).
  explicit WireArray(std::string_view raw) : raw_(raw) {}

  size_t size() const { return raw_.size() / sizeof(T); }
  bool empty() const { return raw_.empty(); }
  T operator[](size_t i) const {
    const char* p = raw_.data() + i * sizeof(T);
    if constexpr (sizeof(T) == 2) {
      return static_cast<T>(load_u16(p));
    } else {
      return static_cast<T>(load_u32(p));
    }
  }
  std::string_view raw() const { return raw_; }
  bool operator==(const WireArray& other) const { return raw_ == other.raw_; }

  // Big-endian bytes for a WireArray over caller-owned storage:
  //   std::string raw = Int16Array::pack({1, 0}); msg.result_formats = Int16Array(raw);
  static std::string pack(std::span<const T> values) {
    std::string out;
    ByteWriter w(out);
    for (T v : values) {
      if constexpr (sizeof(T) == 2) {
        w.u16(static_cast<uint16_t>(v));
      } else {
        w.u32(static_cast<uint32_t>(v));
      }
    }
    return out;
  }
  static std::string pack(std::initializer_list<T> values) {
    return pack(std::span<const T>(values.begin(), values.size()));
  }

 private:
  std::string_view raw_{};
};

using Int16Array = WireArray<int16_t>;
using OidArray = WireArray<Oid>;

// Reads an Int16 count and the values; false if the reader runs out.
template <typename T>
bool read_wire_array(ByteReader& r, WireArray<T>& out) {
  uint16_t count;
  std::string_view raw;
  if (!r.read_u16(count) || !r.read_bytes(size_t{count} * sizeof(T), raw)) return false;
  out = WireArray<T>(raw);
  return true;
}

template <typename T>
void write_wire_array(ByteWriter& w, const WireArray<T>& array) {
  w.u16(static_cast<uint16_t>(array.size()));
  w.bytes(array.raw());
}

// True when every code is text (0) or binary (1).
inline bool valid_format_codes(const Int16Array& formats) {
  for (size_t i = 0; i < formats.size(); ++i) {
    if (formats[i] != kFormatText && formats[i] != kFormatBinary) return false;
  }
  return true;
}

// A column or parameter value: std::nullopt is SQL NULL.
using Value = std::optional<std::string_view>;

class ValueList {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Value;

    iterator() = default;
    iterator(const char* p, size_t index) : p_(p), index_(index) {}

    Value operator*() const {
      const int32_t len = load_i32(p_);
      if (len < 0) return std::nullopt;
      return std::string_view(p_ + 4, static_cast<size_t>(len));
    }
    iterator& operator++() {
      const int32_t len = load_i32(p_);
      p_ += 4 + (len < 0 ? 0 : static_cast<size_t>(len));
      ++index_;
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++*this;
      return before;
    }
    // Iterators of one list compare by position.
    bool operator==(const iterator& other) const { return index_ == other.index_; }

   private:
    const char* p_ = nullptr;
    size_t index_ = 0;
  };

  ValueList() = default;
  // Unchecked: `raw` must hold exactly `count` well-formed entries. Use
  // read_value_list() for bytes from the wire, pack() to build one.
  ValueList(uint16_t count, std::string_view raw) : count_(count), raw_(raw) {}

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::string_view raw() const { return raw_; }  // the entries, without the count
  iterator begin() const { return iterator(raw_.data(), 0); }
  iterator end() const { return iterator(nullptr, count_); }
  bool operator==(const ValueList& other) const { return count_ == other.count_ && raw_ == other.raw_; }

  // The entries' bytes for a ValueList over caller-owned storage:
  //   std::string raw = ValueList::pack(values); ValueList list(values.size(), raw);
  static std::string pack(std::span<const Value> values);

 private:
  uint16_t count_ = 0;
  std::string_view raw_{};
};

// Reads an Int16 count and that many (Int32 length, bytes) entries, checking
// that every length is >= -1 and fits in what is left.
bool read_value_list(ByteReader& r, ValueList& out);

void write_value_list(ByteWriter& w, const ValueList& list);

// One (Int32 length, bytes) entry; -1 for NULL.
inline void write_value(ByteWriter& w, const Value& value) {
  if (value) {
    w.i32(static_cast<int32_t>(value->size()));
    w.bytes(*value);
  } else {
    w.i32(-1);
  }
}

}  // namespace pgw::pgwire
