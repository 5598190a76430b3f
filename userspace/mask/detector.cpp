#include "mask/detector.h"

#include <algorithm>
#include <array>

#include "mask/scan_text.h"
#include "mask/scanners.h"

namespace pgw::mask {
namespace {

constexpr std::array<std::string_view, kDetectorCount> kNames = {"credit_card", "us_ssn", "email",
                                                                 "phone",       "iban",   "secrets"};

// The digit-anchored detectors, in one walk over the digit runs. Each keeps
// its own last hit so its hits never overlap each other; overlaps between
// detectors are merged by DetectorSet::scan.
struct DigitDetectors {
  bool card = false;
  bool ssn = false;
  bool phone = false;
  bool iban = false;

  bool any() const { return card || ssn || phone || iban; }
};

void scan_digit_anchored(const DigitDetectors& want, std::string_view text, std::vector<Span>& out) {
  enum { kCard, kSsn, kPhone, kIban, kCount };
  size_t last_end[kCount] = {0, 0, 0, 0};
  auto consider = [&](int k, bool (*match)(std::string_view, size_t, Span&), size_t pos) {
    Span hit;
    if (last_end[k] <= pos && match(text, pos, hit) && hit.begin >= last_end[k]) {
      out.push_back(hit);
      last_end[k] = hit.end;
    }
  };
  detail::for_each_digit_run(text, [&](size_t pos, size_t run_end) {
    const size_t run = run_end - pos;
    if (want.ssn && detail::may_be_ssn(run)) consider(kSsn, detail::match_us_ssn, pos);
    if (want.phone && detail::may_be_phone(text, pos, run)) consider(kPhone, detail::match_phone, pos);
    if (want.card && detail::may_be_card(run)) consider(kCard, detail::match_credit_card, pos);
    if (want.iban && detail::may_be_iban(text, pos)) consider(kIban, detail::match_iban, pos);
    return run_end;
  });
}

DigitDetectors digit_detectors(const DetectorSet& set) {
  DigitDetectors d;
  d.card = set.contains(Detector::credit_card);
  d.ssn = set.contains(Detector::us_ssn);
  d.phone = set.contains(Detector::phone);
  d.iban = set.contains(Detector::iban);
  return d;
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
      scan_digit_anchored(digit_detectors(DetectorSet{detector}), text, out);
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

  const DigitDetectors digits = digit_detectors(*this);
  if (digits.any()) scan_digit_anchored(digits, text, out);
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
