#include "pgwire/startup.h"

#include <gtest/gtest.h>

#include "pgwire/byte_io.h"

namespace pgw::pgwire {
namespace {

StartupPacket decode_ok(std::string_view packet) {
  auto extracted = extract_startup_packet(packet);
  EXPECT_TRUE(extracted.ok()) << (extracted.ok() ? "" : extracted.error());
  EXPECT_TRUE(extracted.ok() && extracted.value() && extracted.value()->size() == packet.size());
  auto decoded = decode_startup_packet(packet);
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error());
  return decoded.ok() ? decoded.value() : StartupPacket{};
}

template <typename T>
void expect_startup_round_trip(const T& msg) {
  std::string wire;
  encode(msg, wire);
  const StartupPacket decoded = decode_ok(wire);
  ASSERT_TRUE(std::holds_alternative<T>(decoded));
  EXPECT_TRUE(std::get<T>(decoded) == msg);
  std::string again;
  encode(std::get<T>(decoded), again);
  EXPECT_EQ(again, wire);
}

// A raw startup packet with the given code and payload, length computed.
std::string raw_packet(int32_t code, std::string_view payload) {
  std::string out;
  ByteWriter w(out);
  const size_t mark = w.begin_untyped();
  w.i32(code);
  w.bytes(payload);
  w.end_message(mark);
  return out;
}

TEST(Startup, StartupMessageRoundTripsIn30And32) {
  for (int32_t version : {kProtocol30, kProtocol32}) {
    StartupMessage msg;
    msg.protocol_version = version;
    msg.parameters = {{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"},
                      {"options", "-c geqo=off"}, {"_pq_.some_option", ""}};
    expect_startup_round_trip(msg);
  }
}

TEST(Startup, KnownBytesOfAStartupMessage) {
  StartupMessage msg;
  msg.parameters = {{"user", "u"}};
  std::string wire;
  encode(msg, wire);
  EXPECT_EQ(wire, std::string("\0\0\0\x10\0\x03\0\0user\0u\0\0", 16));
  const auto decoded = std::get<StartupMessage>(decode_ok(wire));
  EXPECT_EQ(decoded.user(), "u");
  EXPECT_EQ(decoded.database(), "u");  // defaults to the user name
  EXPECT_EQ(protocol_minor(decoded.protocol_version), 0);
}

TEST(Startup, SpecialRequestsRoundTrip) {
  expect_startup_round_trip(SslRequest{});
  expect_startup_round_trip(GssEncRequest{});
  expect_startup_round_trip(CancelRequest{1234, "\x01\x02\x03\x04"});
  expect_startup_round_trip(CancelRequest{-7, std::string(32, '\xaa')});   // PostgreSQL 18's key size
  expect_startup_round_trip(CancelRequest{99, std::string(256, '\x00')});  // protocol maximum
  std::string ssl;
  encode(SslRequest{}, ssl);
  EXPECT_EQ(ssl, std::string("\0\0\0\x08\x04\xd2\x16\x2f", 8));  // 80877103 = 0x04d2162f
}

TEST(Startup, RejectsBadStartupMessages) {
  struct Case {
    const char* name;
    std::string packet;
  };
  const std::string user = std::string("user\0bob\0", 9);
  const Case cases[] = {
      {"missing user", raw_packet(kProtocol30, std::string("database\0db\0\0", 13))},
      {"duplicate key", raw_packet(kProtocol30, user + std::string("user\0eve\0\0", 10))},
      {"no terminator", raw_packet(kProtocol30, user)},
      {"key without value", raw_packet(kProtocol30, user + std::string("database", 8))},
      {"bytes after terminator", raw_packet(kProtocol30, user + std::string("\0x", 2))},
      {"protocol 2", raw_packet(0x00020000, user + std::string(1, '\0'))},
      {"protocol 4", raw_packet(0x00040000, user + std::string(1, '\0'))},
      {"ssl with payload", raw_packet(kSslRequestCode, "x")},
      {"gssenc with payload", raw_packet(kGssEncRequestCode, "x")},
      {"cancel key too short", raw_packet(kCancelRequestCode, std::string("\0\0\0\x01\x01\x02\x03", 7))},
      {"cancel key too long", raw_packet(kCancelRequestCode, std::string(4, '\0') + std::string(257, 'k'))},
      {"cancel without pid", raw_packet(kCancelRequestCode, "ab")},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(decode_startup_packet(c.packet).ok()) << c.name;
  }
  auto missing_user = decode_startup_packet(cases[0].packet);
  EXPECT_EQ(missing_user.error(), "no PostgreSQL user name specified in startup packet");
}

TEST(Startup, EnforcesThePacketSizeLimits) {
  // A 10000-byte packet is fine, 10001 is refused from its length word alone.
  const std::string filler(10000 - 21, 'v');  // 21 = length, version, "user\0bob\0", "a\0", two NULs
  StartupMessage big;
  big.parameters = {{"user", "bob"}, {"a", filler}};
  std::string wire;
  encode(big, wire);
  ASSERT_EQ(wire.size(), kMaxStartupPacketSize);
  decode_ok(wire);

  std::string too_big;
  ByteWriter(too_big).u32(10001);
  EXPECT_FALSE(extract_startup_packet(too_big).ok());
  std::string too_small;
  ByteWriter(too_small).u32(7);
  EXPECT_FALSE(extract_startup_packet(too_small).ok());
  // The length word must match the packet handed to the decoder.
  EXPECT_FALSE(decode_startup_packet(wire.substr(0, wire.size() - 1)).ok());
}

TEST(Startup, ExtractWaitsForTheWholePacketAndLeavesTheRest) {
  std::string wire;
  encode(SslRequest{}, wire);
  for (size_t n = 0; n < wire.size(); ++n) {
    auto p = extract_startup_packet(std::string_view(wire).substr(0, n));
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p.value().has_value());
  }
  // Bytes after the packet (a client that did not wait for the answer) are
  // left to the caller, who must discard them (CVE-2021-23222).
  const std::string with_extra = wire + "Q";
  auto p = extract_startup_packet(with_extra);
  ASSERT_TRUE(p.ok() && p.value());
  EXPECT_EQ(p.value()->size(), 8u);
}

TEST(Startup, EncryptionRefusalIsOneByte) {
  std::string out;
  encode_encryption_refused(out);
  EXPECT_EQ(out, "N");
}

}  // namespace
}  // namespace pgw::pgwire
