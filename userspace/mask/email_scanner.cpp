// email: local@domain.tld, a practical subset of RFC 5322 / 6531.
//
//   local part: ASCII letters, digits and . _ % + -, and any non-ASCII byte
//               (internationalised addresses); leading dots are dropped;
//   domain:     labels of letters, digits, '-' and non-ASCII bytes joined by
//               single dots, at least two labels; the last one (the TLD) is
//               two or more ASCII letters, or entirely non-ASCII (IDN TLD).
// Quoted local parts and IP-literal domains are not recognised.
//
// The prefilter is memchr('@'). Each byte is looked at a bounded number of
// times: the local part is scanned leftwards only up to the previous '@' (an
// '@' is never a local-part byte) or the previous hit, and a domain
// rightwards only once.
#include <cstring>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask::detail {
namespace {

bool is_domain_char(char c) { return is_alnum(c) || c == '-' || is_non_ascii(c); }

bool is_tld(std::string_view label) {
  if (label.size() < 2) return false;
  bool all_alpha = true;
  bool all_non_ascii = true;
  for (char c : label) {
    all_alpha = all_alpha && is_alpha(c);
    all_non_ascii = all_non_ascii && is_non_ascii(c);
  }
  return all_alpha || all_non_ascii;
}

}  // namespace

bool is_email_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || is_non_ascii(c);
}

size_t email_domain_end(std::string_view t, size_t from) {
  size_t i = from;
  size_t labels = 0;
  size_t best_end = 0;  // end of the last label that could be a TLD
  for (;;) {
    const size_t label_begin = i;
    while (i < t.size() && is_domain_char(t[i])) ++i;
    if (i == label_begin) break;
    ++labels;
    if (labels >= 2) {
      if (is_tld(t.substr(label_begin, i - label_begin))) {
        best_end = i;
      } else {
        // "example.com。" or "example.comです": CJK text often follows an
        // address without a space; the ASCII letters still end it.
        size_t letters = label_begin;
        while (letters < i && is_alpha(t[letters])) ++letters;
        if (letters - label_begin >= 2 && is_non_ascii(t[letters])) return letters;
      }
    }
    if (at(t, i) == '.' && i + 1 < t.size() && is_domain_char(t[i + 1])) {
      ++i;
      continue;
    }
    break;
  }
  return best_end;
}

void scan_email(std::string_view t, std::vector<Span>& out) {
  size_t floor = 0;  // nothing before this may join a new hit
  size_t from = 0;
  while (from < t.size()) {
    const void* found = std::memchr(t.data() + from, '@', t.size() - from);
    if (found == nullptr) return;
    const size_t at_pos = static_cast<size_t>(static_cast<const char*>(found) - t.data());
    from = at_pos + 1;

    size_t begin = at_pos;
    while (begin > floor && is_email_local_char(t[begin - 1])) --begin;
    while (begin < at_pos && t[begin] == '.') ++begin;
    if (begin == at_pos) continue;

    const size_t end = email_domain_end(t, at_pos + 1);
    if (end == 0) continue;
    out.push_back(Span{begin, end, Detector::email});
    floor = from = end;
  }
}

}  // namespace pgw::mask::detail
