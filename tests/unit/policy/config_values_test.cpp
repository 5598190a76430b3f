#include <gtest/gtest.h>

#include "policy/config_values.h"

namespace pgw::policy {
namespace {

TEST(Durations, UnitsAndErrors) {
  EXPECT_EQ(*parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*parse_duration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(*parse_duration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*parse_duration("2h"), std::chrono::hours(2));
  EXPECT_FALSE(parse_duration("30").ok());
  EXPECT_FALSE(parse_duration("s").ok());
  EXPECT_FALSE(parse_duration("-1s").ok());
  EXPECT_FALSE(parse_duration("1d").ok());
  EXPECT_FALSE(parse_duration("99999999999999999999h").ok());
  EXPECT_NE(parse_duration("soon").error().find("\"soon\""), std::string::npos);
}

}  // namespace
}  // namespace pgw::policy
