#include <gtest/gtest.h>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::hits;
using testing::Hits;

constexpr Detector kSsn = Detector::us_ssn;

TEST(UsSsn, FindsDashedAndSpacedForms) {
  EXPECT_EQ(hits(kSsn, "SSN 123-45-6789."), Hits{"123-45-6789"});
  EXPECT_EQ(hits(kSsn, "ssn: 123 45 6789"), Hits{"123 45 6789"});
  EXPECT_EQ(hits(kSsn, "{\"ssn\":\"078-05-1120\"}"), Hits{"078-05-1120"});
  EXPECT_EQ(hits(kSsn, "a 123-45-6789 and 234-56-7890"), (Hits{"123-45-6789", "234-56-7890"}));
}

TEST(UsSsn, RejectsInvalidAreaGroupSerial) {
  for (const char* bad : {"000-12-3456", "666-12-3456", "900-12-3456", "950-12-3456", "999-12-3456",
                          "123-00-4567", "123-45-0000"}) {
    EXPECT_TRUE(hits(kSsn, std::string("ssn ") + bad).empty()) << bad;
  }
  // The edges of the valid range.
  EXPECT_EQ(hits(kSsn, "001-01-0001"), Hits{"001-01-0001"});
  EXPECT_EQ(hits(kSsn, "665-99-9999"), Hits{"665-99-9999"});
  EXPECT_EQ(hits(kSsn, "899-01-0001"), Hits{"899-01-0001"});
}

TEST(UsSsn, RequiresOneSeparatorKind) {
  EXPECT_TRUE(hits(kSsn, "123-45 6789").empty());
  EXPECT_TRUE(hits(kSsn, "123 45-6789").empty());
  EXPECT_TRUE(hits(kSsn, "123.45.6789").empty());
  EXPECT_TRUE(hits(kSsn, "123/45/6789").empty());
}

TEST(UsSsn, IgnoresPiecesOfLongerNumbers) {
  EXPECT_TRUE(hits(kSsn, "1123-45-6789").empty());
  EXPECT_TRUE(hits(kSsn, "123-45-67890").empty());
  EXPECT_TRUE(hits(kSsn, "1-123-45-6789").empty());
  EXPECT_TRUE(hits(kSsn, "123-45-6789-01").empty());
  EXPECT_TRUE(hits(kSsn, "2024.123 45 6789").empty());
  EXPECT_TRUE(hits(kSsn, "12/123-45-6789").empty());
}

TEST(UsSsn, NumbersBeforeItAcrossASpaceDoNotHideIt) {
  EXPECT_EQ(hits(kSsn, "Apt 12 123 45 6789"), Hits{"123 45 6789"});
  EXPECT_EQ(hits(kSsn, "ORD-123456 123-45-6789"), Hits{"123-45-6789"});
}

TEST(UsSsn, IgnoresDatesAndOrderNumbers) {
  EXPECT_TRUE(hits(kSsn, "2024-01-15 and 15-01-2024").empty());
  EXPECT_TRUE(hits(kSsn, "order ORD-123-456-7890").empty());
  EXPECT_TRUE(hits(kSsn, "call 415-555-2671").empty());
  EXPECT_TRUE(hits(kSsn, "tracking 123456789 arrives").empty());  // bare nine digits, no SSN context
}

TEST(UsSsn, BareNineDigitsOnlyWhereNamed) {
  EXPECT_EQ(hits(kSsn, "SSN 123456789"), Hits{"123456789"});
  EXPECT_EQ(hits(kSsn, "{\"ssn\": \"123456789\"}"), Hits{"123456789"});
  EXPECT_EQ(hits(kSsn, "Social Security No. 123456789"), Hits{"123456789"});
  EXPECT_TRUE(hits(kSsn, "SSN 000456789").empty());
  EXPECT_TRUE(hits(kSsn, "SSN 1234567890").empty());
  // The name must be close: far-away mentions do not count.
  EXPECT_TRUE(hits(kSsn, "ssn field is described elsewhere; invoice 123456789").empty());
}

TEST(UsSsn, Utf8Around) {
  EXPECT_EQ(hits(kSsn, "numéro 123-45-6789 ✓"), Hits{"123-45-6789"});
}

}  // namespace
}  // namespace pgw::mask
