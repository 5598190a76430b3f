// Small helpers for the detector tests: hits as strings, and Luhn-valid
// card numbers built on demand rather than copied from somewhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mask/detector.h"

namespace pgw::mask::testing {

inline std::vector<std::string> hits(Detector d, std::string_view text) {
  std::vector<Span> spans;
  scan(d, text, spans);
  std::vector<std::string> out;
  for (const Span& s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

inline std::vector<std::string> hits(const DetectorSet& set, std::string_view text) {
  std::vector<Span> spans;
  set.scan(text, spans);
  std::vector<std::string> out;
  for (const Span& s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

using Hits = std::vector<std::string>;

// Appends the Luhn check digit to a string of digits.
inline std::string with_luhn(std::string digits) {
  int sum = 0;
  bool twice = true;  // the check digit will be at the end, so the last payload digit is doubled
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  digits.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return digits;
}

// The same number with its last digit changed: fails Luhn.
inline std::string break_luhn(std::string digits) {
  char& c = digits.back();
  c = c == '9' ? '0' : static_cast<char>(c + 1);
  return digits;
}

}  // namespace pgw::mask::testing
