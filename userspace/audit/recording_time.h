// Wall-clock times as recordings write them: RFC 3339 UTC with nanoseconds
// in headers (2024-06-11T10:15:00.123456789Z), compact in file names
// (20240611T101500.123456789Z).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgw::audit {

std::string format_utc_time(std::chrono::system_clock::time_point t, bool compact = false);

// Reads either form, and RFC 3339 with fewer (or no) fraction digits or a
// numeric offset (+02:00). std::nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view text);

}  // namespace pgw::audit
