#include <gtest/gtest.h>

#include "detector_test_util.h"

namespace pgw::mask {
namespace {

using testing::hits;
using testing::Hits;

constexpr Detector kSecrets = Detector::secrets;

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  while (out.size() < n) out.append(s);
  out.resize(n);
  return out;
}

const std::string kPem =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "aFDrBz9vFqU4yG0dXtsjU8kEF1ho5ucNB6ZkHVvJ2qoU8Mfj7jC1J3a2cV1bXQ==\n"
    "-----END RSA PRIVATE KEY-----";

TEST(Secrets, FindsPemPrivateKeyBlocks) {
  EXPECT_EQ(hits(kSecrets, "key:\n" + kPem + "\nend"), Hits{kPem});
  for (const char* label : {"PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
                            "PGP PRIVATE KEY BLOCK"}) {
    const std::string block =
        std::string("-----BEGIN ") + label + "-----\nAAAA\n-----END " + label + "-----";
    EXPECT_EQ(hits(kSecrets, block), Hits{block}) << label;
  }
}

TEST(Secrets, PemInsideJsonAndTruncated) {
  // JSON text carries the newlines as \n escapes; the block still ends at END.
  const std::string json_block = "-----BEGIN PRIVATE KEY-----\\nMIIBVQ==\\n-----END PRIVATE KEY-----";
  EXPECT_EQ(hits(kSecrets, "{\"k\":\"" + json_block + "\\n\"}"), Hits{json_block});
  // No END: the hit runs to the closing quote, or to the end of the value.
  EXPECT_EQ(hits(kSecrets, "{\"k\":\"-----BEGIN PRIVATE KEY-----\\nMIIB\"}"),
            Hits{"-----BEGIN PRIVATE KEY-----\\nMIIB"});
  EXPECT_EQ(hits(kSecrets, "x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE"),
            Hits{"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE"});
}

TEST(Secrets, IgnoresPublicPemBlocks) {
  EXPECT_TRUE(hits(kSecrets, "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----").empty());
  EXPECT_TRUE(hits(kSecrets, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").empty());
  EXPECT_TRUE(hits(kSecrets, "------------ section ------------").empty());
}

TEST(Secrets, FindsAwsAccessKeyIds) {
  EXPECT_EQ(hits(kSecrets, "aws_access_key_id=AKIAIOSFODNN7EXAMPLE\n"), Hits{"AKIAIOSFODNN7EXAMPLE"});
  EXPECT_EQ(hits(kSecrets, "\"ASIAY34FZKBOKMUTVV7A\""), Hits{"ASIAY34FZKBOKMUTVV7A"});
  EXPECT_TRUE(hits(kSecrets, "AKIAIOSFODNN7EXAMPL").empty());    // 15 after the prefix
  EXPECT_TRUE(hits(kSecrets, "AKIAIOSFODNN7EXAMPLEX").empty());  // 17
  EXPECT_TRUE(hits(kSecrets, "XAKIAIOSFODNN7EXAMPLE").empty());  // inside a longer word
  EXPECT_TRUE(hits(kSecrets, "AKIAiosfodnn7example").empty());   // lower case
}

TEST(Secrets, FindsGithubTokens) {
  for (const char* prefix : {"ghp_", "gho_", "ghs_", "ghu_", "ghr_"}) {
    const std::string token = prefix + repeat("aB3dE5gH7jK9", 36);
    EXPECT_EQ(hits(kSecrets, "token " + token + " end"), Hits{token}) << prefix;
  }
  const std::string pat = "github_pat_11ABCDEFG0" + repeat("xY_9", 72);
  EXPECT_EQ(hits(kSecrets, "GITHUB_TOKEN=" + pat), Hits{pat});
  EXPECT_TRUE(hits(kSecrets, "ghp_" + repeat("a1", 35)).empty());  // too short
  EXPECT_TRUE(hits(kSecrets, "ghx_" + repeat("a1", 36)).empty());  // unknown kind
  EXPECT_TRUE(hits(kSecrets, "the night ghost_town").empty());
}

TEST(Secrets, FindsSlackStripeGoogleTokens) {
  const std::string slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
  EXPECT_EQ(hits(kSecrets, "SLACK=" + slack), Hits{slack});
  EXPECT_TRUE(hits(kSecrets, "xoxz-1234567890123").empty());
  EXPECT_TRUE(hits(kSecrets, "xoxb-123").empty());

  const std::string stripe = "sk_live_" + repeat("4eC39HqLyjWDarjtT1zdp7dc", 24);
  const std::string restricted = "rk_live_" + repeat("51H8b2xJ", 32);
  EXPECT_EQ(hits(kSecrets, stripe + " " + restricted), (Hits{stripe, restricted}));
  EXPECT_TRUE(hits(kSecrets, "sk_test_" + repeat("4eC39HqLyjWDarjtT1zdp7dc", 24)).empty());
  EXPECT_TRUE(hits(kSecrets, "ask_live_" + repeat("x1", 24)).empty());

  const std::string google = "AIza" + repeat("SyD-9tSrke72PouQMnMX_7", 35);
  EXPECT_EQ(hits(kSecrets, "key=" + google + "&q=1"), Hits{google});
  EXPECT_TRUE(hits(kSecrets, "AIza" + repeat("Sy", 34)).empty());
}

TEST(Secrets, FindsJwts) {
  const std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
      "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_EQ(hits(kSecrets, "Authorization: Bearer " + jwt), Hits{jwt});
  const std::string unsigned_jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjMifQ.";
  EXPECT_EQ(hits(kSecrets, unsigned_jwt + " x"), Hits{unsigned_jwt});
  EXPECT_TRUE(hits(kSecrets, "eyJhbGciOiJIUzI1NiJ9.payload.sig").empty());  // payload is no JSON object
  EXPECT_TRUE(hits(kSecrets, "they key money eyJ").empty());
}

TEST(Secrets, SeveralInOneValue) {
  const std::string text = "a=AKIAIOSFODNN7EXAMPLE b=AKIAI44QH8DHBEXAMPLE";
  EXPECT_EQ(hits(kSecrets, text), (Hits{"AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE"}));
}

}  // namespace
}  // namespace pgw::mask
