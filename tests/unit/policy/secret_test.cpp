#include <gtest/gtest.h>
#include <fmt/format.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "policy/secret.h"

namespace pgw::policy {
namespace {

constexpr const char* kValue = "correct-horse-battery";

TEST(Secret, RevealGivesTheValue) {
  Secret s{kValue};
  EXPECT_EQ(s.reveal(), kValue);
  EXPECT_FALSE(s.empty());
  EXPECT_TRUE(Secret{}.empty());
}

TEST(Secret, StreamsAndFmtPrintRedacted) {
  Secret s{kValue};
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "<redacted>");
  EXPECT_EQ(fmt::format("pw={}", s), "pw=<redacted>");
  EXPECT_EQ(fmt::format("[{:>12}]", s), "[  <redacted>]");
}

TEST(Secret, SpdlogPrintsRedacted) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(os);
  spdlog::logger logger("secret-test", sink);
  logger.set_pattern("%v");
  logger.info("connecting with {}", Secret{kValue});
  logger.flush();
  EXPECT_EQ(os.str(), "connecting with <redacted>\n");
}

}  // namespace
}  // namespace pgw::policy
