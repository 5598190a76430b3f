#include "mask/detect_mask.h"

#include "mask/scan_text.h"

namespace pgw::mask {
namespace {

void append_replacement(std::string_view hit, const MaskFunction& fn, std::string& out) {
  if (!fn.apply_into(hit, out)) out.append(MaskFunction::redact().apply(hit).value());
}

// Inside a JSON string these would end the string or start an escape.
void sanitize_for_json_string(std::string& s, size_t from) {
  for (size_t i = from; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20) s[i] = '*';
  }
}

bool is_json_number_char(char c) {
  return detail::is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Walks JSON text left to right, answering "is position p inside a string
// literal?" for increasing p. Only the quote/backslash structure matters.
class JsonStringTracker {
 public:
  explicit JsonStringTracker(std::string_view t) : t_(t) {}

  bool inside_string_at(size_t p) {
    for (; pos_ < p && pos_ < t_.size(); ++pos_) {
      const char c = t_[pos_];
      if (in_string_) {
        if (c == '\\') {
          ++pos_;  // the escaped character cannot end the string
        } else if (c == '"') {
          in_string_ = false;
        }
      } else if (c == '"') {
        in_string_ = true;
      }
    }
    return in_string_;
  }
  // Masked bytes are not walked; resume after them with the same state
  // (hits never contain an unescaped quote).
  void skip_to(size_t p) { pos_ = p > pos_ ? p : pos_; }

 private:
  std::string_view t_;
  size_t pos_ = 0;
  bool in_string_ = false;
};

}  // namespace

namespace {

// One pass: each hit replaced by fn(hit), the rest copied.
void append_one_pass(std::string_view value, const std::vector<Span>& hits, const MaskFunction& fn, TextKind kind,
                     std::string& out) {
  size_t copied = 0;
  JsonStringTracker tracker(value);
  for (const Span& hit : hits) {
    size_t begin = hit.begin;
    size_t end = hit.end;
    if (begin < copied) begin = copied;  // cannot happen with merged hits; stay safe anyway
    if (begin >= end) continue;

    if (kind == TextKind::plain) {
      out.append(value.substr(copied, begin - copied));
      append_replacement(value.substr(begin, end - begin), fn, out);
    } else if (tracker.inside_string_at(begin)) {
      out.append(value.substr(copied, begin - copied));
      const size_t from = out.size();
      append_replacement(value.substr(begin, end - begin), fn, out);
      sanitize_for_json_string(out, from);
    } else {
      // A bare number: replace the whole number token by a string.
      while (begin > copied && is_json_number_char(value[begin - 1])) --begin;
      while (end < value.size() && is_json_number_char(value[end])) ++end;
      out.append(value.substr(copied, begin - copied));
      out.push_back('"');
      const size_t from = out.size();
      append_replacement(value.substr(begin, end - begin), fn, out);
      sanitize_for_json_string(out, from);
      out.push_back('"');
    }
    copied = end;
    tracker.skip_to(end);
  }
  out.append(value.substr(copied));
}

}  // namespace

void append_masked(std::string_view value, const std::vector<Span>& hits, const DetectorSet& detectors,
                   const MaskFunction& fn, TextKind kind, std::string& out) {
  const size_t mark = out.size();
  append_one_pass(value, hits, fn, kind, out);
  // Rescanned where it was written: usually nothing is found and nothing
  // more is copied. Later passes redact: each turns at least one character
  // of a hit into '*', which no detector's match contains, so this ends.
  thread_local std::string previous;
  thread_local std::vector<Span> more;
  for (detectors.scan(std::string_view(out).substr(mark), more); !more.empty();
       detectors.scan(std::string_view(out).substr(mark), more)) {
    previous.assign(out, mark);
    out.resize(mark);
    append_one_pass(previous, more, MaskFunction::redact(), kind, out);
  }
}

bool mask_detected(std::string& value, const DetectorSet& detectors, const MaskFunction& fn, TextKind kind) {
  thread_local std::vector<Span> hits;
  detectors.scan(value, hits);
  if (hits.empty()) return false;
  std::string masked;
  masked.reserve(value.size() + 16);
  append_masked(value, hits, detectors, fn, kind, masked);
  value.swap(masked);
  return true;
}

}  // namespace pgw::mask
