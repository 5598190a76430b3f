// SASLprep as PostgreSQL's pg_saslprep applies it to SCRAM passwords: the
// expected bytes are what a PostgreSQL 15 server stored the verifier from
// (the integration test test_tls_upstream.py logs in with such passwords).
#include "pgwire/saslprep.h"

#include <gtest/gtest.h>

namespace pgw::pgwire {
namespace {

TEST(Saslprep, AsciiIsUnchangedEvenWithControlCharacters) {
  EXPECT_EQ(saslprep_password("pencil"), "pencil");
  EXPECT_EQ(saslprep_password(""), "");
  // The profile prohibits U+0007, but PostgreSQL skips it for ASCII.
  EXPECT_EQ(saslprep_password("a\x07z"), "a\x07z");
}

TEST(Saslprep, MapsToNothingAndToSpace) {
  EXPECT_EQ(saslprep_password("pass\u00ADword"), "password");           // soft hyphen: B.1
  EXPECT_EQ(saslprep_password("a\u2060b\uFE0F"), "ab");                 // word joiner, VS16
  // U+200B ZERO WIDTH SPACE is in both tables: the space mapping wins.
  EXPECT_EQ(saslprep_password("a\u200Bb"), "a b");
  EXPECT_EQ(saslprep_password("a\u00A0b\u3000c"), "a b c");             // non-ASCII spaces: C.1.2
}

TEST(Saslprep, NormalisesWithNfkc) {
  EXPECT_EQ(saslprep_password("\u2168"), "IX");                          // ROMAN NUMERAL NINE
  EXPECT_EQ(saslprep_password("\u00AA"), "a");                           // RFC 4013's own example
  EXPECT_EQ(saslprep_password("e\u0301t\u00E9"), "\u00E9t\u00E9");     // composed
  EXPECT_EQ(saslprep_password("\uFB01x"), "fix");                        // ligature
}

TEST(Saslprep, FailureUsesTheRawBytes) {
  // Not UTF-8 (a Latin-1 password, an overlong form, a surrogate).
  for (std::string_view raw : {std::string_view("caf\xE9"), std::string_view("\xC0\x80x"),
                               std::string_view("\xED\xA0\x80")}) {
    EXPECT_EQ(saslprep_password(raw), raw);
  }
  // Prohibited output: private use, a non-ASCII control.
  EXPECT_EQ(saslprep_password("x\uE000"), "x\uE000");
  EXPECT_EQ(saslprep_password("x\u0085"), "x\u0085");
  // Bidirectional rule: RandALCat and LCat together.
  EXPECT_EQ(saslprep_password("\u0627a"), "\u0627a");
  // Unassigned in Unicode 3.2 (stored strings refuse them).
  EXPECT_EQ(saslprep_password("x\u0221"), "x\u0221");
  // Mapped to nothing at all: PostgreSQL refuses an empty result.
  EXPECT_EQ(saslprep_password("\u00AD"), "\u00AD");
  // An embedded NUL is not a C string.
  EXPECT_EQ(saslprep_password(std::string_view("\u00E9\0x", 4)), std::string_view("\u00E9\0x", 4));
}

}  // namespace
}  // namespace pgw::pgwire
