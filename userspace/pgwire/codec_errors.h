// The few error sentences every decoder uses, so all messages report
// malformed input the same way. Internal to pgwire.
#pragma once

#include <string>

#include "common/result.h"

namespace pgw::pgwire::detail {

inline Error truncated(const char* message_name) { return make_error(std::string(message_name) + " is truncated"); }
inline Error trailing_bytes(const char* message_name) {
  return make_error(std::string(message_name) + " has unexpected trailing bytes");
}
inline Error invalid(const char* message_name, const std::string& what) {
  return make_error(std::string(message_name) + " is invalid: " + what);
}

}  // namespace pgw::pgwire::detail
