#include "audit/recording_time.h"

#include <cstdio>
#include <ctime>

#include "common/quote.h"

namespace pgw::audit {

namespace {

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

namespace {

std::string format(TimePoint t, const char* pattern) {
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
  std::snprintf(buf, sizeof buf, pattern, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, frac);
  return buf;
}

}  // namespace

std::string format_utc(TimePoint t) { return format(t, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ"); }

std::string format_utc_compact(TimePoint t) { return format(t, "%04d%02d%02dT%02d%02d%02d.%09ldZ"); }

Result<TimePoint> parse_utc_compact(std::string_view s) {
  // YYYYMMDDTHHMMSS[.f]Z: put the separators back and read it as RFC 3339.
  if (s.size() < 16 || s[8] != 'T') return make_error("not a compact UTC time: " + quote_for_message(s));
  std::string rfc;
  rfc.reserve(s.size() + 4);
  rfc.append(s.substr(0, 4)).append("-").append(s.substr(4, 2)).append("-").append(s.substr(6, 2));
  rfc.append("T").append(s.substr(9, 2)).append(":").append(s.substr(11, 2)).append(":").append(s.substr(13));
  return parse_rfc3339(rfc);
}

Result<TimePoint> parse_rfc3339(std::string_view s) {
  auto bad = [&] {
    return make_error("expected a time such as 2024-06-11T10:15:00Z (RFC 3339) or an age such as 30m, 2h, 7d, got " +
                      quote_for_message(s));
  };
  int year, mon, day, hour, min, sec;
  if (s.size() < 20 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, mon) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, min) || s[16] != ':' || !digits(s, 17, 2, sec)) {
    return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  // The clock counts nanoseconds in 64 bits: it ends in 2262.
  if (year < 1970 || year > 2200) return make_error("a time between 1970 and 2200, got " + quote_for_message(s));
  size_t at = 19;
  int64_t nanos = 0;
  if (at < s.size() && s[at] == '.') {
    ++at;
    int64_t scale = 100000000;
    const size_t start = at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
      nanos += (s[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == start) return bad();
  }
  int offset_min = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh, om;
    if (!digits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' || !digits(s, at + 4, 2, om)) return bad();
    offset_min = (s[at] == '-' ? -1 : 1) * (oh * 60 + om);
    at += 6;
  } else {
    return bad();
  }
  if (at != s.size()) return bad();
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const time_t secs = ::timegm(&tm) - static_cast<time_t>(offset_min) * 60;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::seconds(secs) +
                                                                   std::chrono::nanoseconds(nanos)));
}

Result<TimePoint> parse_time_bound(std::string_view text, TimePoint now) {
  if (!text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == text.size() - 1 &&
      text.size() > 1) {
    const char unit = text.back();
    const long long n = std::stoll(std::string(text.substr(0, text.size() - 1)));
    std::chrono::seconds per{0};
    switch (unit) {
      case 's': per = std::chrono::seconds(1); break;
      case 'm': per = std::chrono::minutes(1); break;
      case 'h': per = std::chrono::hours(1); break;
      case 'd': per = std::chrono::hours(24); break;
      case 'w': per = std::chrono::hours(24 * 7); break;
      default: return parse_rfc3339(text);
    }
    return now - std::chrono::duration_cast<TimePoint::duration>(per * n);
  }
  return parse_rfc3339(text);
}

}  // namespace pgw::audit
