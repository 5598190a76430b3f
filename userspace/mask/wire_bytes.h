// Big-endian integer access for the rewriters (internal to pgw_mask). Kept
// here rather than borrowed from pgwire so this library stays a leaf.
#pragma once

#include <cstdint>
#include <string>

namespace pgw::mask::detail {

inline uint32_t load_be32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) | (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}
inline uint16_t load_be16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

inline void store_be32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

inline void append_be32(std::string& out, uint32_t v) {
  char b[4];
  store_be32(b, v);
  out.append(b, 4);
}

}  // namespace pgw::mask::detail
