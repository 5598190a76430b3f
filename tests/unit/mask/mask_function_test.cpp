#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "mask/keyed_hash.h"
#include "mask/mask_function.h"

namespace pgw::mask {
namespace {

// The config spelling through the one parser, keyed like the engine keys it.
Result<MaskFunction> parse(std::string_view spec, std::string_view key = {}) {
  Result<MaskSpec> parsed = parse_mask_spec(spec);
  if (!parsed) return make_error(parsed.error());
  std::shared_ptr<const KeyedHash> hash_key;
  if (!key.empty()) hash_key = KeyedHash::create(key).value();
  return MaskFunction::from_spec(*parsed, hash_key);
}

MaskFunction parse_ok(std::string_view spec, std::string_view key = {}) {
  Result<MaskFunction> f = parse(spec, key);
  EXPECT_TRUE(f.ok()) << spec << ": " << (f.ok() ? "" : f.error());
  return f.ok() ? *f : MaskFunction();
}

std::string parse_error(std::string_view spec, std::string_view key = {}) {
  Result<MaskFunction> f = parse(spec, key);
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

TEST(Parse, EveryFormAndSpacesAroundTheParts) {
  EXPECT_EQ(parse_ok(" redact ").kind(), MaskFunction::Kind::redact);
  EXPECT_EQ(parse_ok("null").kind(), MaskFunction::Kind::null);
  EXPECT_EQ(parse_ok("email").kind(), MaskFunction::Kind::email);
  EXPECT_EQ(parse_ok("hash", "k").kind(), MaskFunction::Kind::hash);
  const MaskSpec p = parse_mask_spec("partial ( first = 2 , last = 4 )").value();
  EXPECT_EQ(p.kind, MaskSpec::Kind::partial);
  EXPECT_EQ(p.first, 2u);
  EXPECT_EQ(p.last, 4u);
  EXPECT_EQ(parse_mask_spec("partial(last=4,first=1)")->first, 1u);
  EXPECT_EQ(parse_mask_spec("partial(last=4)")->first, 0u);
  EXPECT_EQ(parse_mask_spec("fixed('it''s hidden')")->fixed_text, "it's hidden");
  EXPECT_EQ(parse_mask_spec("fixed('')")->fixed_text, "");
  EXPECT_EQ(parse_mask_spec("partial(last=1024)")->last, kMaxPartialKeep);
  EXPECT_EQ(parse_mask_spec("fixed('" + std::string(kMaxFixedText, 'x') + "')")->fixed_text.size(), kMaxFixedText);
}

// Every word of the config file is lower case, mask function names too: one
// spelling, and a clear hint for the others.
TEST(Parse, NamesAreLowerCase) {
  for (const char* spec : {"Redact", "NULL", "PARTIAL(last=4)", "Email", "Hash", "partial(LAST=4)"}) {
    EXPECT_FALSE(parse_mask_spec(spec).ok()) << spec;
  }
  EXPECT_NE(parse_error("Redact").find("did you mean \"redact\""), std::string::npos);
  EXPECT_NE(parse_error("NULL").find("did you mean \"null\""), std::string::npos);
}

TEST(Parse, DescribeRoundTrips) {
  for (const char* spec : {"redact", "partial(last=4)", "partial(first=2)", "partial(first=2,last=4)", "hash",
                           "null", "email", "fixed('it''s')", "fixed('')"}) {
    const MaskSpec parsed = parse_mask_spec(spec).value();
    EXPECT_EQ(parsed.to_string(), spec);
    EXPECT_EQ(parse_mask_spec(parsed.to_string()).value(), parsed);
  }
  EXPECT_EQ(parse_mask_spec("partial( first = 2 , last=3 )")->to_string(), "partial(first=2,last=3)");
  EXPECT_EQ(parse_ok("partial(last=4)").describe(), "partial(last=4)");
}

TEST(Parse, ClearErrors) {
  EXPECT_NE(parse_error("").find("empty mask function"), std::string::npos);
  EXPECT_NE(parse_error("scramble").find("unknown mask function \"scramble\""), std::string::npos);
  EXPECT_NE(parse_error("scramble").find("redact | partial(first=N,last=M) | hash"), std::string::npos);
  EXPECT_NE(parse_error("partial").find("partial needs first=N, last=M or both"), std::string::npos);
  EXPECT_NE(parse_error("partial()").find("partial needs"), std::string::npos);
  EXPECT_NE(parse_error("partial(middle=2)").find("expected first=N or last=M, got \"middle\""), std::string::npos);
  EXPECT_NE(parse_error("partial(last=4,last=2)").find("last is given twice"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=-1)").find("last must be an integer 0..1024"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=x)").find("got \"x\""), std::string::npos);
  EXPECT_NE(parse_error("partial(last=1025)").find("0..1024"), std::string::npos);
  EXPECT_NE(parse_error("partial(last 4)").find("expected '=' after last"), std::string::npos);
  EXPECT_NE(parse_error("partial(last=4").find("expected ',' or ')'"), std::string::npos);
  EXPECT_NE(parse_error("redact()").find("redact takes no arguments"), std::string::npos);
  EXPECT_NE(parse_error("redact please").find("unexpected \"please\""), std::string::npos);
  EXPECT_NE(parse_error("fixed(n/a)").find("single quotes"), std::string::npos);
  EXPECT_NE(parse_error("fixed('n/a)").find("not closed"), std::string::npos);
  EXPECT_NE(parse_error(std::string("fixed('a\0b')", 12)).find("NUL"), std::string::npos);
  EXPECT_NE(parse_error("fixed('" + std::string(kMaxFixedText + 1, 'x') + "')").find("longer than 1024"),
            std::string::npos);
  EXPECT_NE(parse_error("hash").find("needs a key"), std::string::npos);
  EXPECT_NE(parse_error("!!").find("unknown mask function \"!!\""), std::string::npos);
  // A hostile spec stays one line in the message.
  EXPECT_EQ(parse_error("scram\nble").find('\n'), std::string::npos);
  for (const char* bad : {"partial(last=)", "partial(last=4,)", "partial(,last=4)", "partial(last=99999)", "fixed",
                          "fixed()", "fixed('a'b')", "fixed('a')x", "hash(sha1)", "nul", "redact\n"}) {
    EXPECT_FALSE(parse_mask_spec(bad).ok()) << bad;
  }
}

TEST(Parse, SharedKey) {
  Result<std::shared_ptr<const KeyedHash>> key = KeyedHash::create("Jefe");
  ASSERT_TRUE(key.ok());
  Result<MaskFunction> f = MaskFunction::from_spec(parse_mask_spec("hash").value(), *key);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->apply("what do ya want for nothing?"), "h:5bdcc146bf60754e");
  EXPECT_FALSE(MaskFunction::from_spec(parse_mask_spec("hash").value(), nullptr).ok());
}

}  // namespace
}  // namespace pgw::mask
