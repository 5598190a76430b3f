// Error text, notices, NOTIFY payloads and ParameterStatus carry values too:
// what the scrubber lets through must hold no masked value and no value the
// detectors know, and a message with nothing to hide must pass untouched.
#include "engine/side_channels.h"

#include <gtest/gtest.h>

#include "pgwire/backend_messages.h"
#include "pgwire/error_response.h"

namespace pgw::engine {
namespace {

std::string body_of(const std::string& whole) { return whole.substr(5); }

std::string error_body(std::string_view message, std::string_view detail = {}, std::string_view where = {}) {
  pgwire::ErrorResponse e;
  e.fields.push_back({'S', "ERROR"});
  e.fields.push_back({'V', "ERROR"});
  e.fields.push_back({'C', "22P02"});
  e.fields.push_back({'M', message});
  if (!detail.empty()) e.fields.push_back({'D', detail});
  if (!where.empty()) e.fields.push_back({'W', where});
  std::string out;
  pgwire::encode(e, out);
  return body_of(out);
}

TEST(SideChannels, CastErrorOfAMaskedColumnLosesTheValueButKeepsItsShape) {
  auto out = scrub_error_or_notice('E', error_body("invalid input syntax for type integer: \"123-45-6789\""), true);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("6789"), std::string::npos);
  const std::string body = body_of(*out);
  auto decoded = pgwire::ErrorResponse::decode(body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->sqlstate(), "22P02");
  EXPECT_EQ(decoded->message(), "invalid input syntax for type integer: \"***\"");
}

TEST(SideChannels, DetailAndContextAreWithheldWhenTheStatementReadsMaskedValues) {
  auto out = scrub_error_or_notice(
      'E', error_body("duplicate key value violates unique constraint \"c_ssn\"", "Key (ssn)=(98765) already exists.",
                      "SQL function \"f\" statement 1"),
      true);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("98765"), std::string::npos);
  const std::string body = body_of(*out);
  auto decoded = pgwire::ErrorResponse::decode(body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->find('W'), "");
  EXPECT_NE(decoded->detail().find("withheld"), std::string::npos);
}

TEST(SideChannels, ErrorsOfOtherStatementsOnlyLoseWhatTheDetectorsFind) {
  EXPECT_FALSE(scrub_error_or_notice('E', error_body("relation \"nope\" does not exist"), false));
  auto out = scrub_error_or_notice('E', error_body("bad value \"jane.doe@example.com\" and 4111 1111 1111 1111"), false);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("jane.doe@example.com"), std::string::npos);
  EXPECT_EQ(out->find("4111 1111 1111 1111"), std::string::npos);
  EXPECT_NE(out->find("bad value"), std::string::npos);
}

TEST(SideChannels, NoticesAreScrubbedLikeErrors) {
  pgwire::NoticeResponse n;
  n.fields.push_back({'S', "NOTICE"});
  n.fields.push_back({'C', "00000"});
  n.fields.push_back({'M', "customer ssn 123-45-6789"});
  std::string whole;
  pgwire::encode(n, whole);
  auto out = scrub_error_or_notice('N', body_of(whole), false);
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0], 'N');
  EXPECT_EQ(out->find("123-45-6789"), std::string::npos);
}

TEST(SideChannels, NotificationPayloadsAreScrubbed) {
  pgwire::NotificationResponse a;
  a.process_id = 42;
  a.channel = "c";
  a.payload = "{\"ssn\": \"123-45-6789\"}";
  std::string whole;
  pgwire::encode(a, whole);
  auto out = scrub_notification(body_of(whole));
  ASSERT_TRUE(out);
  ASSERT_FALSE(out->empty());
  EXPECT_EQ(out->find("123-45-6789"), std::string::npos);
  const std::string body = body_of(*out);
  auto decoded = pgwire::NotificationResponse::decode(body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->process_id, 42);
  EXPECT_EQ(decoded->channel, "c");

  a.payload = "order 42 shipped";
  whole.clear();
  pgwire::encode(a, whole);
  EXPECT_FALSE(scrub_notification(body_of(whole)));
}

TEST(SideChannels, ParameterStatusValuesAreScrubbedAndUnreadableOnesDropped) {
  pgwire::ParameterStatus p;
  p.name = "application_name";
  p.value = "4111111111111111";
  std::string whole;
  pgwire::encode(p, whole);
  auto out = scrub_parameter_status(body_of(whole));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("4111111111111111"), std::string::npos);

  auto dropped = scrub_parameter_status(std::string_view("no terminator", 13));
  ASSERT_TRUE(dropped);
  EXPECT_TRUE(dropped->empty());
}

}  // namespace
}  // namespace pgw::engine
