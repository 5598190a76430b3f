#include "policy/config_values.h"

#include "common/quote.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <vector>

namespace pgw::policy {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Leading decimal digits of `s` as a number; `rest` gets what follows.
bool leading_uint(std::string_view s, uint64_t& value, std::string_view& rest) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data()) return false;
  rest = s.substr(static_cast<size_t>(end - s.data()));
  return true;
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error("expected a duration such as 250ms, 30s, 5m or 1h, got " +
                      quote_for_message(text));
  };
  uint64_t n = 0;
  std::string_view unit;
  if (!leading_uint(trim(text), n, unit)) return bad();
  uint64_t factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else return bad();
  uint64_t ms = 0;
  // A week is far beyond any timeout pgwarden has; larger is a typo.
  if (!checked_mul(n, factor, ms) || ms > 7ull * 24 * 3'600'000) {
    return make_error("duration " + quote_for_message(text) + " is longer than a week");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Result<uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return make_error("expected a size such as 64MiB, 512kB or 4096 (bytes), got " +
                      quote_for_message(text));
  };
  uint64_t n = 0;
  std::string_view unit;
  if (!leading_uint(trim(text), n, unit)) return bad();
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 10> kUnits = {{
      {"", 1}, {"B", 1}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000'000}, {"GB", 1000'000'000},
      {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"b", 1},
  }};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      uint64_t bytes = 0;
      if (!checked_mul(n, factor, bytes)) return bad();
      return bytes;
    }
  }
  return bad();
}

Result<std::string> parse_function_name(std::string_view text) {
  auto bad = [&] {
    return make_error("expected function:NAME or function:SCHEMA.NAME (unquoted identifiers), "
                      "got " + quote_for_message("function:" + std::string(text)));
  };
  if (text.empty() || text.size() > 127) return bad();
  std::string out;
  bool at_start = true;
  for (char c : text) {
    if (c == '.') {
      if (at_start) return bad();
      at_start = true;
      out += c;
      continue;
    }
    if (at_start ? !is_ident_start(c) : !is_ident_char(c)) return bad();
    at_start = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (at_start) return bad();  // trailing dot
  if (std::count(out.begin(), out.end(), '.') > 1) return bad();
  return out;
}

Status check_http_url(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("http://")) rest = text.substr(7);
  else if (text.starts_with("https://")) rest = text.substr(8);
  else return make_error("expected an http:// or https:// URL, got " + quote_for_message(text));
  size_t host_end = rest.find_first_of("/?#");
  std::string_view host = rest.substr(0, host_end);
  bool bad_char = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
  if (host.empty() || bad_char) {
    return make_error("expected an http:// or https:// URL with a host, got " +
                      quote_for_message(text));
  }
  return ok_status();
}

std::string_view closest_match(std::string_view word,
                               std::span<const std::string_view> candidates) {
  // Levenshtein distance with two rows; words here are short config keys.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  if (word.size() > 64) return {};
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (std::string_view c : candidates) {
    size_t d = distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace pgw::policy
