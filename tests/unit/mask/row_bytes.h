// Builders and readers for DataRow bodies in the rewriter tests and
// benchmarks, written from the protocol documentation (int16 count, then
// int32 length or -1 and the bytes), independent of the code under test.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgw::mask::testing {

using Field = std::optional<std::string>;

inline void put_i16(std::string& out, int16_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

inline void put_i32(std::string& out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((u >> shift) & 0xFF));
}

inline std::string data_row(const std::vector<Field>& fields) {
  std::string body;
  put_i16(body, static_cast<int16_t>(fields.size()));
  for (const Field& f : fields) {
    if (!f) {
      put_i32(body, -1);
    } else {
      put_i32(body, static_cast<int32_t>(f->size()));
      body.append(*f);
    }
  }
  return body;
}

inline std::vector<Field> parse_data_row(std::string_view body) {
  auto u8 = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(body.at(i))); };
  const auto n = static_cast<int16_t>((u8(0) << 8) | u8(1));
  std::vector<Field> fields;
  size_t pos = 2;
  for (int i = 0; i < n; ++i) {
    const auto len = static_cast<int32_t>((u8(pos) << 24) | (u8(pos + 1) << 16) | (u8(pos + 2) << 8) | u8(pos + 3));
    pos += 4;
    if (len < 0) {
      fields.emplace_back(std::nullopt);
      continue;
    }
    if (pos + static_cast<size_t>(len) > body.size()) throw std::runtime_error("field runs past the end");
    fields.emplace_back(std::string(body.substr(pos, static_cast<size_t>(len))));
    pos += static_cast<size_t>(len);
  }
  if (pos != body.size()) throw std::runtime_error("trailing bytes");
  return fields;
}

}  // namespace pgw::mask::testing
