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

// What a mask rule's `with:` says: the function and its arguments, before
// any key is attached. The config file's grammar (the only one):
//
//   redact | hash | null | email | partial(first=N,last=M) | fixed('TEXT')
//
// - names are lower case, as every word of the config file is ("Redact" is
//   an error that suggests "redact");
// - spaces are allowed around names, parentheses, '=' and ','; nothing else
//   may follow; the four names without arguments take no parentheses;
// - partial takes first=N, last=M or both, in either order, each once; N and
//   M are whole numbers from 0 to kMaxPartialKeep;
// - fixed takes one single-quoted text ('' inside is one quote) of at most
//   kMaxFixedText bytes, without NUL (PostgreSQL text cannot hold one).
struct MaskSpec {
  enum class Kind : uint8_t { redact, partial, hash, null, fixed, email };
  Kind kind = Kind::redact;
  uint32_t first = 0;       // partial: characters kept at the start
  uint32_t last = 0;        // partial: characters kept at the end
  std::string fixed_text;   // fixed('TEXT')

  // The canonical spelling, which parses back to the same spec:
  // "partial(last=4)", "partial(first=2,last=4)", "fixed('it''s')".
  std::string to_string() const;
  friend bool operator==(const MaskSpec&, const MaskSpec&) = default;
};

// Largest N or M partial accepts: a value longer than that is not masked by
// keeping its ends; beyond it the number is surely a typo.
inline constexpr uint32_t kMaxPartialKeep = 1024;
// Longest text fixed() accepts, in bytes.
inline constexpr size_t kMaxFixedText = 1024;

// The grammar above; an error is one sentence saying what was expected.
Result<MaskSpec> parse_mask_spec(std::string_view text);

class MaskFunction {
 public:
  using Kind = MaskSpec::Kind;

  // redact: the safe default.
  MaskFunction() = default;

  // The function a spec describes. `hash` needs the key it is keyed with
  // (shared, with its precomputed HMAC state, between the functions of one
  // config); the others ignore it.
  static Result<MaskFunction> from_spec(const MaskSpec& spec, std::shared_ptr<const KeyedHash> hash_key = nullptr);

  static MaskFunction redact();
  static MaskFunction partial(uint32_t first, uint32_t last);
  static MaskFunction hash(std::shared_ptr<const KeyedHash> key);
  static MaskFunction null();
  static MaskFunction fixed(std::string text);
  static MaskFunction email();

  Kind kind() const { return spec_.kind; }
  const MaskSpec& spec() const { return spec_; }

  // Whether the result can carry characters of the value as they are: the
  // domain `email` keeps, the ends `partial` keeps. Such a result is scanned
  // by the policy's detectors like any other text the client sees
  // (ColumnRule::kept_hit_function).
  bool keeps_part_of_value() const {
    return spec_.kind == Kind::email || (spec_.kind == Kind::partial && (spec_.first > 0 || spec_.last > 0));
  }

  // nullopt is SQL NULL.
  std::optional<std::string> apply(std::string_view value) const;

  // The hot-path form: appends the masked value to `out` and returns true, or
  // returns false (out untouched) when the result is NULL.
  bool apply_into(std::string_view value, std::string& out) const;

  // The config spelling, e.g. "partial(last=4)".
  std::string describe() const { return spec_.to_string(); }

 private:
  MaskSpec spec_;
  std::shared_ptr<const KeyedHash> key_;
};

}  // namespace pgw::mask
