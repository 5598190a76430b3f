// Mask functions: what a masked value becomes.
//
//   redact                 one '*' per character (code point)
//   partial(first=N,last=M) keeps the first N and last M letters/digits,
//                          replaces the other letters/digits with '*' and keeps
//                          punctuation and spaces, so the shape survives:
//                          partial(last=4) of 123-45-6789 is ***-**-6789
//   hash                   "h:" + 16 lower-case hex digits of
//                          HMAC-SHA256(key, value): stable per key, so masked
//                          values still join and group
//   null                   SQL NULL
//   fixed('TEXT')          the text TEXT ('' inside the quotes is one quote)
//   email                  j***@example.com: the first character of the local
//                          part, '*' for the rest of it, the domain as is; a
//                          value that is not one address falls back to redact
//
// Character rules (README.md has the reasoning): "letters/digits" for partial
// are ASCII letters and digits plus every non-ASCII character; multi-byte
// characters are never split. When partial would keep every letter and digit
// of a value (the value is too short for the N+M it keeps) it keeps none:
// a masked value never equals the raw one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::mask {

class KeyedHash;

class MaskFunction {
 public:
  enum class Kind : uint8_t { redact, partial, hash, null, fixed, email };

  // redact: the safe default.
  MaskFunction() = default;

  static MaskFunction redact();
  static MaskFunction partial(uint32_t first, uint32_t last);
  static MaskFunction hash(std::shared_ptr<const KeyedHash> key);
  static MaskFunction null();
  static MaskFunction fixed(std::string text);
  static MaskFunction email();

  Kind kind() const { return kind_; }
  uint32_t keep_first() const { return first_; }
  uint32_t keep_last() const { return last_; }
  const std::string& fixed_text() const { return text_; }

  // nullopt is SQL NULL.
  std::optional<std::string> apply(std::string_view value) const;

  // The hot-path form: appends the masked value to `out` and returns true, or
  // returns false (out untouched) when the result is NULL.
  bool apply_into(std::string_view value, std::string& out) const;

  // The canonical config spelling, e.g. "partial(first=0,last=4)".
  std::string describe() const;

 private:
  Kind kind_ = Kind::redact;
  uint32_t first_ = 0;
  uint32_t last_ = 0;
  std::string text_;
  std::shared_ptr<const KeyedHash> key_;
};

// Largest N or M partial accepts; beyond it the number is surely a typo.
inline constexpr uint32_t kMaxPartialKeep = 1000;

// Parses a config string (redact, partial(first=2, last=4), hash, null,
// fixed('n/a'), email). Names are case-insensitive, spaces are allowed
// around names, parentheses, '=' and ','. `hash_key` is the secret the hash
// function is keyed with; parsing `hash` without one is an error.
Result<MaskFunction> parse_mask_function(std::string_view spec, std::string_view hash_key = {});
// Same, sharing one key (and its precomputed HMAC state) between functions.
Result<MaskFunction> parse_mask_function(std::string_view spec, std::shared_ptr<const KeyedHash> hash_key);

}  // namespace pgw::mask
