#include "pgwire/auth.h"

#include <gtest/gtest.h>

#include "pgwire/base64.h"
#include "pgwire/md5_password.h"
#include "pgwire/scram.h"
#include "test_util.h"

namespace pgw::pgwire {
namespace {

using testing::expect_round_trip;
using testing::expect_truncations_rejected;

// RFC 7677 section 3 example (user "user", password "pencil").
constexpr std::string_view kRfcNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramSha256Client rfc_client() {
  auto c = ScramSha256Client::create_with_nonce("pencil", "user", kRfcNonce);
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

TEST(Scram, Rfc7677Vector) {
  ScramSha256Client client = rfc_client();
  EXPECT_EQ(client.client_first_message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final_message = client.handle_server_first(kRfcServerFirst);
  ASSERT_TRUE(final_message.ok()) << final_message.error();
  EXPECT_EQ(final_message.value(), kRfcClientFinal);
  auto verified = client.verify_server_final(kRfcServerFinal);
  EXPECT_TRUE(verified.ok()) << verified.error();
}

TEST(Scram, WrongServerSignatureIsRejected) {
  ScramSha256Client client = rfc_client();
  ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).ok());
  // Same length, last signature byte changed.
  auto verified = client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=");
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().find("signature"), std::string::npos);
  // A failed exchange stays failed.
  EXPECT_FALSE(client.verify_server_final(kRfcServerFinal).ok());
}

TEST(Scram, ServerErrorAndMalformedFinalAreRejected) {
  for (std::string_view bad : {"e=invalid-proof", "v=", "v=not base64!", "x=abc", ""}) {
    ScramSha256Client client = rfc_client();
    ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).ok());
    EXPECT_FALSE(client.verify_server_final(bad).ok()) << bad;
  }
}

TEST(Scram, PostgresStyleClientFirstHasAnEmptyUser) {
  auto client = ScramSha256Client::create("secret");
  ASSERT_TRUE(client.ok());
  const std::string& first = client->client_first_message();
  ASSERT_EQ(first.rfind("n,,n=,r=", 0), 0u) << first;
  EXPECT_EQ(first.size(), 8u + 24u);  // 18 random bytes in base64
  auto other = ScramSha256Client::create("secret");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(first, other->client_first_message());
}

TEST(Scram, UserNameIsEscaped) {
  auto client = ScramSha256Client::create_with_nonce("p", "a,b=c", "abc");
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->client_first_message(), "n,,n=a=2Cb=3Dc,r=abc");
}

TEST(Scram, BadServerFirstMessagesAreRejected) {
  const std::string_view cases[] = {
      // Nonce that does not extend ours, or only repeats it.
      "r=XXXXNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      // Salt not base64, empty salt.
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=,i=4096",
      // Iteration counts.
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=12x",
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
      // Missing or reordered attributes, mandatory extension.
      "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==",
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOsrv,i=4096",
      "m=ext,r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "",
  };
  for (std::string_view bad : cases) {
    ScramSha256Client client = rfc_client();
    EXPECT_FALSE(client.handle_server_first(bad).ok()) << bad;
  }
}

TEST(Scram, OutOfOrderCallsAreRejected) {
  ScramSha256Client client = rfc_client();
  EXPECT_FALSE(client.verify_server_final(kRfcServerFinal).ok());
  ScramSha256Client twice = rfc_client();
  ASSERT_TRUE(twice.handle_server_first(kRfcServerFirst).ok());
  EXPECT_FALSE(twice.handle_server_first(kRfcServerFirst).ok());
}

TEST(Scram, IterationCountAboveTheBoundIsRefused) {
  const std::string salt = "s=W22ZaJ0SNY7soEsUEjb6gQ==";
  for (std::string count : {std::to_string(kMaxScramIterations + 1), std::string("2147483647"),
                            std::string("2147483648"), std::string("99999999999999999999")}) {
    ScramSha256Client client = rfc_client();
    auto reply = client.handle_server_first("r=rOprNGfwEbeRWgbNEkqOsrv," + salt + ",i=" + count);
    ASSERT_FALSE(reply.ok()) << count;
    EXPECT_NE(reply.error().find("more than the 100000 pgwarden allows"), std::string::npos) << reply.error();
  }
  // The bound itself is fine (one PBKDF2 of 100000 rounds).
  ScramSha256Client client = rfc_client();
  auto reply = client.handle_server_first("r=rOprNGfwEbeRWgbNEkqOsrv," + salt + ",i=" +
                                          std::to_string(kMaxScramIterations));
  EXPECT_TRUE(reply.ok()) << reply.error();
}

TEST(Scram, ChannelBindingHeaders) {
  // SCRAM-SHA-256-PLUS: the GS2 header names tls-server-end-point, and c=
  // carries the header followed by the certificate hash.
  const std::string hash(32, '\x5a');
  auto plus = ScramSha256Client::create_with_nonce(
      "pencil", "", kRfcNonce, {ScramChannelBinding::Mode::kTlsServerEndPoint, hash});
  ASSERT_TRUE(plus.ok()) << plus.error();
  EXPECT_EQ(plus->mechanism(), kScramSha256Plus);
  EXPECT_EQ(plus->client_first_message(), "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auto final_plus = plus->handle_server_first(kRfcServerFirst);
  ASSERT_TRUE(final_plus.ok()) << final_plus.error();
  EXPECT_TRUE(final_plus->starts_with("c=" + base64_encode("p=tls-server-end-point,," + hash) + ",r="))
      << *final_plus;

  // On TLS without -PLUS offered: "y", so a server that offered it sees a downgrade.
  auto y = ScramSha256Client::create_with_nonce("pencil", "", kRfcNonce, {ScramChannelBinding::Mode::kNotOffered, {}});
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->mechanism(), kScramSha256);
  EXPECT_EQ(y->client_first_message(), "y,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auto final_y = y->handle_server_first(kRfcServerFirst);
  ASSERT_TRUE(final_y.ok());
  EXPECT_TRUE(final_y->starts_with("c=eSws,r=")) << *final_y;

  // Binding without the certificate's hash is a caller's error.
  EXPECT_FALSE(ScramSha256Client::create("p", "", {ScramChannelBinding::Mode::kTlsServerEndPoint, {}}).ok());
}

TEST(Base64, StrictRoundTrip) {
  for (std::string_view s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    const std::string enc = base64_encode(s);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  for (std::string_view bad : {"Zm8", "Zm9=", "Z===", "Zm8=Zm8=", "Zm 8", "Zm8\n", "=Zm8"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

TEST(Md5Password, KnownValue) {
  // Expected value computed with Python:
  //   inner = hashlib.md5(b"secret" + b"postgres").hexdigest().encode()
  //   "md5" + hashlib.md5(inner + bytes([1, 2, 3, 4])).hexdigest()
  auto response = md5_password_response("postgres", "secret", std::string_view("\x01\x02\x03\x04", 4));
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response.value(), "md5bb41a296aab6baccb36ff243a562abff");
}

TEST(AuthMessages, AuthenticationFamilyRoundTrips) {
  for (AuthCode code : {AuthCode::kOk, AuthCode::kKerberosV5, AuthCode::kCleartextPassword, AuthCode::kGss,
                        AuthCode::kSspi}) {
    Authentication msg;
    msg.code = code;
    expect_round_trip(msg);
    expect_truncations_rejected(msg);
  }
  Authentication md5;
  md5.code = AuthCode::kMd5Password;
  md5.md5_salt = std::string_view("\x00\xff\x10\x01", 4);
  expect_round_trip(md5);
  expect_truncations_rejected(md5);

  Authentication sasl;
  sasl.code = AuthCode::kSasl;
  sasl.sasl_mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  expect_round_trip(sasl);
  expect_truncations_rejected(sasl);

  for (AuthCode code : {AuthCode::kGssContinue, AuthCode::kSaslContinue, AuthCode::kSaslFinal}) {
    Authentication msg;
    msg.code = code;
    msg.data = kRfcServerFirst;
    expect_round_trip(msg);
  }
}

TEST(AuthMessages, AuthenticationOkBytes) {
  std::string out;
  encode_authentication_ok(out);
  EXPECT_EQ(out, std::string("R\0\0\0\x08\0\0\0\0", 9));
}

TEST(AuthMessages, RejectsUnknownCodeAndEmptyMechanismList) {
  EXPECT_FALSE(Authentication::decode(std::string_view("\0\0\0\x04", 4)).ok());  // obsolete crypt()
  EXPECT_FALSE(Authentication::decode(std::string_view("\0\0\0\x06", 4)).ok());  // obsolete SCM credentials
  EXPECT_FALSE(Authentication::decode(std::string_view("\0\0\0\x0a\0", 5)).ok());
}

TEST(AuthMessages, FrontendAnswersRoundTrip) {
  expect_round_trip(PasswordMessage{"md5bb41a296aab6baccb36ff243a562abff"});
  expect_truncations_rejected(PasswordMessage{"pw"});
  expect_round_trip(SaslInitialResponse{kScramSha256, std::string_view("n,,n=,r=abc")});
  expect_round_trip(SaslInitialResponse{kScramSha256, std::string_view()});  // empty, not absent
  expect_round_trip(SaslInitialResponse{kScramSha256, std::nullopt});
  expect_truncations_rejected(SaslInitialResponse{kScramSha256, std::string_view("n,,n=,r=abc")});
  expect_round_trip(SaslResponse{kRfcClientFinal});
  expect_round_trip(GssResponse{std::string_view("\x60\x82\0\x01", 4)});

  std::string wire;
  encode(SaslInitialResponse{"M", std::nullopt}, wire);
  EXPECT_EQ(wire, std::string("p\0\0\0\x0aM\0\xff\xff\xff\xff", 11));
  // Length -2 and a length beyond the body are both refused.
  EXPECT_FALSE(SaslInitialResponse::decode(std::string_view("M\0\xff\xff\xff\xfe", 6)).ok());
  EXPECT_FALSE(SaslInitialResponse::decode(std::string_view("M\0\0\0\0\x05" "abc", 9)).ok());
}

}  // namespace
}  // namespace pgw::pgwire
