// secrets: private key blocks and well-known API credential shapes.
//
//   PEM      -----BEGIN <label>PRIVATE KEY[ BLOCK]----- ... -----END ...-----
//            (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP, plain PKCS#8). Without an
//            END line, the hit runs to the next '"' or the end of the value,
//            so a truncated or JSON-embedded key is still covered.
//   AWS      AKIA / ASIA + 16 [A-Z0-9]              access key ids
//   GitHub   ghp_ gho_ ghs_ ghu_ ghr_ + 36+ [A-Za-z0-9], github_pat_ + 22+ [A-Za-z0-9_]
//   Slack    xoxa- xoxb- xoxp- xoxr- + 10+ [A-Za-z0-9-]
//   Stripe   sk_live_ / rk_live_ + 16+ [A-Za-z0-9]
//   Google   AIza + 35 [A-Za-z0-9_-]
//   JWT      eyJ<b64url>.eyJ<b64url>.<b64url>      (header and payload are JSON objects)
// Every token must stand alone: no token character right before or after it.
//
// Prefilter: every shape starts with one of ten two-byte prefixes. SSE2
// compares sixteen positions at once against the prefixes' first and second
// bytes; the few survivors are checked against a 64 Kbit table of the exact
// pairs, then against the shape itself.
#include <array>
#include <cstdint>
#include <cstring>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask::detail {
namespace {

constexpr std::string_view kPrefixes[] = {"AK", "AS", "AI", "gh", "gi", "xo", "sk", "rk", "ey", "--"};

constexpr uint16_t pair_key(char a, char b) {
  return static_cast<uint16_t>(static_cast<uint8_t>(a) | (static_cast<uint8_t>(b) << 8));
}

constexpr std::array<uint64_t, 65536 / 64> make_pair_table() {
  std::array<uint64_t, 65536 / 64> table{};
  for (std::string_view p : kPrefixes) {
    const uint16_t k = pair_key(p[0], p[1]);
    table[k >> 6] |= uint64_t{1} << (k & 63);
  }
  return table;
}
constexpr std::array<uint64_t, 65536 / 64> kPairTable = make_pair_table();

bool is_token_char(char c) { return is_alnum(c) || c == '_' || c == '-'; }
bool is_b64url(char c) { return is_alnum(c) || c == '_' || c == '-'; }

// The prefixes are a few bytes long: a plain loop beats a call to memcmp.
bool starts_with(std::string_view t, size_t i, std::string_view s) {
  if (i > t.size() || t.size() - i < s.size()) return false;
  for (size_t k = 0; k < s.size(); ++k)
    if (t[i + k] != s[k]) return false;
  return true;
}

// Length of the run of chars satisfying pred, starting at i.
template <typename Pred>
size_t run(std::string_view t, size_t i, Pred pred) {
  size_t j = i;
  while (j < t.size() && pred(t[j])) ++j;
  return j - i;
}

// A token of `min`..`max` body characters after a prefix; returns the end or 0.
template <typename Pred>
size_t token(std::string_view t, size_t body, size_t min, size_t max, Pred pred) {
  const size_t n = run(t, body, pred);
  if (n < min || n > max) return 0;
  const size_t end = body + n;
  if (end < t.size() && is_token_char(t[end])) return 0;
  return end;
}

constexpr size_t kUnbounded = SIZE_MAX;

size_t match_pem(std::string_view t, size_t i) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kDashes = "-----";
  if (!starts_with(t, i, kBegin)) return 0;
  const size_t label = i + kBegin.size();
  const size_t label_end = t.find(kDashes, label);
  if (label_end == std::string_view::npos || label_end - label > 64) return 0;
  const std::string_view name = t.substr(label, label_end - label);
  const bool private_key = name.ends_with("PRIVATE KEY") || name.ends_with("PRIVATE KEY BLOCK");
  if (!private_key) return 0;

  const size_t body = label_end + kDashes.size();
  const size_t end_marker = t.find("-----END ", body);
  const size_t quote = t.substr(0, end_marker).find('"', body);
  if (quote != std::string_view::npos) return quote;
  if (end_marker != std::string_view::npos) {
    const size_t close = t.find(kDashes, end_marker + 9);
    if (close != std::string_view::npos && close - end_marker < 9 + 64) return close + kDashes.size();
  }
  return t.size();
}

size_t match_jwt(std::string_view t, size_t i) {
  // Each part at least "eyJ" + a few characters: '{"a":1}' is 10 in base64.
  constexpr size_t kMinPart = 8;
  size_t p = i;
  for (int part = 0; part < 2; ++part) {
    if (!starts_with(t, p, "eyJ")) return 0;
    const size_t n = run(t, p, is_b64url);
    if (n < kMinPart || at(t, p + n) != '.') return 0;
    p += n + 1;
  }
  const size_t end = p + run(t, p, is_b64url);
  if (at(t, end) == '.') return 0;  // four parts: not a JWS
  return end;
}

size_t match_secret_at(std::string_view t, size_t i) {
  switch (t[i]) {
    case '-':
      return match_pem(t, i);
    case 'A':
      if (starts_with(t, i, "AKIA") || starts_with(t, i, "ASIA"))
        return token(t, i + 4, 16, 16, [](char c) { return is_upper(c) || is_digit(c); });
      if (starts_with(t, i, "AIza")) return token(t, i + 4, 35, 35, is_b64url);
      return 0;
    case 'g':
      if (starts_with(t, i, "github_pat_"))
        return token(t, i + 11, 22, kUnbounded, [](char c) { return is_alnum(c) || c == '_'; });
      if (starts_with(t, i, "gh") && std::strchr("pousr", at(t, i + 2)) != nullptr && at(t, i + 2) != '\0' &&
          at(t, i + 3) == '_')
        return token(t, i + 4, 36, kUnbounded, is_alnum);
      return 0;
    case 'x':
      if (starts_with(t, i, "xox") && std::strchr("abpr", at(t, i + 3)) != nullptr && at(t, i + 3) != '\0' &&
          at(t, i + 4) == '-')
        return token(t, i + 5, 10, kUnbounded, [](char c) { return is_alnum(c) || c == '-'; });
      return 0;
    case 's':
    case 'r':
      if (starts_with(t.substr(i + 1), 0, "k_live_")) return token(t, i + 8, 16, kUnbounded, is_alnum);
      return 0;
    case 'e':
      return match_jwt(t, i);
    default:
      return 0;
  }
}

// Checks the candidate at i; returns where scanning resumes.
size_t try_at(std::string_view t, size_t i, std::vector<Span>& out) {
  const uint16_t k = pair_key(t[i], t[i + 1]);
  if ((kPairTable[k >> 6] >> (k & 63) & 1) == 0) return i + 1;
  // PEM dashes may follow anything; a token may not continue a word.
  if (t[i] != '-' && i > 0 && is_token_char(t[i - 1])) return i + 1;
  if (const size_t end = match_secret_at(t, i)) {
    out.push_back(Span{i, end, Detector::secrets});
    return end;
  }
  return i + 1;
}

#if defined(__SSE2__)
// A byte set as broadcast vectors, built once per scan.
template <size_t N>
struct ByteSet {
  explicit ByteSet(const char (&chars)[N + 1]) {
    for (size_t k = 0; k < N; ++k) v[k] = _mm_set1_epi8(chars[k]);
  }
  // Bit i set when byte i of x is in the set.
  unsigned match(__m128i x) const {
    __m128i m = _mm_cmpeq_epi8(x, v[0]);
    for (size_t k = 1; k < N; ++k) m = _mm_or_si128(m, _mm_cmpeq_epi8(x, v[k]));
    return static_cast<unsigned>(_mm_movemask_epi8(m));
  }
  __m128i v[N];
};
#endif

}  // namespace

void scan_secrets(std::string_view t, std::vector<Span>& out) {
  if (t.size() < 2) return;
  const size_t last = t.size() - 1;  // a candidate needs two bytes
  size_t i = 0;
#if defined(__SSE2__)
  // First and second bytes of the prefixes: a position is a candidate only
  // if its byte is in the first set and the next byte in the second. Sixteen
  // positions per step; the exact pair table decides for the survivors.
  const ByteSet<7> first("Agxsre-");
  const ByteSet<9> second("KSIhioky-");
  while (i + 17 <= t.size()) {
    const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i));
    const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i + 1));
    unsigned bits = first.match(v0) & second.match(v1);
    size_t next = i + 16;
    while (bits != 0) {
      const size_t c = i + static_cast<size_t>(__builtin_ctz(bits));
      bits &= bits - 1;
      const size_t resume = try_at(t, c, out);
      if (resume > c + 1) {  // a hit: go on right after what it covered
        next = resume;
        break;
      }
    }
    i = next;
  }
#endif
  while (i < last) i = try_at(t, i, out);
}

}  // namespace pgw::mask::detail
