#include "pgwire/byte_io.h"

#include <gtest/gtest.h>

namespace pgw::pgwire {
namespace {

TEST(ByteIo, WriterAndReaderAgreeOnBigEndian) {
  std::string buf;
  ByteWriter w(buf);
  w.u8(0xab);
  w.i16(-2);
  w.i32(0x01020304);
  w.cstring("hi");
  w.bytes(std::string_view("\0x", 2));
  EXPECT_EQ(buf, std::string("\xab\xff\xfe\x01\x02\x03\x04hi\0\0x", 12));

  ByteReader r(buf);
  uint8_t u8 = 0;
  int16_t i16 = 0;
  int32_t i32 = 0;
  std::string_view s, b;
  ASSERT_TRUE(r.read_u8(u8));
  ASSERT_TRUE(r.read_i16(i16));
  ASSERT_TRUE(r.read_i32(i32));
  ASSERT_TRUE(r.read_cstring(s));
  ASSERT_TRUE(r.read_bytes(2, b));
  EXPECT_EQ(u8, 0xab);
  EXPECT_EQ(i16, -2);
  EXPECT_EQ(i32, 0x01020304);
  EXPECT_EQ(s, "hi");
  EXPECT_EQ(b, std::string_view("\0x", 2));
  EXPECT_TRUE(r.at_end());
}

TEST(ByteIo, ReaderFailsInsteadOfReadingPastTheEnd) {
  ByteReader r(std::string_view("\x01\x02\x03", 3));
  int32_t i32 = 7;
  EXPECT_FALSE(r.read_i32(i32));
  EXPECT_EQ(i32, 7);
  EXPECT_EQ(r.position(), 0u);  // a failed read consumes nothing
  int16_t i16 = 0;
  EXPECT_TRUE(r.read_i16(i16));
  EXPECT_FALSE(r.read_i16(i16));
  std::string_view s;
  EXPECT_FALSE(r.read_cstring(s));  // no terminator left
  EXPECT_FALSE(r.read_bytes(2, s));
  EXPECT_TRUE(r.read_bytes(1, s));
  EXPECT_TRUE(r.at_end());
  uint8_t u8;
  EXPECT_FALSE(r.read_u8(u8));
}

TEST(ByteIo, BeginEndMessageBackPatchesTheLength) {
  std::string buf = "prefix";
  ByteWriter w(buf);
  const size_t mark = w.begin_message('Q');
  w.cstring("SELECT 1");
  w.end_message(mark);
  EXPECT_EQ(buf, std::string("prefixQ\0\0\0\x0dSELECT 1\0", 20));
}

}  // namespace
}  // namespace pgw::pgwire
