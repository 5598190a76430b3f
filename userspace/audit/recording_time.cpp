#include "audit/recording_time.h"

#include <cstdio>
#include <ctime>

namespace pgw::audit {

std::string format_utc_time(std::chrono::system_clock::time_point t, bool compact) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, compact ? "%04d%02d%02dT%02d%02d%02d.%09ldZ" : "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

namespace {

// Reads exactly `n` digits at `p`.
bool digits(std::string_view s, size_t& p, size_t n, int& out) {
  if (s.size() < p + n) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[p + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  p += n;
  return true;
}

bool expect(std::string_view s, size_t& p, char c, bool compact) {
  if (compact) return true;  // the compact form has no separators
  if (p >= s.size() || s[p] != c) return false;
  ++p;
  return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view s) {
  const bool compact = s.size() > 8 && s[8] == 'T';
  size_t p = 0;
  struct tm tm {};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, p, 4, year) || !expect(s, p, '-', compact) || !digits(s, p, 2, month) ||
      !expect(s, p, '-', compact) || !digits(s, p, 2, day)) {
    return std::nullopt;
  }
  if (p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return std::nullopt;
  ++p;
  if (!digits(s, p, 2, hour) || !expect(s, p, ':', compact) || !digits(s, p, 2, minute) ||
      !expect(s, p, ':', compact) || !digits(s, p, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  long long ns = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int n = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (n < 9) {
        ns = ns * 10 + (s[p] - '0');
        ++n;
      }
      ++p;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) ns *= 10;
  }
  long offset = 0;  // seconds east of UTC
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh = 0, om = 0;
    if (!digits(s, p, 2, oh) || !expect(s, p, ':', false) || !digits(s, p, 2, om)) return std::nullopt;
    offset = sign * (oh * 3600L + om * 60L);
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t secs = ::timegm(&tm) - offset;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds(secs) +
                                                                      std::chrono::nanoseconds(ns)));
}

}  // namespace pgw::audit
