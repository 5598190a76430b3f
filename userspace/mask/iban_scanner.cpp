// iban: two-letter country code, two check digits, the BBAN; electronic form
// (unbroken) or print form (single spaces, usually every four characters).
//
// A candidate must have the exact length the IBAN registry gives its country
// and pass ISO 7064 mod-97-10. Requiring a registered country and its length
// (not just 15-34 characters) is what keeps upper-case hex ids and part
// numbers out: random alphanumerics would otherwise pass mod-97 one time in 97.
// Letters must be upper case, as in the registry's formats.
#include <array>
#include <cstdint>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask::detail {
namespace {

constexpr size_t kMaxIban = 34;

struct CountryLength {
  char code[3];
  uint8_t length;
};

// SWIFT IBAN registry (2024), plus the territories that use their own code.
constexpr CountryLength kCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
    {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    {"YE", 30},
};

// 26 x 26 table: expected length by country code, 0 when not an IBAN country.
constexpr std::array<uint8_t, 26 * 26> make_length_table() {
  std::array<uint8_t, 26 * 26> table{};
  for (const CountryLength& c : kCountries) table[(c.code[0] - 'A') * 26 + (c.code[1] - 'A')] = c.length;
  return table;
}
constexpr std::array<uint8_t, 26 * 26> kLengthByCountry = make_length_table();

bool is_iban_char(char c) { return is_upper(c) || is_digit(c); }

bool mod97_ok(const char* iban, size_t n) {
  unsigned r = 0;
  // Move the first four characters to the end, letters count as 10..35.
  for (size_t k = 0; k < n; ++k) {
    const char c = iban[(k + 4) % n];
    r = is_digit(c) ? (r * 10 + static_cast<unsigned>(digit_value(c))) % 97
                    : (r * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
  }
  return r == 1;
}

}  // namespace

bool match_iban(std::string_view t, size_t pos, Span& hit) {
  if (pos < 2 || !is_upper(t[pos - 2]) || !is_upper(t[pos - 1]) || !digit_at(t, pos + 1)) return false;
  const size_t begin = pos - 2;
  if (begin > 0 && (is_alnum(t[begin - 1]) || t[begin - 1] == '_')) return false;
  const size_t length = kLengthByCountry[(t[begin] - 'A') * 26 + (t[begin + 1] - 'A')];
  if (length == 0) return false;

  char iban[kMaxIban];
  size_t n = 0;
  size_t i = begin;
  while (n < length) {
    const char c = at(t, i);
    if (is_iban_char(c)) {
      iban[n++] = c;
      ++i;
    } else if (c == ' ' && n >= 4 && is_iban_char(at(t, i + 1))) {
      ++i;
    } else {
      return false;
    }
  }
  if (i < t.size() && (is_alnum(t[i]) || t[i] == '_')) return false;  // longer token
  if (!mod97_ok(iban, n)) return false;
  hit = Span{begin, i, Detector::iban};
  return true;
}

}  // namespace pgw::mask::detail
