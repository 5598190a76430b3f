// Byte-level helpers shared by the content scanners (internal to pgw_mask).
//
// The scanners look at raw bytes, not code points: every pattern they know is
// ASCII, and a byte >= 0x80 is never an ASCII digit or letter, so UTF-8 text
// needs no decoding to be scanned and a hit never starts or ends inside a
// multi-byte character.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pgw::mask::detail {

inline bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
inline bool is_upper(char c) { return static_cast<unsigned char>(c - 'A') < 26; }
inline bool is_lower(char c) { return static_cast<unsigned char>(c - 'a') < 26; }
inline bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
inline bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
inline bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
inline int digit_value(char c) { return c - '0'; }

inline char at(std::string_view t, size_t i) { return i < t.size() ? t[i] : '\0'; }
inline bool digit_at(std::string_view t, size_t i) { return i < t.size() && is_digit(t[i]); }

// First ASCII digit in [p, end), or end. Digits are the anchor of four of the
// six detectors, and most of any text is not digits, so this loop is where
// the scanners spend their time: 16 bytes per step where SSE2 is available
// (always, on x86-64).
inline const char* find_digit(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i below = _mm_set1_epi8('0' - 1);
  const __m128i above = _mm_set1_epi8('9' + 1);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compares: bytes >= 0x80 are negative, so never "above '0'-1".
    const __m128i m = _mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, above));
    const unsigned bits = static_cast<unsigned>(_mm_movemask_epi8(m));
    if (bits != 0) return p + __builtin_ctz(bits);
    p += 16;
  }
#endif
  while (p != end && !is_digit(*p)) ++p;
  return p;
}

// Calls f(pos, run_end) for every run of ASCII digits [pos, run_end) (the
// byte before pos is not a digit). f returns the position scanning resumes
// from (at least run_end): a matcher that consumed a hit skips past it.
template <typename F>
void for_each_digit_run(std::string_view text, F&& f) {
  const char* const base = text.data();
  const char* const end = base + text.size();
  const char* p = base;
  while ((p = find_digit(p, end)) != end) {
    const char* run_end = p + 1;
    while (run_end != end && is_digit(*run_end)) ++run_end;
    const size_t resume = f(static_cast<size_t>(p - base), static_cast<size_t>(run_end - base));
    p = base + resume;
    while (p < end && is_digit(*p)) ++p;  // never start inside a digit run
  }
}

}  // namespace pgw::mask::detail
