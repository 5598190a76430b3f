#include <gtest/gtest.h>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::hits;
using testing::Hits;

constexpr Detector kEmail = Detector::email;

TEST(Email, FindsCommonAddresses) {
  EXPECT_EQ(hits(kEmail, "mail john.doe@example.com today"), Hits{"john.doe@example.com"});
  EXPECT_EQ(hits(kEmail, "<a.b+tag@sub.example.co.uk>"), Hits{"a.b+tag@sub.example.co.uk"});
  EXPECT_EQ(hits(kEmail, "{\"email\":\"x_y%z@mail-server.example.org\"}"), Hits{"x_y%z@mail-server.example.org"});
  EXPECT_EQ(hits(kEmail, "a@b.io, c@d.dev"), (Hits{"a@b.io", "c@d.dev"}));
}

TEST(Email, TrimsSentencePunctuation) {
  EXPECT_EQ(hits(kEmail, "write to jane@example.com."), Hits{"jane@example.com"});
  EXPECT_EQ(hits(kEmail, "(jane@example.com)"), Hits{"jane@example.com"});
  EXPECT_EQ(hits(kEmail, "...jane@example.com"), Hits{"jane@example.com"});
  EXPECT_EQ(hits(kEmail, "mailto:jane@example.com?subject=x"), Hits{"jane@example.com"});
}

TEST(Email, InternationalisedAddresses) {
  EXPECT_EQ(hits(kEmail, "José: josé@exämple.de"), Hits{"josé@exämple.de"});
  EXPECT_EQ(hits(kEmail, "用户@例子.广告"), Hits{"用户@例子.广告"});
  // CJK punctuation right after the address is not part of it.
  EXPECT_EQ(hits(kEmail, "メール jane@example.com。"), Hits{"jane@example.com"});
  EXPECT_EQ(hits(kEmail, "邮箱 jane@example.com，谢谢"), Hits{"jane@example.com"});
}

TEST(Email, IgnoresNonAddresses) {
  EXPECT_TRUE(hits(kEmail, "user@localhost").empty());
  EXPECT_TRUE(hits(kEmail, "@example.com").empty());
  EXPECT_TRUE(hits(kEmail, "john@").empty());
  EXPECT_TRUE(hits(kEmail, "a@b.c").empty());            // one-letter TLD
  EXPECT_TRUE(hits(kEmail, "x@10.0.0.1").empty());       // numeric TLD
  EXPECT_TRUE(hits(kEmail, "follow @handle on x").empty());
  EXPECT_TRUE(hits(kEmail, "price 3@4.50").empty());
  EXPECT_TRUE(hits(kEmail, "@@@").empty());
}

TEST(Email, StopsAtTheLastValidTld) {
  EXPECT_EQ(hits(kEmail, "bob@example.com.123"), Hits{"bob@example.com"});
}

TEST(Email, ManyAtSignsStayLinear) {
  // Pathological input: each '@' has a long local part before it but no
  // domain after it. Must finish quickly and find nothing.
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "aaaaaaaaaa@";
  EXPECT_TRUE(hits(kEmail, text).empty());
  text += "example.com";
  EXPECT_EQ(hits(kEmail, text), Hits{"aaaaaaaaaa@example.com"});
}

}  // namespace
}  // namespace pgw::mask
