#include "policy/glob.h"

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

// Segments are addressed by their start offset; a string of n characters has
// its last segment end at n, so offset n + 1 means "no segments left".
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

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, char separator) {
  // The same greedy walk one level up: segments are the units and a "**"
  // segment is the star, so "**" takes one more whole segment on a mismatch.
  const Segments pat{pattern, separator};
  const Segments txt{text, separator};
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

bool glob_is_literal(std::string_view pattern) {
  return pattern.find_first_of("*?\\") == std::string_view::npos;
}

}  // namespace pgw::policy
