// The scalar value parsers behind the config loader.
#include <gtest/gtest.h>

#include <array>

#include "policy/config_values.h"

namespace pgw::policy {
namespace {

TEST(Durations, UnitsAndErrors) {
  EXPECT_EQ(*parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*parse_duration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(*parse_duration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*parse_duration("2h"), std::chrono::hours(2));
  EXPECT_EQ(*parse_duration("0s"), std::chrono::milliseconds(0));
  for (const char* bad : {"30", "s", "-1s", "1d", "1.5s", "1 s x", "", "99999999999999999999h",
                          "200h", "5M"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
  EXPECT_NE(parse_duration("soon").error().find("\"soon\""), std::string::npos);
}

TEST(Sizes, SiAndBinaryUnits) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("10B"), 10u);
  EXPECT_EQ(*parse_size("2kB"), 2000u);
  EXPECT_EQ(*parse_size("2KB"), 2000u);
  EXPECT_EQ(*parse_size("3MB"), 3'000'000u);
  EXPECT_EQ(*parse_size("1GB"), 1'000'000'000u);
  EXPECT_EQ(*parse_size("2KiB"), 2048u);
  EXPECT_EQ(*parse_size("64MiB"), 64u << 20);
  EXPECT_EQ(*parse_size("1GiB"), 1u << 30);
  for (const char* bad : {"", "MiB", "64 MiB x", "64XB", "-1", "1.5MiB", "99999999999999GiB"}) {
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
  }
}

TEST(FunctionNames, FoldedAndChecked) {
  EXPECT_EQ(*parse_function_name("pg_read_file"), "pg_read_file");
  EXPECT_EQ(*parse_function_name("PG_Read_File"), "pg_read_file");
  EXPECT_EQ(*parse_function_name("pg_catalog.pg_read_file"), "pg_catalog.pg_read_file");
  EXPECT_EQ(*parse_function_name("_x$1"), "_x$1");
  for (const char* bad : {"", "1abc", "a.b.c", ".a", "a.", "a b", "\"Quoted\"", "a;drop", "a-b"}) {
    EXPECT_FALSE(parse_function_name(bad).ok()) << bad;
  }
}

TEST(Urls, HttpOnlyWithAHost) {
  EXPECT_TRUE(check_http_url("http://127.0.0.1:9099/hook").ok());
  EXPECT_TRUE(check_http_url("https://hooks.example/approve?x=1").ok());
  for (const char* bad : {"", "ftp://x", "http://", "http:///path", "127.0.0.1:9099",
                          "http://a b/", "http://x/\n"}) {
    EXPECT_FALSE(check_http_url(bad).ok()) << bad;
  }
}

TEST(Suggestions, ClosestKnownWord) {
  constexpr std::array<std::string_view, 4> kKeys = {"listen", "unix_socket", "upstreams",
                                                     "default"};
  EXPECT_EQ(closest_match("upstream", kKeys), "upstreams");
  EXPECT_EQ(closest_match("defualt", kKeys), "default");
  EXPECT_EQ(closest_match("lsiten", kKeys), "listen");
  EXPECT_EQ(closest_match("completely_else", kKeys), "");
}

TEST(Quoting, ControlCharactersAndLength) {
  EXPECT_EQ(quote_for_message("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(quote_for_message("a\nb"), "\"a?b\"");
  EXPECT_EQ(quote_for_message(std::string(100, 'x')), "\"" + std::string(80, 'x') + "...\"");
}

}  // namespace
}  // namespace pgw::policy
