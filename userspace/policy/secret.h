// A credential held in memory. The value is only reachable through reveal(),
// which is easy to grep for; every way of printing a Secret (iostreams, fmt,
// spdlog) prints "<redacted>", so a log line or an error message that picks up
// a config object by accident cannot leak the upstream password.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#if __has_include(<fmt/format.h>)
#include <fmt/format.h>
#endif

namespace pgw::policy {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret&) = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret();

  // The only way to the value: use it to authenticate, never to print.
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  static constexpr std::string_view kRedacted = "<redacted>";

  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << kRedacted; }
  // Comparing two secrets is harmless and lets Config compare in tests.
  friend bool operator==(const Secret&, const Secret&) = default;

 private:
  std::string value_;
};

}  // namespace pgw::policy

#if __has_include(<fmt/format.h>)
template <>
struct fmt::formatter<pgw::policy::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const pgw::policy::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(pgw::policy::Secret::kRedacted, ctx);
  }
};
#endif
