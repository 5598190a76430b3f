// The individual scanners behind detector.h (internal to pgw_mask).
//
// The four digit-anchored detectors are written as matchers called at the
// start of each run of ASCII digits, so DetectorSet can drive all of them
// from one walk over the text. A matcher may report a hit that begins a few
// bytes before the run ('+', '(', an IBAN's country code).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "mask/detector.h"

namespace pgw::mask::detail {

// `pos` is the first digit of a digit run (text[pos - 1] is not a digit).
// The may_be_* gates are cheap necessary conditions on that run (its length,
// the byte before it), checked before the matcher: most digit runs in text
// are prices, dates and counts that no matcher needs to look at.
inline bool may_be_card(size_t run) { return run == 4 || (run >= 13 && run <= 19); }
inline bool may_be_ssn(size_t run) { return run == 3 || run == 9; }
inline bool may_be_phone(std::string_view text, size_t pos, size_t run) {
  const char before = pos > 0 ? text[pos - 1] : '\0';
  return before == '+' || before == '(' || run == 3 || (run == 1 && text[pos] == '1');
}
inline bool may_be_iban(std::string_view text, size_t pos) {
  return pos >= 2 && static_cast<unsigned char>(text[pos - 2] - 'A') < 26 &&
         static_cast<unsigned char>(text[pos - 1] - 'A') < 26;
}

bool match_credit_card(std::string_view text, size_t pos, Span& hit);
bool match_us_ssn(std::string_view text, size_t pos, Span& hit);
bool match_phone(std::string_view text, size_t pos, Span& hit);
bool match_iban(std::string_view text, size_t pos, Span& hit);

void scan_email(std::string_view text, std::vector<Span>& out);
void scan_secrets(std::string_view text, std::vector<Span>& out);

// Where a valid e-mail domain that starts at `from` ends, or 0 when there is
// none. Shared with the `email` mask function, which must agree with the
// detector on what an address is.
size_t email_domain_end(std::string_view text, size_t from);
bool is_email_local_char(char c);

}  // namespace pgw::mask::detail
