// us_ssn: AAA-GG-SSSS or AAA GG SSSS (one separator kind), and a bare
// AAAGGSSSS only where the text around it names it as an SSN.
//
// Validity (SSA rules since 2011 randomisation): area not 000, 666 or
// 900-999; group not 00; serial not 0000.
//
// The bare nine-digit form is ambiguous: order ids, ZIP+4 without the dash,
// phone numbers without an area code all look the same, and masking every
// nine-digit number would ruin ordinary results. So it counts only when
// "ssn" or "social" appears within the few bytes before it ("SSN 123456789",
// {"ssn": "123456789"}, "social security no. 123456789"). A column that holds
// bare SSNs is the job of a column rule, not of the detector.
#include <algorithm>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask::detail {
namespace {

constexpr size_t kContextWindow = 24;

int number(std::string_view t, size_t from, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + digit_value(t[from + i]);
  return v;
}

bool digits_exactly(std::string_view t, size_t from, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!digit_at(t, from + i)) return false;
  return !digit_at(t, from + n);
}

bool valid_parts(int area, int group, int serial) {
  if (area == 0 || area == 666 || area >= 900) return false;
  return group != 0 && serial != 0;
}

// A dash, dot or slash glued to more digits means the SSN shape is a piece of
// a longer number ("1-123-45-6789", "2024.123.45.6789"). A space does not:
// "Apt 12 123 45 6789" still holds an SSN, and missing one is worse than
// masking a few digits of a long spaced number.
bool is_number_glue(char c) { return c == '-' || c == '.' || c == '/'; }

bool ascii_lower_contains(std::string_view hay, std::string_view needle) {
  if (hay.size() < needle.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && (hay[i + k] | 0x20) == needle[k]) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

bool named_as_ssn(std::string_view t, size_t pos) {
  const size_t from = pos > kContextWindow ? pos - kContextWindow : 0;
  const std::string_view before = t.substr(from, pos - from);
  return ascii_lower_contains(before, "ssn") || ascii_lower_contains(before, "social");
}

}  // namespace

bool match_us_ssn(std::string_view t, size_t pos, Span& hit) {
  if (pos >= 2 && t[pos - 1] == '.' && is_digit(t[pos - 2])) return false;  // decimal fraction

  if (digits_exactly(t, pos, 3)) {
    const char sep = at(t, pos + 3);
    if (sep != '-' && sep != ' ') return false;
    if (!digits_exactly(t, pos + 4, 2) || at(t, pos + 6) != sep || !digits_exactly(t, pos + 7, 4)) return false;
    const size_t end = pos + 11;
    if (pos >= 2 && is_number_glue(t[pos - 1]) && is_digit(t[pos - 2])) return false;
    if (is_number_glue(at(t, end)) && digit_at(t, end + 1)) return false;
    if (!valid_parts(number(t, pos, 3), number(t, pos + 4, 2), number(t, pos + 7, 4))) return false;
    hit = Span{pos, end, Detector::us_ssn};
    return true;
  }

  if (digits_exactly(t, pos, 9)) {
    const size_t end = pos + 9;
    if (at(t, end) == '.' && digit_at(t, end + 1)) return false;
    if (!valid_parts(number(t, pos, 3), number(t, pos + 3, 2), number(t, pos + 5, 4))) return false;
    if (!named_as_ssn(t, pos)) return false;
    hit = Span{pos, end, Detector::us_ssn};
    return true;
  }
  return false;
}

}  // namespace pgw::mask::detail
