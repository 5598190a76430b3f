// Content detectors: find personal data and secrets inside a text value.
//
// Column rules mask what lineage can trace; the detectors are the backstop
// for what it cannot (free-text notes, JSON documents, untraceable
// expressions). Each detector is a hand-written scanner: a cheap prefilter
// (digit runs, '@', a table of two-byte prefixes) finds candidates and a
// validator (Luhn, SSN area rules, NANP rules, mod-97, token shapes) keeps
// only real hits, so a scan runs at memory-ish speed and ordinary numbers,
// dates and order ids are left alone.
//
// Input is a byte string, normally UTF-8 (possibly JSON text). Hits are byte
// ranges that always start and end on code point boundaries.
//
// What each detector accepts, and the choices made where the brief left room,
// is written down in userspace/mask/README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::mask {

enum class Detector : uint8_t { credit_card, us_ssn, email, phone, iban, secrets };
inline constexpr size_t kDetectorCount = 6;

// One hit: the bytes [begin, end) of the scanned text.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  Detector detector = Detector::credit_card;

  size_t size() const { return end - begin; }
  bool operator==(const Span&) const = default;
};

// The config spelling: credit_card, us_ssn, email, phone, iban, secrets.
std::string_view detector_name(Detector detector);
Result<Detector> parse_detector(std::string_view name);

// Appends the hits of one detector, in order and non-overlapping.
void scan(Detector detector, std::string_view text, std::vector<Span>& out);

// The detectors of one rule. Scanning a set walks the digit runs once for all
// digit-anchored detectors (credit_card, us_ssn, phone, iban) instead of once
// per detector; email and secrets have prefilters of their own.
class DetectorSet {
 public:
  DetectorSet() = default;
  DetectorSet(std::initializer_list<Detector> detectors);

  // Every detector, for `detect: [all]`-style configs and tests.
  static DetectorSet all();
  static Result<DetectorSet> parse(const std::vector<std::string>& names);

  void add(Detector detector) { bits_ |= bit(detector); }
  bool contains(Detector detector) const { return (bits_ & bit(detector)) != 0; }
  bool empty() const { return bits_ == 0; }

  // Clears `out`, then fills it with the hits of every detector in the set,
  // sorted by begin, with overlapping hits merged into one span (which keeps
  // the detector of the earliest hit). The result is ready for masking.
  void scan(std::string_view text, std::vector<Span>& out) const;

  bool operator==(const DetectorSet&) const = default;

 private:
  static uint8_t bit(Detector d) { return static_cast<uint8_t>(1u << static_cast<unsigned>(d)); }
  uint8_t bits_ = 0;
};

}  // namespace pgw::mask
