// Every typed message: round trip, truncation, and the strict checks that
// go beyond lengths (counts, format codes, targets, NULL lengths).
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "pgwire/pgwire.h"
#include "sample_messages.h"
#include "test_util.h"

namespace pgw::pgwire {
namespace {

using testing::sample_messages;
using testing::split_single;

// Messages whose last field runs to the end of the body, so a shorter or
// longer body can still be a valid (different) message.
const std::set<std::string> kOpenEnded = {"CopyData", "SASLResponse", "GSSResponse", "AuthenticationSASLContinue",
                                          "BackendKeyData"};

TEST(Messages, EverySampleRoundTripsByteForByte) {
  ASSERT_GE(sample_messages().size(), 45u);
  for (const auto& s : sample_messages()) {
    SCOPED_TRACE(s.name);
    const Message m = split_single(s.wire);
    std::string reencoded;
    ASSERT_TRUE(s.decode_and_reencode(m.body, reencoded));
    EXPECT_EQ(reencoded, s.wire);
    EXPECT_TRUE(s.decoded_equals_original);
  }
}

TEST(Messages, EveryTruncationAndTrailingByteIsRejected) {
  for (const auto& s : sample_messages()) {
    if (kOpenEnded.count(s.name)) continue;
    SCOPED_TRACE(s.name);
    const std::string body(split_single(s.wire).body);
    std::string ignored;
    for (size_t n = 0; n < body.size(); ++n) {
      EXPECT_FALSE(s.decode_and_reencode(std::string_view(body).substr(0, n), ignored)) << "prefix " << n;
    }
    EXPECT_FALSE(s.decode_and_reencode(body + '\0', ignored)) << "trailing byte";
  }
}

TEST(Messages, TypeBytesMatchTheProtocol) {
  std::string wire;
  const std::pair<std::string, char> expected[] = {
      {"Query", 'Q'}, {"Parse", 'P'}, {"Bind", 'B'}, {"Close", 'C'}, {"Describe", 'D'}, {"Execute", 'E'},
      {"FunctionCall", 'F'}, {"Flush", 'H'}, {"Sync", 'S'}, {"Terminate", 'X'}, {"CopyFail", 'f'},
      {"PasswordMessage", 'p'}, {"CopyData", 'd'}, {"CopyDone", 'c'}, {"AuthenticationOk", 'R'},
      {"BackendKeyData", 'K'}, {"ParseComplete", '1'}, {"BindComplete", '2'}, {"CloseComplete", '3'},
      {"CommandComplete", 'C'}, {"CopyInResponse", 'G'}, {"CopyOutResponse", 'H'}, {"CopyBothResponse", 'W'},
      {"DataRow", 'D'}, {"EmptyQueryResponse", 'I'}, {"ErrorResponse", 'E'}, {"FunctionCallResponse", 'V'},
      {"NegotiateProtocolVersion", 'v'}, {"NoData", 'n'}, {"NoticeResponse", 'N'},
      {"NotificationResponse", 'A'}, {"ParameterDescription", 't'}, {"ParameterStatus", 'S'},
      {"PortalSuspended", 's'}, {"ReadyForQuery", 'Z'}, {"RowDescription", 'T'}};
  for (const auto& [name, type] : expected) {
    bool found = false;
    for (const auto& s : sample_messages()) {
      if (s.name == name) {
        EXPECT_EQ(s.wire[0], type) << name;
        found = true;
      }
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST(Messages, KnownBytesOfAnExtendedQueryRoundTrip) {
  std::string wire;
  encode(Parse{"", "SELECT $1", OidArray(OidArray::pack({23}))}, wire);
  EXPECT_EQ(wire, std::string("P\0\0\0\x15\0SELECT $1\0\0\x01\0\0\0\x17", 22));
  wire.clear();
  const Value params[] = {Value("7")};
  const std::string raw = ValueList::pack(params);
  encode(Bind{"", "", Int16Array(), ValueList(1, raw), Int16Array()}, wire);
  EXPECT_EQ(wire, std::string("B\0\0\0\x11\0\0\0\0\0\x01\0\0\0\x01" "7\0\0", 18));
  wire.clear();
  encode(Execute{"", 0}, wire);
  encode(Sync{}, wire);
  EXPECT_EQ(wire, std::string("E\0\0\0\x09\0\0\0\0\0S\0\0\0\x04", 15));
}

TEST(Bind, ResolvesParameterFormats) {
  const std::string values = ValueList::pack(std::vector<Value>{Value("a"), Value("b")});
  Bind none{"", "", Int16Array(), ValueList(2, values), Int16Array()};
  EXPECT_EQ(none.parameter_format(1), kFormatText);
  const std::string one = Int16Array::pack({1});
  Bind all_binary{"", "", Int16Array(one), ValueList(2, values), Int16Array()};
  EXPECT_EQ(all_binary.parameter_format(0), kFormatBinary);
  EXPECT_EQ(all_binary.parameter_format(1), kFormatBinary);
  const std::string each = Int16Array::pack({0, 1});
  Bind mixed{"", "", Int16Array(each), ValueList(2, values), Int16Array()};
  EXPECT_EQ(mixed.parameter_format(0), kFormatText);
  EXPECT_EQ(mixed.parameter_format(1), kFormatBinary);
}

// Bind body: portal "", statement "", format codes, values, result formats.
std::string bind_body(std::string_view formats, std::string_view values, std::string_view results) {
  return std::string("\0\0", 2) + std::string(formats) + std::string(values) + std::string(results);
}

TEST(Bind, RejectsInconsistentCountsAndCodes) {
  const std::string two_values = std::string("\0\x02", 2) + std::string("\0\0\0\x01" "a\xff\xff\xff\xff", 9);
  const std::string no_formats("\0\0", 2);
  ASSERT_TRUE(Bind::decode(bind_body(no_formats, two_values, no_formats)).ok());
  // Three format codes for two parameters.
  EXPECT_FALSE(Bind::decode(bind_body(std::string("\0\x03\0\0\0\0\0\0", 8), two_values, no_formats)).ok());
  // Format code 2, for a parameter and for a result.
  EXPECT_FALSE(Bind::decode(bind_body(std::string("\0\x01\0\x02", 4), two_values, no_formats)).ok());
  EXPECT_FALSE(Bind::decode(bind_body(no_formats, two_values, std::string("\0\x01\0\x02", 4))).ok());
  // A value length of -2, and one longer than the body.
  EXPECT_FALSE(Bind::decode(bind_body(no_formats, std::string("\0\x01\xff\xff\xff\xfe", 6), no_formats)).ok());
  EXPECT_FALSE(Bind::decode(bind_body(no_formats, std::string("\0\x01\0\0\0\x09" "abc", 9), no_formats)).ok());
  // Count says three values, two present.
  std::string three = two_values;
  three[1] = '\x03';
  EXPECT_FALSE(Bind::decode(bind_body(no_formats, three, no_formats)).ok());
}

TEST(FunctionCall, RejectsBadFormats) {
  const std::string base = std::string("\0\0\x06\x3e", 4) + std::string("\0\0", 2) + std::string("\0\0", 2);
  ASSERT_TRUE(FunctionCall::decode(base + std::string("\0\x01", 2)).ok());
  EXPECT_FALSE(FunctionCall::decode(base + std::string("\0\x02", 2)).ok());
  // One argument format code is fine for zero arguments; two are not.
  const std::string two_formats = std::string("\0\0\x06\x3e\0\x02\0\0\0\0\0\0\0\0", 14);
  EXPECT_FALSE(FunctionCall::decode(two_formats).ok());
}

TEST(CloseAndDescribe, RejectUnknownTargets) {
  EXPECT_TRUE(Close::decode(std::string("Sname\0", 6)).ok());
  EXPECT_TRUE(Describe::decode(std::string("P\0", 2)).ok());
  EXPECT_FALSE(Close::decode(std::string("Xname\0", 6)).ok());
  EXPECT_FALSE(Describe::decode(std::string("s\0", 2)).ok());
}

TEST(EmptyMessages, RejectABody) {
  EXPECT_TRUE(Sync::decode("").ok());
  EXPECT_FALSE(Sync::decode("x").ok());
  EXPECT_FALSE(NoData::decode(std::string(1, '\0')).ok());
  std::string wire;
  encode(Terminate{}, wire);
  EXPECT_EQ(wire, std::string("X\0\0\0\x04", 5));
}

TEST(CopyResponses, CheckFormats) {
  // Text COPY of two text columns is fine; a binary column in it is not.
  EXPECT_TRUE(CopyOutResponse::decode(std::string("\0\0\x02\0\0\0\0", 7)).ok());
  EXPECT_FALSE(CopyOutResponse::decode(std::string("\0\0\x02\0\0\0\x01", 7)).ok());
  EXPECT_TRUE(CopyInResponse::decode(std::string("\x01\0\x02\0\0\0\x01", 7)).ok());
  EXPECT_FALSE(CopyInResponse::decode(std::string("\x02\0\0", 3)).ok());
  EXPECT_FALSE(CopyBothResponse::decode(std::string("\x01\0\x01\0\x05", 5)).ok());
}

TEST(DataRow, IteratesColumnsWithoutCopying) {
  const std::string body = std::string("\0\x04", 2) + std::string("\0\0\0\x03" "abc", 7) +
                           std::string("\xff\xff\xff\xff", 4) + std::string("\0\0\0\0", 4) +
                           std::string("\0\0\0\x02" "\0z", 6);
  auto row = DataRow::decode(body);
  ASSERT_TRUE(row.ok()) << row.error();
  std::vector<Value> columns(row->columns.begin(), row->columns.end());
  ASSERT_EQ(columns.size(), 4u);
  EXPECT_EQ(columns[0], Value("abc"));
  EXPECT_EQ(columns[1], std::nullopt);
  EXPECT_EQ(columns[2], Value(""));  // empty string, not NULL
  EXPECT_EQ(columns[3], Value(std::string_view("\0z", 2)));
  // Views point into the input buffer.
  EXPECT_EQ(columns[0]->data(), body.data() + 6);
}

TEST(DataRow, RejectsBadColumnLengths) {
  EXPECT_FALSE(DataRow::decode(std::string("\0\x01\xff\xff\xff\xfe", 6)).ok());   // -2
  EXPECT_FALSE(DataRow::decode(std::string("\0\x01\x7f\xff\xff\xff", 6)).ok());   // beyond the body
  EXPECT_FALSE(DataRow::decode(std::string("\0\x02\0\0\0\x01" "a", 7)).ok());     // one column short
  EXPECT_FALSE(DataRow::decode(std::string("\0\x01\0\0\0\x01" "ab", 8)).ok());    // trailing byte
}

TEST(DataRow, WriterMatchesEncode) {
  const Value values[] = {Value("1"), std::nullopt, Value(""), Value("alice@example.com")};
  const std::string raw = ValueList::pack(values);
  std::string expected = "prefix";
  encode(DataRow{ValueList(4, raw)}, expected);

  std::string built = "prefix";
  DataRowWriter writer(built);
  for (const Value& v : values) writer.add_value(v);
  writer.finish();
  EXPECT_EQ(built, expected);

  std::string literal_built = "prefix";
  DataRowWriter literal(literal_built);
  literal.add("1");
  literal.add_null();
  literal.add(std::string());
  literal.add(std::string("alice@example.com"));
  literal.finish();
  EXPECT_EQ(literal_built, expected);
}

TEST(RowDescription, IteratesFields) {
  const FieldDescription fields[] = {
      {"id", 16384, 1, 23, 4, -1, kFormatText},
      {"", 0, 0, 25, -1, -1, kFormatBinary},
  };
  std::string wire;
  encode_row_description(fields, wire);
  auto decoded = RowDescription::decode(split_single(wire).body);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  std::vector<FieldDescription> seen(decoded->fields.begin(), decoded->fields.end());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], fields[0]);
  EXPECT_EQ(seen[1], fields[1]);
}

TEST(RowDescription, RejectsBadFormatAndMissingTerminator) {
  const FieldDescription bad[] = {{"x", 0, 0, 25, -1, -1, 2}};
  std::string wire;
  encode_row_description(bad, wire);
  EXPECT_FALSE(RowDescription::decode(split_single(wire).body).ok());
  EXPECT_FALSE(RowDescription::decode(std::string("\0\x01name", 6)).ok());
}

TEST(FunctionCallResponse, NullAndLengths) {
  EXPECT_EQ(FunctionCallResponse::decode(std::string("\xff\xff\xff\xff", 4)).value().result, std::nullopt);
  EXPECT_FALSE(FunctionCallResponse::decode(std::string("\xff\xff\xff\xfe", 4)).ok());
  EXPECT_FALSE(FunctionCallResponse::decode(std::string("\0\0\0\x02" "a", 5)).ok());
}

TEST(MessageTypes, NamesDependOnDirection) {
  EXPECT_EQ(frontend_message_name('D'), "Describe");
  EXPECT_EQ(backend_message_name('D'), "DataRow");
  EXPECT_EQ(frontend_message_name('Z'), "");
  EXPECT_EQ(backend_message_name('Q'), "");
  for (const auto& s : sample_messages()) {
    const char type = s.wire[0];
    EXPECT_FALSE(frontend_message_name(type).empty() && backend_message_name(type).empty()) << s.name;
  }
}

TEST(MessageTypes, DecodeMessageChecksTheType) {
  std::string wire;
  encode(ReadyForQuery{}, wire);
  const Message m = split_single(wire);
  EXPECT_TRUE(decode_message<ReadyForQuery>(m).ok());
  auto wrong = decode_message<CommandComplete>(m);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error(), "expected a message of type 'C', got 'Z'");
}

}  // namespace
}  // namespace pgw::pgwire
