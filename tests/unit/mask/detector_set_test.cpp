#include <gtest/gtest.h>

#include <random>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::hits;
using testing::Hits;

TEST(DetectorNames, RoundTripAndErrors) {
  for (Detector d : {Detector::credit_card, Detector::us_ssn, Detector::email, Detector::phone, Detector::iban,
                     Detector::secrets}) {
    Result<Detector> parsed = parse_detector(detector_name(d));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, d);
  }
  Result<Detector> bad = parse_detector("ssn");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("unknown detector 'ssn'"), std::string::npos);
  EXPECT_NE(bad.error().find("us_ssn"), std::string::npos);
}

TEST(DetectorSet, ParseAndContains) {
  Result<DetectorSet> set = DetectorSet::parse({"credit_card", "email"});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->contains(Detector::credit_card));
  EXPECT_TRUE(set->contains(Detector::email));
  EXPECT_FALSE(set->contains(Detector::phone));
  EXPECT_FALSE(DetectorSet::parse({"email", "nope"}).ok());
  EXPECT_TRUE(DetectorSet().empty());
}

TEST(DetectorSet, ScansEveryDetectorInOrder) {
  const std::string text =
      "Jane (jane@example.com, +1 415-555-2671) paid with 4111 1111 1111 1111; SSN 123-45-6789; "
      "IBAN DE89370400440532013000; key AKIAIOSFODNN7EXAMPLE.";
  EXPECT_EQ(hits(DetectorSet::all(), text),
            (Hits{"jane@example.com", "+1 415-555-2671", "4111 1111 1111 1111", "123-45-6789",
                  "DE89370400440532013000", "AKIAIOSFODNN7EXAMPLE"}));
  EXPECT_EQ(hits(DetectorSet{Detector::us_ssn, Detector::email}, text), (Hits{"jane@example.com", "123-45-6789"}));
}

TEST(DetectorSet, MergesOverlappingHits) {
  // "+15005550006@example.com" is both a phone number and (part of) an address.
  const std::string text = "+15005550006@example.com";
  std::vector<Span> spans;
  DetectorSet{Detector::phone, Detector::email}.scan(text, spans);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].begin, 0u);
  EXPECT_EQ(spans[0].end, text.size());
}

// The one-pass scan of a set must find exactly what the detectors find one
// by one (after merging), on text dense with near misses.
TEST(DetectorSet, OnePassAgreesWithSeparateScans) {
  static const char* kPieces[] = {"4111111111111111", "4111 1111 1111 1111", "123-45-6789", "(415) 555-2671",
                                  "+44 20 7946 0958", "DE89370400440532013000", "a@b.io", "2024-01-15",
                                  "ORD-555-123-4567", "12", "3.14159", "+", "(", "-", " ", "x", "\n", "é",
                                  "AKIAIOSFODNN7EXAMPLE", "1-800-555-0199", "9", "GB82 WEST 1234 5698 7654 32"};
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> pick(0, std::size(kPieces) - 1);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    for (int k = 0; k < 40; ++k) text += kPieces[pick(rng)];

    std::vector<Span> separate;
    for (Detector d : {Detector::credit_card, Detector::us_ssn, Detector::email, Detector::phone, Detector::iban,
                       Detector::secrets})
      scan(d, text, separate);
    std::vector<Span> together;
    DetectorSet::all().scan(text, together);

    // Every separate hit is covered by a merged hit, and every merged hit
    // starts and ends at separate hits.
    for (const Span& s : separate) {
      bool covered = false;
      for (const Span& t : together) covered = covered || (t.begin <= s.begin && s.end <= t.end);
      EXPECT_TRUE(covered) << text;
    }
    for (size_t i = 1; i < together.size(); ++i) EXPECT_LE(together[i - 1].end, together[i].begin);
  }
}

TEST(DetectorSet, EmptyInput) {
  std::vector<Span> spans{Span{1, 2, Detector::email}};
  DetectorSet::all().scan("", spans);
  EXPECT_TRUE(spans.empty());
}

}  // namespace
}  // namespace pgw::mask
