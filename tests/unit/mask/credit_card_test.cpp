#include <gtest/gtest.h>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::break_luhn;
using testing::hits;
using testing::Hits;
using testing::with_luhn;

constexpr Detector kCard = Detector::credit_card;

TEST(CreditCard, FindsWellKnownTestNumbers) {
  for (const char* card : {"4111111111111111", "5500000000000004", "340000000000009", "6011000000000004",
                           "4222222222222", "3530111333300000"}) {
    EXPECT_EQ(hits(kCard, std::string("card ") + card + " on file"), Hits{card}) << card;
  }
}

TEST(CreditCard, AcceptsThirteenToNineteenDigits) {
  for (size_t n = 13; n <= 19; ++n) {
    const std::string card = with_luhn(std::string(n - 1, '4').replace(1, n - 2, std::string(n - 2, '1')));
    ASSERT_EQ(card.size(), n);
    EXPECT_EQ(hits(kCard, "x " + card + " y"), Hits{card}) << n;
  }
  EXPECT_TRUE(hits(kCard, with_luhn("41111111111")).empty());           // 12 digits
  EXPECT_TRUE(hits(kCard, with_luhn("4111111111111111111")).empty());   // 20 digits
}

TEST(CreditCard, AcceptsSpaceAndDashGrouping) {
  EXPECT_EQ(hits(kCard, "4111 1111 1111 1111"), Hits{"4111 1111 1111 1111"});
  EXPECT_EQ(hits(kCard, "4111-1111-1111-1111"), Hits{"4111-1111-1111-1111"});
  EXPECT_EQ(hits(kCard, "Amex 3400 000000 00009."), Hits{"3400 000000 00009"});
  const std::string diners = with_luhn("3056930902590");  // 14 digits, printed 4-6-4
  EXPECT_EQ(hits(kCard, diners.substr(0, 4) + " " + diners.substr(4, 6) + " " + diners.substr(10)),
            Hits{diners.substr(0, 4) + " " + diners.substr(4, 6) + " " + diners.substr(10)});
  const std::string nineteen = with_luhn("675964982643845300");  // 4-4-4-4-3
  const std::string printed = nineteen.substr(0, 4) + "-" + nineteen.substr(4, 4) + "-" + nineteen.substr(8, 4) +
                              "-" + nineteen.substr(12, 4) + "-" + nineteen.substr(16);
  EXPECT_EQ(hits(kCard, printed), Hits{printed});
}

TEST(CreditCard, RejectsBadLuhn) {
  EXPECT_TRUE(hits(kCard, "4111111111111112").empty());
  EXPECT_TRUE(hits(kCard, "4111 1111 1111 1112").empty());
  EXPECT_TRUE(hits(kCard, break_luhn(with_luhn("601100000000000"))).empty());
}

TEST(CreditCard, RequiresDigitBoundaries) {
  // Part of a longer digit run: an id, not a card.
  EXPECT_TRUE(hits(kCard, "94111111111111111").empty());
  EXPECT_TRUE(hits(kCard, "41111111111111110000").empty());
  // Letters around it do not make it less of a card.
  EXPECT_EQ(hits(kCard, "cc:4111111111111111;"), Hits{"4111111111111111"});
}

TEST(CreditCard, DoesNotSwallowNeighbouringNumbers) {
  EXPECT_EQ(hits(kCard, "4111 1111 1111 1111 12 27"), Hits{"4111 1111 1111 1111"});
  EXPECT_EQ(hits(kCard, "4111111111111111 2027"), Hits{"4111111111111111"});
  EXPECT_EQ(hits(kCard, "#15 4111111111111111"), Hits{"4111111111111111"});
  EXPECT_EQ(hits(kCard, "4111111111111111,5500000000000004"), (Hits{"4111111111111111", "5500000000000004"}));
}

TEST(CreditCard, IgnoresLookalikes) {
  EXPECT_TRUE(hits(kCard, "order 2024-03-15-000123 shipped").empty());
  EXPECT_TRUE(hits(kCard, "call 415-555-2671 or 1-800-555-0199").empty());
  std::string spaced;  // 16 Luhn-valid digits, one per group: a list, not a card
  for (char c : with_luhn("411111111111111")) (spaced += c) += ' ';
  EXPECT_TRUE(hits(kCard, spaced).empty());
  EXPECT_TRUE(hits(kCard, "pi=3.4111111111111111").empty());      // decimal fraction
  EXPECT_TRUE(hits(kCard, "4111111111111111.25").empty());
  EXPECT_TRUE(hits(kCard, "4111--1111--1111--1111").empty());  // not single separators
  EXPECT_TRUE(hits(kCard, "4111 1111-1111 1111").empty());      // mixed separators
  // Unrelated numbers in a row: the first group of a printed card has 4 digits.
  const std::string run = with_luhn("1239046978202");
  EXPECT_TRUE(hits(kCard, run.substr(0, 5) + " " + run.substr(5, 5) + " " + run.substr(10)).empty());
  EXPECT_TRUE(hits(kCard, run.substr(0, 4) + " " + run.substr(4, 5) + " " + run.substr(9)).empty());  // 4-5-5
}

TEST(CreditCard, HitsEndOnCodePointBoundaries) {
  const std::string text = "карта 4111 1111 1111 1111 оплачена";
  std::vector<Span> spans;
  scan(kCard, text, spans);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(text.substr(spans[0].begin, spans[0].size()), "4111 1111 1111 1111");
}

TEST(CreditCard, EmptyAndTinyInputs) {
  EXPECT_TRUE(hits(kCard, "").empty());
  EXPECT_TRUE(hits(kCard, "4").empty());
  EXPECT_TRUE(hits(kCard, "4111 ").empty());
}

}  // namespace
}  // namespace pgw::mask
