#include "policy/glob.h"

#include <algorithm>

namespace pgw::policy {
namespace {

constexpr size_t kNone = std::string_view::npos;

// One segment against one segment pattern, with * and ?. The classic greedy
// wildcard walk: remember the last *, and on a mismatch let it absorb one
// more character. Correct because * is the only variable-length element.
bool segment_match(std::string_view pat, std::string_view txt) {
  size_t p = 0, t = 0;
  size_t star_p = kNone, star_t = 0;
  while (t < txt.size()) {
    if (p < pat.size()) {
      char c = pat[p];
      if (c == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (c == '?') {
        ++p;
        ++t;
        continue;
      }
      size_t width = 1;
      if (c == '\\' && p + 1 < pat.size()) {
        c = pat[p + 1];
        width = 2;
      }
      if (c == txt[t]) {
        p += width;
        ++t;
        continue;
      }
    }
    if (star_p == kNone) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// Segments of a separated string, addressed by their start offset; a
// string of n characters has its last segment end at n, so offset n + 1
// means "no segments left".
struct Segments {
  std::string_view s;
  char sep;
  bool done(size_t start) const { return start > s.size(); }
  size_t end(size_t start) const {
    size_t e = s.find(sep, start);
    return e == std::string_view::npos ? s.size() : e;
  }
  std::string_view at(size_t start) const { return s.substr(start, end(start) - start); }
  size_t next(size_t start) const { return end(start) + 1; }
};

// Segments already split, addressed by index.
struct Parts {
  std::span<const std::string_view> parts;
  bool done(size_t i) const { return i >= parts.size(); }
  std::string_view at(size_t i) const { return parts[i]; }
  size_t next(size_t i) const { return i + 1; }
};

// The greedy walk of segment_match one level up: segments are the units
// and a "**" segment is the star, so "**" takes one more whole segment on a
// mismatch. Both kinds of glob (separated strings, SQL name parts) use it.
template <typename Pattern, typename Text>
bool match_segments(const Pattern& pat, const Text& txt) {
  size_t p = 0, t = 0;
  size_t star_p = kNone, star_t = 0;
  while (!txt.done(t)) {
    if (!pat.done(p)) {
      std::string_view ps = pat.at(p);
      if (ps == "**") {
        p = pat.next(p);
        star_p = p;
        star_t = t;
        continue;
      }
      if (segment_match(ps, txt.at(t))) {
        p = pat.next(p);
        t = txt.next(t);
        continue;
      }
    }
    if (star_p == kNone) return false;
    p = star_p;
    star_t = txt.next(star_t);
    t = star_t;
  }
  while (!pat.done(p) && pat.at(p) == "**") p = pat.next(p);
  return pat.done(p);
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, char separator) {
  return match_segments(Segments{pattern, separator}, Segments{text, separator});
}

bool glob_is_literal(std::string_view pattern) {
  return pattern.find_first_of("*?\\") == std::string_view::npos;
}

std::vector<std::string_view> split_dotted_glob(std::string_view pattern) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;  // the escaped character, a dot included, belongs to the part
    } else if (pattern[i] == '.') {
      parts.push_back(pattern.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(pattern.substr(start));
  return parts;
}

bool dotted_glob_spans(std::span<const std::string_view> parts) {
  return std::find(parts.begin(), parts.end(), std::string_view("**")) != parts.end();
}

bool glob_part_match(std::string_view part, std::string_view name) { return segment_match(part, name); }

bool dotted_glob_match(std::string_view pattern, std::span<const std::string_view> name) {
  const std::vector<std::string_view> parts = split_dotted_glob(pattern);
  return match_segments(Parts{parts}, Parts{name});
}

}  // namespace pgw::policy
