#include "mask/detector.h"

#include <algorithm>
#include <array>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask {
namespace {

constexpr std::array<std::string_view, kDetectorCount> kNames = {"credit_card", "us_ssn", "email",
                                                                 "phone",       "iban",   "secrets"};

using Matcher = bool (*)(std::string_view, size_t, Span&);

Matcher digit_matcher(Detector d) {
  switch (d) {
    case Detector::credit_card:
      return detail::match_credit_card;
    case Detector::us_ssn:
      return detail::match_us_ssn;
    case Detector::phone:
      return detail::match_phone;
    case Detector::iban:
      return detail::match_iban;
    default:
      return nullptr;
  }
}

void scan_digit_anchored(Matcher match, std::string_view text, std::vector<Span>& out) {
  size_t last_end = 0;
  detail::for_each_digit_run(text, [&](size_t pos) {
    Span hit;
    if (match(text, pos, hit) && hit.begin >= last_end) {
      out.push_back(hit);
      last_end = hit.end;
      return std::max(pos + 1, hit.end);
    }
    return pos + 1;
  });
}

}  // namespace

std::string_view detector_name(Detector detector) { return kNames[static_cast<size_t>(detector)]; }

Result<Detector> parse_detector(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<Detector>(i);
  return make_error("unknown detector '" + std::string(name) +
                    "' (expected credit_card, us_ssn, email, phone, iban or secrets)");
}

void scan(Detector detector, std::string_view text, std::vector<Span>& out) {
  switch (detector) {
    case Detector::email:
      detail::scan_email(text, out);
      return;
    case Detector::secrets:
      detail::scan_secrets(text, out);
      return;
    default:
      scan_digit_anchored(digit_matcher(detector), text, out);
      return;
  }
}

DetectorSet::DetectorSet(std::initializer_list<Detector> detectors) {
  for (Detector d : detectors) add(d);
}

DetectorSet DetectorSet::all() {
  DetectorSet set;
  for (size_t i = 0; i < kDetectorCount; ++i) set.add(static_cast<Detector>(i));
  return set;
}

Result<DetectorSet> DetectorSet::parse(const std::vector<std::string>& names) {
  DetectorSet set;
  for (const std::string& name : names) {
    Result<Detector> d = parse_detector(name);
    if (!d) return make_error(d.error());
    set.add(*d);
  }
  return set;
}

void DetectorSet::scan(std::string_view text, std::vector<Span>& out) const {
  out.clear();
  if (bits_ == 0) return;

  // One walk over the digit runs for every digit-anchored detector in the
  // set. Each keeps its own last hit so its hits never overlap each other;
  // overlaps between detectors are merged below.
  Matcher matchers[4];
  size_t last_end[4] = {0, 0, 0, 0};
  size_t n = 0;
  for (Detector d : {Detector::us_ssn, Detector::phone, Detector::credit_card, Detector::iban})
    if (contains(d)) matchers[n++] = digit_matcher(d);
  if (n == 1) {
    scan_digit_anchored(matchers[0], text, out);
  } else if (n > 1) {
    detail::for_each_digit_run(text, [&](size_t pos) {
      for (size_t k = 0; k < n; ++k) {
        Span hit;
        if (last_end[k] <= pos && matchers[k](text, pos, hit) && hit.begin >= last_end[k]) {
          out.push_back(hit);
          last_end[k] = hit.end;
        }
      }
      return pos + 1;
    });
  }
  if (contains(Detector::email)) detail::scan_email(text, out);
  if (contains(Detector::secrets)) detail::scan_secrets(text, out);
  if (out.size() < 2) return;

  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  size_t w = 0;
  for (size_t r = 1; r < out.size(); ++r) {
    if (out[r].begin < out[w].end) {
      out[w].end = std::max(out[w].end, out[r].end);
    } else {
      out[++w] = out[r];
    }
  }
  out.resize(w + 1);
}

}  // namespace pgw::mask
