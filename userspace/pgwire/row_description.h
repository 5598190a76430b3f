// RowDescription ('T'): the result columns. Sent once per result set, but
// for single-row queries as often as DataRow, so it gets the same treatment:
// one validating pass, then a non-allocating iterator over the fields.
#pragma once

#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pgwire/byte_io.h"
#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

struct FieldDescription {
  std::string_view name{};
  Oid table = 0;             // 0 when the column is not a table column
  int16_t column = 0;        // attribute number in `table`, else 0
  Oid type = 0;
  int16_t type_size = 0;     // pg_type.typlen; negative for variable width
  int32_t type_modifier = 0;
  int16_t format = kFormatText;

  bool operator==(const FieldDescription&) const = default;
};

class FieldDescriptionList {
 public:
  // Bytes after each field's name: Int32 table, Int16 column, Int32 type,
  // Int16 size, Int32 modifier, Int16 format.
  static constexpr size_t kFixedPartSize = 18;

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = FieldDescription;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = FieldDescription;

    iterator() = default;
    iterator(const char* p, size_t index) : p_(p), index_(index) {}

    FieldDescription operator*() const;
    iterator& operator++();
    iterator operator++(int) {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator& other) const { return index_ == other.index_; }

   private:
    const char* p_ = nullptr;
    size_t index_ = 0;
  };

  FieldDescriptionList() = default;
  // Unchecked: `raw` must hold exactly `count` well-formed fields.
  FieldDescriptionList(uint16_t count, std::string_view raw) : count_(count), raw_(raw) {}

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::string_view raw() const { return raw_; }
  iterator begin() const { return iterator(raw_.data(), 0); }
  iterator end() const { return iterator(nullptr, count_); }
  bool operator==(const FieldDescriptionList& other) const { return count_ == other.count_ && raw_ == other.raw_; }

 private:
  uint16_t count_ = 0;
  std::string_view raw_{};
};

struct RowDescription {
  static constexpr char kType = 'T';
  FieldDescriptionList fields{};

  static Result<RowDescription> decode(std::string_view body);
  bool operator==(const RowDescription&) const = default;
};
void encode(const RowDescription& msg, std::string& out);

// Builds a RowDescription from field values (names must not contain NUL).
void encode_row_description(std::span<const FieldDescription> fields, std::string& out);

}  // namespace pgw::pgwire
