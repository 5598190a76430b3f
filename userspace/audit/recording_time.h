// Times as recordings, the admin API and the command line write them:
// RFC 3339 in UTC ("2024-06-11T10:15:00.123456789Z"), and the bounds a user
// types for `--since` / `--until`: RFC 3339 (any offset, fraction optional)
// or an age back from now ("30m", "1h", "2d", "1w"); and the compact form
// recording file names start with (20240611T101500.123456789Z).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::audit {

using TimePoint = std::chrono::system_clock::time_point;

// 2024-06-11T10:15:00.123456789Z (nanoseconds, as the header's start_time).
std::string format_utc(TimePoint t);
// 20240611T101500.123456789Z: the same instant, as file names carry it.
std::string format_utc_compact(TimePoint t);
// The compact form back (what format_utc_compact writes).
Result<TimePoint> parse_utc_compact(std::string_view text);
// RFC 3339: 2024-06-11T10:15:00Z, 2024-06-11T12:15:00.5+02:00 ('t', 'z' and
// a space for 'T' accepted).
Result<TimePoint> parse_rfc3339(std::string_view text);
// RFC 3339, or <n>s|m|h|d|w meaning that long before `now`.
Result<TimePoint> parse_time_bound(std::string_view text, TimePoint now);

}  // namespace pgw::audit
