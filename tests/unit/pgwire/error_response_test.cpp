#include "pgwire/error_response.h"

#include <gtest/gtest.h>

#include "pgwire/backend_messages.h"
#include "test_util.h"

namespace pgw::pgwire {
namespace {

using testing::expect_round_trip;
using testing::expect_truncations_rejected;
using testing::split_single;

TEST(ErrorResponse, BuiltErrorDecodesToItsFields) {
  std::string wire;
  build_error_response({.severity = "FATAL",
                        .sqlstate = "28P01",
                        .message = "pgwarden: upstream authentication failed",
                        .hint = "check the credential"},
                       wire);
  const auto m = split_single(wire);
  EXPECT_EQ(m.type, 'E');
  auto decoded = ErrorResponse::decode(m.body);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(decoded->severity(), "FATAL");
  EXPECT_EQ(decoded->find('S'), "FATAL");
  EXPECT_EQ(decoded->sqlstate(), "28P01");
  EXPECT_EQ(decoded->message(), "pgwarden: upstream authentication failed");
  EXPECT_EQ(decoded->detail(), "");
  EXPECT_EQ(decoded->hint(), "check the credential");
  EXPECT_EQ(decoded->fields.size(), 5u);  // S V C M H: no empty D
}

TEST(ErrorResponse, KnownBytes) {
  std::string wire;
  build_notice_response({.severity = "NOTICE", .sqlstate = "00000", .message = "hi"}, wire);
  EXPECT_EQ(wire, std::string("N\0\0\0\x20SNOTICE\0VNOTICE\0C00000\0Mhi\0\0", 33));
}

TEST(ErrorResponse, NulBytesInTextCannotBreakTheFraming) {
  std::string wire;
  const std::string evil("a\0b", 3);
  build_error_response({.sqlstate = "XX000", .message = evil}, wire);  // severity defaults to ERROR
  auto decoded = ErrorResponse::decode(split_single(wire).body);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->message(), "ab");
}

TEST(ErrorResponse, RoundTripsWithUnknownFieldsInOrder) {
  ErrorResponse e;
  e.fields = {{'S', "ERROR"}, {'V', "ERROR"}, {'C', "42P01"}, {'M', "relation \"x\" does not exist"},
              {'P', "15"},    {'F', "parse_relation.c"}, {'L', "1392"}, {'R', "parserOpenTable"}, {'Z', "future"}};
  expect_round_trip(e);
  expect_truncations_rejected(e);
  NoticeResponse n;
  n.fields = {{'S', "WARNING"}, {'C', "01000"}, {'M', "careful"}};
  expect_round_trip(n);
  expect_truncations_rejected(n);
  expect_round_trip(NoticeResponse{});
}

TEST(ErrorResponse, SeverityFallsBackToLocalized) {
  ErrorResponse e;
  e.fields = {{'S', "ERREUR"}, {'C', "42601"}};
  EXPECT_EQ(e.severity(), "ERREUR");
  e.fields.push_back({'V', "ERROR"});
  EXPECT_EQ(e.severity(), "ERROR");
}

TEST(ServerMessages, RoundTripAndKnownBytes) {
  expect_round_trip(BackendKeyData{4242, "\x01\x02\x03\x04"});
  expect_round_trip(BackendKeyData{1, std::string_view(std::string(32, 'k'))});
  testing::expect_prefixes_rejected(BackendKeyData{4242, "\x01\x02\x03\x04"});
  EXPECT_FALSE(BackendKeyData::decode(std::string(4 + 257, 'k')).ok());

  expect_round_trip(ParameterStatus{"server_version", "15.8"});
  expect_truncations_rejected(ParameterStatus{"TimeZone", "UTC"});

  for (char status : {'I', 'T', 'E'}) expect_round_trip(ReadyForQuery{status});
  expect_truncations_rejected(ReadyForQuery{'I'});
  EXPECT_FALSE(ReadyForQuery::decode("X").ok());
  std::string rfq;
  encode(ReadyForQuery{}, rfq);
  EXPECT_EQ(rfq, std::string("Z\0\0\0\x05I", 6));

  expect_round_trip(NegotiateProtocolVersion{196608, {}});
  NegotiateProtocolVersion npv{196608, {"_pq_.a", "_pq_.b"}};
  expect_round_trip(npv);
  expect_truncations_rejected(npv);
  // A count the body cannot hold, and a negative count.
  EXPECT_FALSE(NegotiateProtocolVersion::decode(std::string_view("\0\x03\0\0\x7f\xff\xff\xff", 8)).ok());
  EXPECT_FALSE(NegotiateProtocolVersion::decode(std::string_view("\0\x03\0\0\xff\xff\xff\xff", 8)).ok());
}

}  // namespace
}  // namespace pgw::pgwire
