// Code point stepping for the mask functions (internal to pgw_mask).
//
// redact and partial count characters, not bytes, and must never cut a
// multi-byte character in half (a client would reject the row as invalid
// UTF-8). A well-formed sequence is one unit; any byte that does not start a
// well-formed sequence is a unit of its own, so malformed input (or a
// single-byte encoding such as LATIN1) still yields one unit per byte and the
// output of redact is always valid.
#pragma once

#include <cstddef>
#include <string_view>

namespace pgw::mask::detail {

inline bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Byte length of the unit starting at t[i] (1..4).
inline size_t utf8_unit_length(std::string_view t, size_t i) {
  const auto c = static_cast<unsigned char>(t[i]);
  if (c < 0x80) return 1;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 1;
  }
  if (i + n > t.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if (!is_continuation(static_cast<unsigned char>(t[i + k]))) return 1;
  return n;
}

inline bool all_ascii(std::string_view t) {
  for (char c : t)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// Number of units (code points, for valid UTF-8).
inline size_t utf8_length(std::string_view t) {
  if (all_ascii(t)) return t.size();
  size_t n = 0;
  for (size_t i = 0; i < t.size(); i += utf8_unit_length(t, i)) ++n;
  return n;
}

}  // namespace pgw::mask::detail
