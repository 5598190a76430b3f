// parse_mask_spec: the `with:` strings of the config file, and their
// canonical spelling (MaskSpec::to_string). The grammar is written down once,
// in mask_function.h.
//
// A tiny hand-written parser: five names and two argument forms, and each
// mistake gets a sentence that names what was expected.
#include <charconv>
#include <optional>

#include "common/quote.h"
#include "mask/mask_function.h"
#include "mask/scan_text.h"

namespace pgw::mask {
namespace {

constexpr std::string_view kExpected =
    "expected one of redact | partial(first=N,last=M) | hash | null | fixed('TEXT') | email";

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
  // A run of letters, digits and '_' (after spaces).
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

Result<MaskSpec> parse_partial(Cursor& in) {
  static const std::string kUsage = "partial needs first=N, last=M or both, as in partial(last=4)";
  MaskSpec spec;
  spec.kind = MaskSpec::Kind::partial;
  if (!in.eat('(') || in.peek(')')) return make_error(kUsage);
  bool seen_first = false, seen_last = false;
  do {
    const std::string_view key = in.word();
    if (key != "first" && key != "last") {
      return make_error("partial: expected first=N or last=M, got " + quote_for_message(key.empty() ? in.rest() : key));
    }
    bool& seen = key == "first" ? seen_first : seen_last;
    if (seen) return make_error("partial: " + std::string(key) + " is given twice");
    seen = true;
    if (!in.eat('=')) return make_error("partial: expected '=' after " + std::string(key));
    const std::string_view digits = in.word();
    uint32_t n = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || n > kMaxPartialKeep) {
      return make_error("partial: " + std::string(key) + " must be an integer 0.." + std::to_string(kMaxPartialKeep) +
                        ", got " + quote_for_message(digits.empty() ? in.rest() : digits));
    }
    (key == "first" ? spec.first : spec.last) = n;
  } while (in.eat(','));
  if (!in.eat(')')) return make_error("partial: expected ',' or ')' before " + quote_for_message(in.rest()));
  return spec;
}

Result<MaskSpec> parse_fixed(Cursor& in) {
  static const std::string kUsage = "fixed: expected a text in single quotes, as in fixed('N/A')";
  if (!in.eat('(') || !in.peek('\'')) return make_error(kUsage);
  in.eat('\'');
  MaskSpec spec;
  spec.kind = MaskSpec::Kind::fixed;
  for (;;) {
    char c;
    if (!in.next_raw(c)) return make_error("fixed: the quoted text is not closed (a quote inside is written '')");
    if (c == '\'') {
      if (!in.peek_raw('\'')) break;
      in.next_raw(c);
    }
    // PostgreSQL text cannot hold NUL, and a client would cut the value there.
    if (c == '\0') return make_error("fixed: the text must not contain a NUL byte");
    spec.fixed_text.push_back(c);
  }
  if (spec.fixed_text.size() > kMaxFixedText) {
    return make_error("fixed: the text is longer than " + std::to_string(kMaxFixedText) + " bytes");
  }
  if (!in.eat(')')) return make_error(kUsage);
  return spec;
}

}  // namespace

Result<MaskSpec> parse_mask_spec(std::string_view text) {
  Cursor in(text);
  if (in.at_end()) return make_error("empty mask function; " + std::string(kExpected));
  const std::string_view name = in.word();

  Result<MaskSpec> spec = MaskSpec{};
  if (name == "redact" || name == "hash" || name == "null" || name == "email") {
    using Kind = MaskSpec::Kind;
    spec->kind = name == "redact" ? Kind::redact : name == "hash" ? Kind::hash : name == "null" ? Kind::null : Kind::email;
    if (in.peek('(')) return make_error("mask function " + std::string(name) + " takes no arguments");
  } else if (name == "partial") {
    spec = parse_partial(in);
  } else if (name == "fixed") {
    spec = parse_fixed(in);
  } else {
    std::string message = "unknown mask function " + quote_for_message(name.empty() ? text : name);
    const std::string folded = lower(name);
    for (std::string_view known : {"redact", "partial", "hash", "null", "fixed", "email"}) {
      if (folded == known) {
        message += " (names are lower case: did you mean \"" + std::string(known) + "\"?)";
        break;
      }
    }
    return make_error(message + "; " + std::string(kExpected));
  }
  if (!spec) return spec;
  if (!in.at_end()) {
    return make_error("unexpected " + quote_for_message(in.rest()) + " after mask function " + std::string(name));
  }
  return spec;
}

std::string MaskSpec::to_string() const {
  switch (kind) {
    case Kind::redact: return "redact";
    case Kind::hash: return "hash";
    case Kind::null: return "null";
    case Kind::email: return "email";
    case Kind::partial: {
      std::string s = "partial(";
      if (first != 0) s += "first=" + std::to_string(first);
      if (first != 0 && last != 0) s += ',';
      if (last != 0 || first == 0) s += "last=" + std::to_string(last);
      s += ')';
      return s;
    }
    case Kind::fixed: {
      std::string s = "fixed('";
      for (char c : fixed_text) {
        if (c == '\'') s += '\'';
        s += c;
      }
      s += "')";
      return s;
    }
  }
  return "redact";
}

}  // namespace pgw::mask
