// credit_card: 13-19 digits, either one unbroken run or groups joined by
// single spaces or dashes, that pass the Luhn check.
//
// Why groups matter: a card is usually followed or preceded by other numbers
// ("4111 1111 1111 1111 12/27", "#15 4111111111111111"). The matcher
// collects the groups that follow a run start and tries the longest
// Luhn-valid prefix of whole groups, so the card is found without swallowing
// its neighbours, and a later run start gets its own chance.
#include <cstdint>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask::detail {
namespace {

constexpr size_t kMinDigits = 13;
constexpr size_t kMaxDigits = 19;
// Printed cards group as 4-4-4-4, 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-4-3:
// the first group has four digits, inner groups four or six, the last three
// to six, and one separator kind is used throughout. Requiring that keeps
// runs of unrelated numbers ("2877 36563 2024", "1 2 3 4 5 ...") out, of
// which one in ten would pass Luhn.
constexpr size_t kFirstGroupDigits = 4;
constexpr size_t kMinGroupDigits = 3;
constexpr size_t kMaxGroupDigits = 6;

bool inner_group_ok(size_t len) { return len == 4 || len == 6; }

bool luhn_ok(const uint8_t* digits, size_t n) {
  unsigned sum = 0;
  bool twice = false;
  for (size_t i = n; i-- > 0;) {
    unsigned d = digits[i];
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// "0.4111111111111111" or "4111111111111111.25" is a decimal number, not a
// card; floats with 16+ significant digits are common in JSON.
bool touches_decimal_point(std::string_view t, size_t begin, size_t end) {
  if (begin >= 2 && t[begin - 1] == '.' && is_digit(t[begin - 2])) return true;
  if (at(t, end) == '.' && digit_at(t, end + 1)) return true;
  return false;
}

}  // namespace

bool match_credit_card(std::string_view t, size_t pos, Span& hit) {
  // Most digit runs in text are short numbers: reject them before doing any
  // work. A card starts with an unbroken 13-19 digit run or a 4-digit group.
  size_t run_end = pos;
  while (run_end < t.size() && is_digit(t[run_end])) ++run_end;
  const size_t run = run_end - pos;
  if (run == kFirstGroupDigits) {
    const char sep = at(t, run_end);
    if ((sep != ' ' && sep != '-') || !digit_at(t, run_end + 1)) return false;
  } else if (run < kMinDigits || run > kMaxDigits) {
    return false;
  }

  uint8_t digits[kMaxDigits];
  size_t group_end_digits[kMaxDigits];  // digit count after each group
  size_t group_end_pos[kMaxDigits];     // byte position after each group
  size_t groups = 0;
  size_t count = 0;

  char separator = '\0';
  size_t i = pos;
  for (;;) {
    const size_t g = i;
    while (i < t.size() && is_digit(t[i])) ++i;
    const size_t len = i - g;
    if (count + len > kMaxDigits) {
      if (groups == 0) return false;  // an unbroken run of 20+ digits is no card
      break;
    }
    if (groups > 0 && (len < kMinGroupDigits || len > kMaxGroupDigits)) break;
    for (size_t k = g; k < i; ++k) digits[count++] = static_cast<uint8_t>(digit_value(t[k]));
    group_end_digits[groups] = count;
    group_end_pos[groups] = i;
    ++groups;
    if (groups == 1 && len != kFirstGroupDigits) break;  // only an unbroken run can start otherwise
    const char sep = at(t, i);
    if ((sep == ' ' || sep == '-') && (separator == '\0' || sep == separator) && digit_at(t, i + 1)) {
      separator = sep;
      ++i;
      continue;
    }
    break;
  }

  // Groups 1 .. inner_ok_until-1 all have an inner-group length.
  size_t inner_ok_until = 1;
  while (inner_ok_until < groups &&
         inner_group_ok(group_end_digits[inner_ok_until] - group_end_digits[inner_ok_until - 1]))
    ++inner_ok_until;

  // Try the longest prefix of whole groups first; group k is its last one.
  for (size_t k = groups; k-- > 0;) {
    const size_t n = group_end_digits[k];
    if (n < kMinDigits) break;  // shorter prefixes only get shorter
    if (k > inner_ok_until) continue;  // some group before the last is not 4 or 6 digits
    if (n > kMaxDigits || !luhn_ok(digits, n)) continue;
    if (touches_decimal_point(t, pos, group_end_pos[k])) return false;
    hit = Span{pos, group_end_pos[k], Detector::credit_card};
    return true;
  }
  return false;
}

}  // namespace pgw::mask::detail
