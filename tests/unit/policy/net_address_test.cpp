#include <gtest/gtest.h>

#include "policy/net_address.h"

namespace pgw::policy {
namespace {

TEST(NetAddress, ParsesV4AndV6) {
  auto a = NetAddress::parse("127.0.0.1:5432");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->to_string(), "127.0.0.1:5432");
  auto b = NetAddress::parse("[::1]:15432");
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(b->to_string(), "[::1]:15432");
}

}  // namespace
}  // namespace pgw::policy
