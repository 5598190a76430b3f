// Quoting a user-supplied value for an error message: `"value"`, with control
// characters replaced and long values cut, so a message stays one readable line.
#pragma once

#include <string>
#include <string_view>

namespace pgw {

inline std::string quote_for_message(std::string_view value) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (char c : value.substr(0, kMax)) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (value.size() > kMax) out += "...";
  return out + "\"";
}

}  // namespace pgw
