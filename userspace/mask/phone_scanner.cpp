// phone: E.164 and North American (NANP) numbers.
//
// E.164: '+', a first digit 1-9, then 8-15 digits in total, either unbroken
// or in groups joined by single spaces, dashes or dots ("+44 20 7946 0958").
//
// NANP: (NPA) NXX-XXXX, NPA-NXX-XXXX, NPA.NXX.XXXX, NPA NXX XXXX, each
// optionally led by "1-", "1 ", "1.", "+1" or "+1 ". A bare ten-digit run
// counts only after "+1" (alone it is just as likely an order id).
//   NPA (area): [2-9][0-9][0-9], not N11.   NXX (exchange): [2-9][0-9][0-9], not N11.
// (N9X area codes are reserved, not invalid: data holds them, and a missed
// phone number leaks while a masked look-alike only costs a value.)
// Those rules are what keeps "ORD-555-123-4567" or "2024-100-1234" out.
#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask::detail {
namespace {

constexpr size_t kE164MinDigits = 8;
constexpr size_t kE164MaxDigits = 15;

bool is_n11(std::string_view t, size_t p) { return t[p + 1] == '1' && t[p + 2] == '1'; }

bool valid_npa(std::string_view t, size_t p) {
  return t[p] >= '2' && !is_n11(t, p);
}
bool valid_nxx(std::string_view t, size_t p) { return t[p] >= '2' && !is_n11(t, p); }

bool digits_exactly(std::string_view t, size_t from, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!digit_at(t, from + i)) return false;
  return !digit_at(t, from + n);
}

bool is_phone_sep(char c) { return c == '-' || c == '.' || c == ' '; }

// The number must not continue: "415-555-2671-9" or "415.555.26710" is some
// other identifier.
bool ends_cleanly(std::string_view t, size_t end) {
  if (digit_at(t, end)) return false;
  return !(is_phone_sep(at(t, end)) && at(t, end) != ' ' && digit_at(t, end + 1));
}

// NANP body at p: "(NPA) NXX-XXXX" or "NPA-NXX-XXXX". Returns the end or 0.
size_t nanp_body(std::string_view t, size_t p, bool allow_bare) {
  if (at(t, p) == '(') {
    if (!digits_exactly(t, p + 1, 3) || at(t, p + 4) != ')' || !valid_npa(t, p + 1)) return 0;
    size_t q = p + 5;
    if (at(t, q) == ' ') ++q;
    if (!digits_exactly(t, q, 3) || !valid_nxx(t, q)) return 0;
    q += 3;
    if (is_phone_sep(at(t, q))) ++q;
    if (!digits_exactly(t, q, 4)) return 0;
    return ends_cleanly(t, q + 4) ? q + 4 : 0;
  }
  if (allow_bare && digits_exactly(t, p, 10)) {
    if (!valid_npa(t, p) || !valid_nxx(t, p + 3)) return 0;
    return ends_cleanly(t, p + 10) ? p + 10 : 0;
  }
  if (!digits_exactly(t, p, 3)) return 0;
  const char sep = at(t, p + 3);
  if (!is_phone_sep(sep)) return 0;
  if (!digits_exactly(t, p + 4, 3) || at(t, p + 7) != sep || !digits_exactly(t, p + 8, 4)) return 0;
  if (!valid_npa(t, p) || !valid_nxx(t, p + 4)) return 0;
  return ends_cleanly(t, p + 12) ? p + 12 : 0;
}

// E.164 digits from p (just after '+'). Returns the end or 0.
size_t e164_body(std::string_view t, size_t p) {
  if (at(t, p) == '0') return 0;
  size_t count = 0;
  size_t end = 0;
  size_t i = p;
  for (;;) {
    const size_t g = i;
    while (i < t.size() && is_digit(t[i])) ++i;
    if (count + (i - g) > kE164MaxDigits) {
      if (count == 0) return 0;  // one unbroken run that is too long
      break;                     // stop at the last whole group that fits
    }
    count += i - g;
    end = i;
    if (is_phone_sep(at(t, i)) && digit_at(t, i + 1)) {
      ++i;
      continue;
    }
    break;
  }
  return count >= kE164MinDigits ? end : 0;
}

}  // namespace

bool match_phone(std::string_view t, size_t pos, Span& hit) {
  const char before = pos > 0 ? t[pos - 1] : '\0';

  if (before == '+') {
    const size_t plus = pos - 1;
    if (plus > 0 && is_alnum(t[plus - 1])) return false;  // "1+23456789" is arithmetic
    if (t[pos] == '1') {
      size_t q = pos + 1;
      if (is_phone_sep(at(t, q))) ++q;
      if (const size_t end = nanp_body(t, q, /*allow_bare=*/true)) {
        hit = Span{plus, end, Detector::phone};
        return true;
      }
    }
    if (const size_t end = e164_body(t, pos)) {
      hit = Span{plus, end, Detector::phone};
      return true;
    }
    return false;
  }

  // "(415) 555-2671", but not the call f(415) 555-2671. Otherwise the
  // parenthesis is only punctuation: "(415.555.2671)".
  if (before == '(' && !(pos >= 2 && is_alnum(t[pos - 2]))) {
    if (const size_t end = nanp_body(t, pos - 1, false)) {
      hit = Span{pos - 1, end, Detector::phone};
      return true;
    }
  }

  // A number glued to an earlier one by a separator is a piece of something
  // longer ("12-415-555-2671", "10.415.555.2671").
  if (pos >= 2 && (before == '-' || before == '.') && is_digit(t[pos - 2])) return false;

  // "1-415-555-2671", "1 (415) 555-2671"
  if (t[pos] == '1' && is_phone_sep(at(t, pos + 1))) {
    if (const size_t end = nanp_body(t, pos + 2, false)) {
      hit = Span{pos, end, Detector::phone};
      return true;
    }
    return false;
  }
  if (const size_t end = nanp_body(t, pos, false)) {
    hit = Span{pos, end, Detector::phone};
    return true;
  }
  return false;
}

}  // namespace pgw::mask::detail
