#include "engine/server_message_formats.h"

#include <array>
#include <cstring>
#include <vector>

namespace pgw::engine {

namespace {

constexpr const char* kFormats[] = {
#include "engine/pg_message_formats.inc"
};

constexpr std::string_view kFilledIn = "***";

// A format as its literal stretches: conversions sit between consecutive
// literals (so there is one literal more than conversions; literals may be
// empty).
struct Format {
  std::vector<std::string> literals;
  size_t literal_bytes = 0;
};

// The length of the printf conversion at `p` (just after its '%'), or 0.
size_t conversion_length(std::string_view f, size_t p) {
  size_t i = p;
  while (i < f.size() && std::strchr("-+ #0'", f[i]) != nullptr) ++i;
  while (i < f.size() && (f[i] == '*' || (f[i] >= '0' && f[i] <= '9'))) ++i;
  if (i < f.size() && f[i] == '.') {
    ++i;
    while (i < f.size() && (f[i] == '*' || (f[i] >= '0' && f[i] <= '9'))) ++i;
  }
  while (i < f.size() && std::strchr("hlLqjzt", f[i]) != nullptr) ++i;
  if (i >= f.size() || std::strchr("diouxXeEfFgGaAcspm", f[i]) == nullptr) return 0;
  return i + 1 - p;
}

Format parse(std::string_view f) {
  Format out;
  std::string literal;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      literal.push_back(f[i]);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '%') {
      literal.push_back('%');
      ++i;
      continue;
    }
    const size_t n = conversion_length(f, i + 1);
    if (n == 0) {
      literal.push_back('%');  // not a conversion: printf would print it as is
      continue;
    }
    out.literal_bytes += literal.size();
    out.literals.push_back(std::move(literal));
    literal.clear();
    i += n;
  }
  out.literal_bytes += literal.size();
  out.literals.push_back(std::move(literal));
  return out;
}

// Whether `message` is `format` with something filled into each conversion.
bool matches(const Format& format, std::string_view message) {
  const auto& lit = format.literals;
  const std::string& first = lit.front();
  const std::string& last = lit.back();
  if (lit.size() == 1) return message == first;
  if (message.size() < first.size() + last.size()) return false;
  if (message.substr(0, first.size()) != first) return false;
  if (message.substr(message.size() - last.size()) != last) return false;
  // The middle literals in order, each as early as it can be: if any
  // placement exists, this one does.
  size_t pos = first.size();
  const size_t end = message.size() - last.size();
  for (size_t k = 1; k + 1 < lit.size(); ++k) {
    const size_t at = message.substr(0, end).find(lit[k], pos);
    if (at == std::string_view::npos) return false;
    pos = at + lit[k].size();
  }
  return true;
}

bool has_word(const Format& f) {
  int letters = 0;
  for (const std::string& l : f.literals) {
    for (char c : l) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ++letters;
    }
  }
  return letters >= 2;
}

class Catalog {
 public:
  Catalog() {
    for (const char* text : kFormats) {
      Format f = parse(text);
      // A format whose literals hold no word ("%s", "%s: %s", "%s (%s)")
      // would match nearly anything and keep nothing worth reading.
      if (!has_word(f)) continue;
      const size_t index = formats_.size();
      const std::string& first = f.literals.front();
      if (first.empty()) {
        open_start_.push_back(index);
      } else {
        by_first_byte_[static_cast<unsigned char>(first[0])].push_back(index);
      }
      formats_.push_back(std::move(f));
    }
  }

  std::optional<std::string> fixed_wording(std::string_view message) const {
    const Format* best = nullptr;
    auto consider = [&](const std::vector<size_t>& candidates) {
      for (size_t i : candidates) {
        const Format& f = formats_[i];
        if (best != nullptr && f.literal_bytes <= best->literal_bytes) continue;
        if (matches(f, message)) best = &f;
      }
    };
    if (!message.empty()) consider(by_first_byte_[static_cast<unsigned char>(message[0])]);
    consider(open_start_);
    if (best == nullptr) return std::nullopt;
    std::string out;
    for (size_t k = 0; k < best->literals.size(); ++k) {
      // Conversions with nothing between them read as one.
      if (k > 0 && !(k > 1 && best->literals[k - 1].empty())) out.append(kFilledIn);
      out.append(best->literals[k]);
    }
    return out;
  }

 private:
  std::vector<Format> formats_;
  std::array<std::vector<size_t>, 256> by_first_byte_;
  std::vector<size_t> open_start_;  // formats that begin with a conversion
};

}  // namespace

std::optional<std::string> fixed_wording(std::string_view message) {
  static const Catalog catalog;
  return catalog.fixed_wording(message);
}

}  // namespace pgw::engine
