#include <gtest/gtest.h>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::hits;
using testing::Hits;

constexpr Detector kIban = Detector::iban;

TEST(Iban, FindsElectronicForm) {
  for (const char* iban : {"GB82WEST12345698765432", "DE89370400440532013000", "NL91ABNA0417164300",
                           "FR1420041010050500013M02606", "NO9386011117947", "MT84MALT011000012345MTLCAST001S",
                           "BE68539007547034", "CH9300762011623852957"}) {
    EXPECT_EQ(hits(kIban, std::string("IBAN: ") + iban + ", thanks"), Hits{iban}) << iban;
  }
}

TEST(Iban, FindsPrintForm) {
  EXPECT_EQ(hits(kIban, "pay to GB82 WEST 1234 5698 7654 32 by Friday"), Hits{"GB82 WEST 1234 5698 7654 32"});
  EXPECT_EQ(hits(kIban, "DE89 3704 0044 0532 0130 00"), Hits{"DE89 3704 0044 0532 0130 00"});
}

TEST(Iban, RejectsBadCheckDigits) {
  EXPECT_TRUE(hits(kIban, "GB82WEST12345698765433").empty());
  EXPECT_TRUE(hits(kIban, "GB83WEST12345698765432").empty());
  EXPECT_TRUE(hits(kIban, "DE89 3704 0044 0532 0130 01").empty());
}

TEST(Iban, RequiresTheCountrysLength) {
  EXPECT_TRUE(hits(kIban, "DE89 3704 0044 0532 0130 0").empty());     // one short
  EXPECT_TRUE(hits(kIban, "GB82WEST123456987654321").empty());        // one long
}

TEST(Iban, IgnoresLookalikes) {
  EXPECT_TRUE(hits(kIban, "QQ12345678901234567890").empty());      // no such country
  EXPECT_TRUE(hits(kIban, "gb82west12345698765432").empty());      // lower case
  EXPECT_TRUE(hits(kIban, "XGB82WEST12345698765432").empty());     // inside a longer token
  EXPECT_TRUE(hits(kIban, "SKU AB12-3456, DE12 order").empty());
  EXPECT_TRUE(hits(kIban, "commit DE8937040044053201300012ab").empty());
}

TEST(Iban, Utf8Around) {
  EXPECT_EQ(hits(kIban, "Überweisung an DE89370400440532013000 (Müller)"), Hits{"DE89370400440532013000"});
}

}  // namespace
}  // namespace pgw::mask
