// The login state machine against a SCRAM-SHA-256 server written out here
// from RFC 5802 (the integration tests do the same against PostgreSQL).
#include "engine/upstream_login.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "pgwire/auth.h"
#include "pgwire/base64.h"
#include "pgwire/byte_io.h"
#include "pgwire/frame.h"

namespace pgw::engine {
namespace {

std::string auth_body(pgwire::AuthCode code, std::string_view data = {}, std::string_view salt = {}) {
  pgwire::Authentication a;
  a.code = code;
  a.data = data;
  a.md5_salt = salt;
  if (code == pgwire::AuthCode::kSasl) a.sasl_mechanisms = {"SCRAM-SHA-256"};
  std::string wire;
  pgwire::encode(a, wire);
  return wire.substr(5);  // body only
}

// Returns the body of the single message in `wire`.
std::string body_of(const std::string& wire, char expected_type) {
  auto m = pgwire::extract_message(wire);
  EXPECT_TRUE(m.ok());
  EXPECT_TRUE(m->has_value());
  EXPECT_EQ((*m)->type, expected_type);
  return std::string((*m)->body);
}

std::string hmac(const std::string& key, const std::string& msg) {
  unsigned char out[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

TEST(UpstreamLogin, Cleartext) {
  UpstreamLogin login("app", std::string("pw"));
  auto step = login.on_authentication(auth_body(pgwire::AuthCode::kCleartextPassword));
  ASSERT_TRUE(step.ok()) << step.error();
  EXPECT_EQ(body_of(step->reply, 'p'), std::string("pw\0", 3));
  auto done = login.on_authentication(auth_body(pgwire::AuthCode::kOk));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->outcome, UpstreamLogin::Outcome::kAuthenticated);
}

TEST(UpstreamLogin, Md5) {
  UpstreamLogin login("postgres", std::string("secret"));
  auto step = login.on_authentication(auth_body(pgwire::AuthCode::kMd5Password, {}, "abcd"));
  ASSERT_TRUE(step.ok()) << step.error();
  // python3: "md5" + md5((md5(b"secretpostgres").hexdigest() + "abcd").encode()).hexdigest()
  EXPECT_EQ(body_of(step->reply, 'p'), std::string("md568a34aeb823f3662497ea0b9fb65e46a\0", 36));
}

TEST(UpstreamLogin, NoPasswordConfiguredIsAClearError) {
  UpstreamLogin login("app", std::nullopt);
  auto step = login.on_authentication(auth_body(pgwire::AuthCode::kSasl));
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.error().find("password_file"), std::string::npos);
}

TEST(UpstreamLogin, UnsupportedMethodIsRefused) {
  UpstreamLogin login("app", std::string("pw"));
  EXPECT_FALSE(login.on_authentication(auth_body(pgwire::AuthCode::kGss)).ok());
}

TEST(UpstreamLogin, OkWithoutScramFinalIsRefused) {
  UpstreamLogin login("app", std::string("pw"));
  ASSERT_TRUE(login.on_authentication(auth_body(pgwire::AuthCode::kSasl)).ok());
  EXPECT_FALSE(login.on_authentication(auth_body(pgwire::AuthCode::kOk)).ok());
}

TEST(UpstreamLogin, ScramAgainstAnRfc5802Server) {
  const std::string password = "correct horse";
  const std::string salt = "0123456789abcdef";
  const int iterations = 4096;
  UpstreamLogin login("app", password);

  auto first = login.on_authentication(auth_body(pgwire::AuthCode::kSasl));
  ASSERT_TRUE(first.ok()) << first.error();
  const std::string first_body = body_of(first->reply, 'p');
  pgwire::ByteReader r(first_body);
  std::string_view mech, data;
  int32_t len = 0;
  ASSERT_TRUE(r.read_cstring(mech) && r.read_i32(len) && r.read_bytes(static_cast<size_t>(len), data));
  EXPECT_EQ(mech, "SCRAM-SHA-256");
  ASSERT_TRUE(data.starts_with("n,,n=,r="));
  const std::string client_first_bare(data.substr(3));
  const std::string client_nonce(data.substr(8));

  const std::string server_first =
      "r=" + client_nonce + "SERVERNONCE,s=" + pgwire::base64_encode(salt) + ",i=" + std::to_string(iterations);
  auto second = login.on_authentication(auth_body(pgwire::AuthCode::kSaslContinue, server_first));
  ASSERT_TRUE(second.ok()) << second.error();
  const std::string client_final = body_of(second->reply, 'p');
  const size_t proof_at = client_final.find(",p=");
  ASSERT_NE(proof_at, std::string::npos);
  const std::string without_proof = client_final.substr(0, proof_at);

  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), 32, salted);
  const std::string salted_s(reinterpret_cast<char*>(salted), 32);
  const std::string client_key = hmac(salted_s, "Client Key");
  unsigned char stored[32];
  SHA256(reinterpret_cast<const unsigned char*>(client_key.data()), client_key.size(), stored);
  const std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
  const std::string client_sig = hmac(std::string(reinterpret_cast<char*>(stored), 32), auth_message);
  std::string expected_proof(32, '\0');
  for (int i = 0; i < 32; ++i) expected_proof[i] = static_cast<char>(client_key[i] ^ client_sig[i]);
  EXPECT_EQ(client_final.substr(proof_at + 3), pgwire::base64_encode(expected_proof));

  const std::string server_sig = hmac(hmac(salted_s, "Server Key"), auth_message);
  auto final_step =
      login.on_authentication(auth_body(pgwire::AuthCode::kSaslFinal, "v=" + pgwire::base64_encode(server_sig)));
  ASSERT_TRUE(final_step.ok()) << final_step.error();
  auto ok = login.on_authentication(auth_body(pgwire::AuthCode::kOk));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->outcome, UpstreamLogin::Outcome::kAuthenticated);
}

TEST(UpstreamLogin, ScramWithAForgedServerSignatureFails) {
  UpstreamLogin login("app", std::string("pw"));
  auto first = login.on_authentication(auth_body(pgwire::AuthCode::kSasl));
  ASSERT_TRUE(first.ok());
  const std::string first_body = body_of(first->reply, 'p');
  pgwire::ByteReader r(first_body);
  std::string_view mech, data;
  int32_t len = 0;
  ASSERT_TRUE(r.read_cstring(mech) && r.read_i32(len) && r.read_bytes(static_cast<size_t>(len), data));
  const std::string nonce(data.substr(8));
  ASSERT_TRUE(login
                  .on_authentication(auth_body(pgwire::AuthCode::kSaslContinue,
                                               "r=" + nonce + "X,s=" + pgwire::base64_encode("salt") + ",i=4096"))
                  .ok());
  auto bad = login.on_authentication(
      auth_body(pgwire::AuthCode::kSaslFinal, "v=" + pgwire::base64_encode(std::string(32, 'x'))));
  EXPECT_FALSE(bad.ok());
}

// The SASLInitialResponse's mechanism and data for a server that offers `mechanisms`.
std::pair<std::string, std::string> initial_response(UpstreamLogin& login, std::vector<std::string_view> mechanisms) {
  pgwire::Authentication a;
  a.code = pgwire::AuthCode::kSasl;
  a.sasl_mechanisms = std::move(mechanisms);
  std::string wire;
  pgwire::encode(a, wire);
  auto step = login.on_authentication(std::string_view(wire).substr(5));
  EXPECT_TRUE(step.ok()) << step.error();
  if (!step) return {};
  const std::string body = body_of(step->reply, 'p');
  pgwire::ByteReader r(body);
  std::string_view mech, data;
  int32_t len = 0;
  EXPECT_TRUE(r.read_cstring(mech) && r.read_i32(len) && r.read_bytes(static_cast<size_t>(len), data));
  return {std::string(mech), std::string(data)};
}

TEST(UpstreamLogin, ChannelBindingAsLibpqChoosesIt) {
  const std::vector<std::string_view> both = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  const std::string hash(32, 'h');
  {  // TLS, -PLUS offered: bind.
    UpstreamLogin login("app", std::string("pw"), hash);
    auto [mech, data] = initial_response(login, both);
    EXPECT_EQ(mech, "SCRAM-SHA-256-PLUS");
    EXPECT_TRUE(data.starts_with("p=tls-server-end-point,,n=,r=")) << data;
    EXPECT_EQ(login.sasl_mechanism(), "SCRAM-SHA-256-PLUS");
  }
  {  // TLS, not offered: "y".
    UpstreamLogin login("app", std::string("pw"), hash);
    auto [mech, data] = initial_response(login, {"SCRAM-SHA-256"});
    EXPECT_EQ(mech, "SCRAM-SHA-256");
    EXPECT_TRUE(data.starts_with("y,,n=,r=")) << data;
  }
  {  // Plaintext: "n", even when offered (a server offers -PLUS only over TLS).
    UpstreamLogin login("app", std::string("pw"));
    auto [mech, data] = initial_response(login, both);
    EXPECT_EQ(mech, "SCRAM-SHA-256");
    EXPECT_TRUE(data.starts_with("n,,n=,r=")) << data;
  }
  {  // Only -PLUS offered, no TLS: nothing pgwarden can use.
    UpstreamLogin login("app", std::string("pw"));
    pgwire::Authentication a;
    a.code = pgwire::AuthCode::kSasl;
    a.sasl_mechanisms = {"SCRAM-SHA-256-PLUS"};
    std::string wire;
    pgwire::encode(a, wire);
    EXPECT_FALSE(login.on_authentication(std::string_view(wire).substr(5)).ok());
  }
}

}  // namespace
}  // namespace pgw::engine
