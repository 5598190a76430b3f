#include <gtest/gtest.h>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::hits;
using testing::Hits;

constexpr Detector kPhone = Detector::phone;

TEST(Phone, FindsE164) {
  EXPECT_EQ(hits(kPhone, "call +14155552671 now"), Hits{"+14155552671"});
  EXPECT_EQ(hits(kPhone, "UK +44 20 7946 0958."), Hits{"+44 20 7946 0958"});
  EXPECT_EQ(hits(kPhone, "+33.1.23.45.67.89"), Hits{"+33.1.23.45.67.89"});
  EXPECT_EQ(hits(kPhone, "{\"phone\":\"+4915123456789\"}"), Hits{"+4915123456789"});
}

TEST(Phone, E164DigitCountLimits) {
  EXPECT_EQ(hits(kPhone, "+12345678"), Hits{"+12345678"});                // 8
  EXPECT_EQ(hits(kPhone, "+123456789012345"), Hits{"+123456789012345"});  // 15
  EXPECT_TRUE(hits(kPhone, "+1234567").empty());                          // 7
  EXPECT_TRUE(hits(kPhone, "+1234567890123456").empty());                 // 16, unbroken
  EXPECT_TRUE(hits(kPhone, "+0123456789").empty());                       // no country code 0
}

TEST(Phone, FindsNanpForms) {
  EXPECT_EQ(hits(kPhone, "(415) 555-2671"), Hits{"(415) 555-2671"});
  EXPECT_EQ(hits(kPhone, "(415)555-2671"), Hits{"(415)555-2671"});
  EXPECT_EQ(hits(kPhone, "tel 415-555-2671."), Hits{"415-555-2671"});
  EXPECT_EQ(hits(kPhone, "415.555.2671"), Hits{"415.555.2671"});
  EXPECT_EQ(hits(kPhone, "415 555 2671"), Hits{"415 555 2671"});
  EXPECT_EQ(hits(kPhone, "+1 (415) 555-2671"), Hits{"+1 (415) 555-2671"});
  EXPECT_EQ(hits(kPhone, "+1 415-555-2671"), Hits{"+1 415-555-2671"});
  EXPECT_EQ(hits(kPhone, "1-800-555-0199"), Hits{"1-800-555-0199"});
  EXPECT_EQ(hits(kPhone, "1 (212) 555-0100"), Hits{"1 (212) 555-0100"});
  EXPECT_EQ(hits(kPhone, "see (415.555.2671)"), Hits{"415.555.2671"});  // parentheses as punctuation
  EXPECT_EQ(hits(kPhone, "call(415.555.2671)"), Hits{"415.555.2671"});
}

TEST(Phone, AppliesNanpAreaAndExchangeRules) {
  EXPECT_TRUE(hits(kPhone, "115-555-2671").empty());  // area starts with 1
  EXPECT_TRUE(hits(kPhone, "015-555-2671").empty());  // area starts with 0
  EXPECT_TRUE(hits(kPhone, "411-555-2671").empty());  // N11 area
  // N9X area codes are reserved, not invalid: such numbers exist in data.
  EXPECT_EQ(hits(kPhone, "396.554.5236"), Hits{"396.554.5236"});
  EXPECT_TRUE(hits(kPhone, "415-155-2671").empty());  // exchange starts with 1
  EXPECT_TRUE(hits(kPhone, "415-911-2671").empty());  // N11 exchange
  EXPECT_TRUE(hits(kPhone, "(115) 555-2671").empty());
}

TEST(Phone, IgnoresLookalikes) {
  EXPECT_TRUE(hits(kPhone, "2024-01-15 12:30:45").empty());
  EXPECT_TRUE(hits(kPhone, "ORD-555-123-4567").empty());  // exchange 123 is invalid
  EXPECT_TRUE(hits(kPhone, "4155552671").empty());        // bare ten digits: an id as likely as a phone
  EXPECT_TRUE(hits(kPhone, "12-415-555-2671").empty());   // piece of a longer number
  EXPECT_TRUE(hits(kPhone, "415-555-26710").empty());
  EXPECT_TRUE(hits(kPhone, "415-555-2671-9").empty());
  EXPECT_TRUE(hits(kPhone, "415-555.2671").empty());      // mixed separators
  EXPECT_TRUE(hits(kPhone, "1+23456789").empty());        // arithmetic
  EXPECT_TRUE(hits(kPhone, "offset +0100").empty());
  EXPECT_TRUE(hits(kPhone, "f(415) 555-2671").empty());
  EXPECT_TRUE(hits(kPhone, "version 1.2.3, price 19.99").empty());
}

TEST(Phone, BareTenDigitsAfterPlusOne) {
  EXPECT_EQ(hits(kPhone, "+1 4155552671"), Hits{"+1 4155552671"});
}

TEST(Phone, Utf8Around) {
  EXPECT_EQ(hits(kPhone, "電話：(415) 555-2671。"), Hits{"(415) 555-2671"});
}

}  // namespace
}  // namespace pgw::mask
