#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "mask/keyed_hash.h"
#include "mask/mask_function.h"

namespace pgw::mask {
namespace {

MaskFunction parse_ok(std::string_view spec, std::string_view key = {}) {
  Result<MaskFunction> f = parse_mask_function(spec, key);
  EXPECT_TRUE(f.ok()) << spec << ": " << (f.ok() ? "" : f.error());
  return f.ok() ? *f : MaskFunction();
}

std::string parse_error(std::string_view spec, std::string_view key = {}) {
  Result<MaskFunction> f = parse_mask_function(spec, key);
  EXPECT_FALSE(f.ok()) << spec;
  return f.ok() ? std::string() : f.error();
}

std::string masked(std::string_view spec, std::string_view value, std::string_view key = {}) {
  std::optional<std::string> out = parse_ok(spec, key).apply(value);
  EXPECT_TRUE(out.has_value()) << spec;
  return out.value_or("<NULL>");
}

TEST(Redact, SameNumberOfCharacters) {
  EXPECT_EQ(masked("redact", "123-45-6789"), "***********");
  EXPECT_EQ(masked("redact", ""), "");
  EXPECT_EQ(masked("redact", "José"), "****");         // 4 code points, 5 bytes
  EXPECT_EQ(masked("redact", "日本語"), "***");
  EXPECT_EQ(masked("redact", "a😀b"), "***");          // 4-byte character
}

TEST(Redact, MalformedUtf8BecomesOneStarPerByte) {
  EXPECT_EQ(masked("redact", std::string("a\xC3", 2)), "**");       // truncated sequence
  EXPECT_EQ(masked("redact", std::string("\xE9t\xE9", 3)), "***");  // LATIN1 bytes
}

TEST(Partial, KeepsSeparatorsAndTheAskedEnds) {
  EXPECT_EQ(masked("partial(last=4)", "123-45-6789"), "***-**-6789");
  EXPECT_EQ(masked("partial(first=2)", "123-45-6789"), "12*-**-****");
  EXPECT_EQ(masked("partial(first=1,last=2)", "john.smith"), "j***.***th");
  EXPECT_EQ(masked("partial(last=4)", "4111 1111 1111 1111"), "**** **** **** 1111");
  EXPECT_EQ(masked("partial(first=0,last=0)", "(415) 555-2671"), "(***) ***-****");
}

TEST(Partial, CountsCodePointsAndNeverSplitsThem) {
  EXPECT_EQ(masked("partial(first=1,last=1)", "Ærøskøbing"), "Æ********g");
  EXPECT_EQ(masked("partial(last=2)", "東京都港区"), "***港区");
  EXPECT_EQ(masked("partial(first=1)", "Zoë Saldaña"), "Z** *******");
}

TEST(Partial, NeverHandsOutTheWholeValue) {
  EXPECT_EQ(masked("partial(last=4)", "6789"), "****");
  EXPECT_EQ(masked("partial(first=2,last=2)", "abcd"), "****");
  EXPECT_EQ(masked("partial(first=2,last=2)", "ab-cd"), "**-**");
  EXPECT_EQ(masked("partial(first=2,last=2)", "abcde"), "ab*de");
  EXPECT_EQ(masked("partial(last=4)", ""), "");
  EXPECT_EQ(masked("partial(last=4)", "---"), "---");  // nothing to keep or mask
}

TEST(Hash, StablePerKeyAndDifferentAcrossKeys) {
  const std::string a1 = masked("hash", "123-45-6789", "key-one");
  const std::string a2 = masked("hash", "123-45-6789", "key-one");
  const std::string b = masked("hash", "123-45-6789", "key-two");
  const std::string c = masked("hash", "123-45-6780", "key-one");
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b);
  EXPECT_NE(a1, c);
  EXPECT_EQ(a1.size(), 18u);
  EXPECT_EQ(a1.substr(0, 2), "h:");
  EXPECT_EQ(a1.find_first_not_of("0123456789abcdef", 2), std::string::npos);
}

// RFC 4231 test vectors: the first 8 bytes of HMAC-SHA256, in hex.
TEST(Hash, MatchesRfc4231) {
  EXPECT_EQ(masked("hash", "what do ya want for nothing?", "Jefe"), "h:5bdcc146bf60754e");
  EXPECT_EQ(masked("hash", "Hi There", std::string(20, '\x0b')), "h:b0344c61d8db3853");
  // A key longer than the SHA-256 block is hashed first.
  EXPECT_EQ(masked("hash", "Test Using Larger Than Block-Size Key - Hash Key First", std::string(131, '\xaa')),
            "h:60e431591ee0b67f");
}

TEST(Hash, AgreesWithOpenSslHmacOnManyInputs) {
  const std::string key = "a moderately long secret key for pgwarden masking";
  Result<std::shared_ptr<const KeyedHash>> kh = KeyedHash::create(key);
  ASSERT_TRUE(kh.ok());
  std::string msg;
  for (int n = 0; n < 200; ++n) {
    msg.push_back(static_cast<char>(n * 37));
    unsigned char expected[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), expected, &len);
    const KeyedHash::Digest got = (*kh)->digest(msg);
    ASSERT_EQ(0, std::memcmp(expected, got.data(), 32)) << n;
  }
}

TEST(Hash, EmptyValueStillHashes) { EXPECT_EQ(masked("hash", "", "k").size(), 18u); }

TEST(Null, IsNull) {
  EXPECT_FALSE(parse_ok("null").apply("anything").has_value());
  std::string out = "x";
  EXPECT_FALSE(parse_ok("null").apply_into("anything", out));
  EXPECT_EQ(out, "x");
}

TEST(Fixed, ReturnsTheText) {
  EXPECT_EQ(masked("fixed('n/a')", "123-45-6789"), "n/a");
  EXPECT_EQ(masked("fixed('O''Brien')", "x"), "O'Brien");
  EXPECT_EQ(masked("fixed('')", "x"), "");
  EXPECT_EQ(masked("fixed( '  spaced  ' )", "x"), "  spaced  ");
  EXPECT_EQ(masked("fixed('ñ')", "x"), "ñ");
}

TEST(Email, KeepsTheDomain) {
  EXPECT_EQ(masked("email", "john@example.com"), "j***@example.com");
  EXPECT_EQ(masked("email", "john.smith+tag@mail.example.co.uk"), "j*************@mail.example.co.uk");
  EXPECT_EQ(masked("email", "j@example.com"), "*@example.com");
  EXPECT_EQ(masked("email", "josé@exämple.de"), "j***@exämple.de");
  EXPECT_EQ(masked("email", "élodie@example.fr"), "é*****@example.fr");
  EXPECT_EQ(masked("email", "john@example.com    "), "j***@example.com    ");  // char(n) padding
}

TEST(Email, NonEmailsFallBackToRedact) {
  EXPECT_EQ(masked("email", "not an email"), "************");
  EXPECT_EQ(masked("email", "john@localhost"), "**************");
  EXPECT_EQ(masked("email", "a b@example.com"), "***************");
  EXPECT_EQ(masked("email", "john@example.com and more"), "*************************");
  EXPECT_EQ(masked("email", ""), "");
}

TEST(Parse, AcceptsSpacesAndCase) {
  EXPECT_EQ(parse_ok(" Redact ").kind(), MaskFunction::Kind::redact);
  EXPECT_EQ(parse_ok("redact()").kind(), MaskFunction::Kind::redact);
  const MaskFunction p = parse_ok("PARTIAL ( first = 2 , last = 4 )");
  EXPECT_EQ(p.kind(), MaskFunction::Kind::partial);
  EXPECT_EQ(p.keep_first(), 2u);
  EXPECT_EQ(p.keep_last(), 4u);
  EXPECT_EQ(parse_ok("partial(last=4,first=1)").keep_first(), 1u);
  EXPECT_EQ(parse_ok("NULL").kind(), MaskFunction::Kind::null);
  EXPECT_EQ(parse_ok("email").kind(), MaskFunction::Kind::email);
  EXPECT_EQ(parse_ok("hash", "k").kind(), MaskFunction::Kind::hash);
}

TEST(Parse, DescribeRoundTrips) {
  for (const char* spec : {"redact", "partial(first=2,last=4)", "null", "email", "fixed('it''s')"}) {
    EXPECT_EQ(parse_ok(spec).describe(), spec);
    EXPECT_EQ(parse_ok(parse_ok(spec).describe()).describe(), spec);
  }
}

TEST(Parse, ClearErrors) {
  EXPECT_NE(parse_error("").find("empty mask function"), std::string::npos);
  EXPECT_NE(parse_error("scramble").find("unknown mask function 'scramble'"), std::string::npos);
  EXPECT_NE(parse_error("scramble").find("partial(first=N,last=M)"), std::string::npos);
  EXPECT_NE(parse_error("partial").find("partial needs first=N and/or last=M"), std::string::npos);
  EXPECT_NE(parse_error("partial()").find("partial needs"), std::string::npos);
  EXPECT_NE(parse_error("partial(middle=2)").find("unknown argument 'middle'"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=4,last=2)").find("'last' is given twice"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=-1)").find("whole number from 0 to 1000"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=x)").find("got 'x'"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=1001)").find("from 0 to 1000"), std::string::npos);
  EXPECT_NE(parse_error("partial(last 4)").find("expected '=' after last"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=4").find("expected ',' or ')'"), std::string::npos);
  EXPECT_NE(parse_error("redact(3)").find("redact takes no arguments"), std::string::npos);
  EXPECT_NE(parse_error("redact please").find("unexpected 'please'"), std::string::npos);
  EXPECT_NE(parse_error("fixed(n/a)").find("single-quoted"), std::string::npos);
  EXPECT_NE(parse_error("fixed('n/a)").find("not closed"), std::string::npos);
  EXPECT_NE(parse_error(std::string("fixed('a\0b')", 12)).find("NUL"), std::string::npos);
  EXPECT_NE(parse_error("hash").find("needs a key"), std::string::npos);
  EXPECT_NE(parse_error("!!").find("unknown mask function '!!'"), std::string::npos);
}

TEST(Parse, SharedKeyOverload) {
  Result<std::shared_ptr<const KeyedHash>> key = KeyedHash::create("Jefe");
  ASSERT_TRUE(key.ok());
  Result<MaskFunction> f = parse_mask_function("hash", *key);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->apply("what do ya want for nothing?"), "h:5bdcc146bf60754e");
  EXPECT_FALSE(parse_mask_function("hash", std::shared_ptr<const KeyedHash>()).ok());
}

}  // namespace
}  // namespace pgw::mask
