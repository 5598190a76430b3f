// parse_mask_function: the `with:` strings of the policy file.
//
// A tiny hand-written parser: the grammar is five names and two argument
// forms, and each mistake gets a sentence that names what was expected.
#include <charconv>
#include <optional>

#include "mask/keyed_hash.h"
#include "mask/mask_function.h"
#include "mask/scan_text.h"

namespace pgw::mask {
namespace {

constexpr std::string_view kExpected =
    "expected redact, partial(first=N,last=M), hash, null, fixed('TEXT') or email";

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  void skip_spaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    skip_spaces();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  std::string_view word() {
    skip_spaces();
    const size_t b = i_;
    while (i_ < s_.size() && (detail::is_alnum(s_[i_]) || s_[i_] == '_')) ++i_;
    return s_.substr(b, i_ - b);
  }
  bool at_end() {
    skip_spaces();
    return i_ == s_.size();
  }
  bool peek(char c) {
    skip_spaces();
    return i_ < s_.size() && s_[i_] == c;
  }
  std::string_view rest() const { return s_.substr(i_); }
  // Raw access for the quoted text of fixed(), where spaces count.
  bool next_raw(char& c) {
    if (i_ == s_.size()) return false;
    c = s_[i_++];
    return true;
  }
  bool peek_raw(char c) const { return i_ < s_.size() && s_[i_] == c; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (detail::is_upper(c)) c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Result<MaskFunction> no_arguments(Cursor& in, const std::string& name, MaskFunction f) {
  if (in.eat('(')) {
    if (!in.eat(')')) return make_error("mask function " + name + " takes no arguments");
  }
  return f;
}

Result<MaskFunction> parse_partial(Cursor& in) {
  static const std::string kUsage = "partial needs first=N and/or last=M, e.g. partial(last=4)";
  if (!in.eat('(')) return make_error(kUsage);
  std::optional<uint32_t> first;
  std::optional<uint32_t> last;
  if (in.eat(')')) return make_error(kUsage);
  do {
    const std::string key = lower(in.word());
    if (key != "first" && key != "last") {
      return make_error("partial: unknown argument '" + key + "' (expected first or last)");
    }
    std::optional<uint32_t>& slot = key == "first" ? first : last;
    if (slot) return make_error("partial: '" + key + "' is given twice");
    if (!in.eat('=')) return make_error("partial: expected '=' after " + key);
    const std::string_view digits = in.word();
    uint32_t n = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || n > kMaxPartialKeep) {
      return make_error("partial: " + key + " must be a whole number from 0 to " + std::to_string(kMaxPartialKeep) +
                        ", got '" + std::string(digits) + "'");
    }
    slot = n;
  } while (in.eat(','));
  if (!in.eat(')')) return make_error("partial: expected ',' or ')' before '" + std::string(in.rest()) + "'");
  return MaskFunction::partial(first.value_or(0), last.value_or(0));
}

Result<MaskFunction> parse_fixed(Cursor& in) {
  static const std::string kUsage = "fixed needs one single-quoted text, e.g. fixed('n/a')";
  if (!in.eat('(') || !in.peek('\'')) return make_error(kUsage);
  in.eat('\'');
  std::string text;
  for (;;) {
    char c;
    if (!in.next_raw(c)) return make_error("fixed: the quoted text is not closed (a quote inside is written '')");
    if (c == '\'') {
      if (in.peek_raw('\'')) {
        in.next_raw(c);
        text.push_back('\'');
        continue;
      }
      break;
    }
    // PostgreSQL text cannot hold NUL, and a client would cut the value there.
    if (c == '\0') return make_error("fixed: the text must not contain a NUL byte");
    text.push_back(c);
  }
  if (!in.eat(')')) return make_error(kUsage);
  return MaskFunction::fixed(std::move(text));
}

Result<MaskFunction> parse(std::string_view spec, const std::shared_ptr<const KeyedHash>& key, bool key_given) {
  Cursor in(spec);
  if (in.at_end()) return make_error("empty mask function (" + std::string(kExpected) + ")");
  const std::string name = lower(in.word());

  Result<MaskFunction> f = make_error("");
  if (name == "redact") {
    f = no_arguments(in, name, MaskFunction::redact());
  } else if (name == "null") {
    f = no_arguments(in, name, MaskFunction::null());
  } else if (name == "email") {
    f = no_arguments(in, name, MaskFunction::email());
  } else if (name == "hash") {
    if (!key_given) return make_error("mask function hash needs a key, and no hash key is configured");
    f = no_arguments(in, name, MaskFunction::hash(key));
  } else if (name == "partial") {
    f = parse_partial(in);
  } else if (name == "fixed") {
    f = parse_fixed(in);
  } else {
    const std::string shown = name.empty() ? std::string(spec) : name;
    return make_error("unknown mask function '" + shown + "' (" + std::string(kExpected) + ")");
  }
  if (!f) return f;
  if (!in.at_end()) return make_error("unexpected '" + std::string(in.rest()) + "' after mask function " + name);
  return f;
}

}  // namespace

Result<MaskFunction> parse_mask_function(std::string_view spec, std::string_view hash_key) {
  // Build the key only when it is needed: a KeyedHash holds OpenSSL state.
  Cursor probe(spec);
  if (lower(probe.word()) == "hash" && !hash_key.empty()) {
    Result<std::shared_ptr<const KeyedHash>> key = KeyedHash::create(hash_key);
    if (!key) return make_error(key.error());
    return parse(spec, *key, true);
  }
  return parse(spec, nullptr, false);
}

Result<MaskFunction> parse_mask_function(std::string_view spec, std::shared_ptr<const KeyedHash> hash_key) {
  const bool given = hash_key != nullptr;
  return parse(spec, hash_key, given);
}

}  // namespace pgw::mask
