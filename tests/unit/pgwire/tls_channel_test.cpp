// A server and a client TlsChannel driven against each other in memory: the
// test plays the ring, moving each side's output to the other's input.
#include "pgwire/tls_channel.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace pgw::pgwire {
namespace {

namespace fs = std::filesystem;

struct KeyPair {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~KeyPair() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
};

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn` signed by `issuer` (null: self-signed CA).
std::unique_ptr<KeyPair> make_cert(const char* cn, const KeyPair* issuer, const char* san) {
  auto kp = std::make_unique<KeyPair>();
  kp->key = EVP_EC_gen("P-256");
  kp->cert = X509_new();
  X509_set_version(kp->cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(kp->cert), static_cast<long>(reinterpret_cast<uintptr_t>(kp.get()) & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(kp->cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(kp->cert), 3600);
  X509_set_pubkey(kp->cert, kp->key);
  X509_NAME* name = X509_get_subject_name(kp->cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert : kp->cert;
  X509_set_issuer_name(kp->cert, X509_get_subject_name(issuer_cert));
  if (issuer == nullptr) add_ext(kp->cert, kp->cert, NID_basic_constraints, "critical,CA:TRUE");
  if (san != nullptr) add_ext(kp->cert, issuer_cert, NID_subject_alt_name, san);
  X509_sign(kp->cert, issuer != nullptr ? issuer->key : kp->key, EVP_sha256());
  return kp;
}

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgw_tls_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ca_ = make_cert("test CA", nullptr, nullptr);
    leaf_ = make_cert("pgwarden", ca_.get(), "IP:127.0.0.1,DNS:localhost");
    write_cert(ca_->cert, "ca.pem");
    write_cert(leaf_->cert, "server.pem");
    write_key(leaf_->key, "server.key");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const char* name) const { return (dir_ / name).string(); }
  void write_cert(X509* cert, const char* name) {
    FILE* f = std::fopen(path(name).c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
  }
  void write_key(EVP_PKEY* key, const char* name) {
    FILE* f = std::fopen(path(name).c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }

  std::shared_ptr<const TlsContext> server_ctx() {
    auto ctx = TlsContext::server({path("server.pem"), path("server.key")});
    EXPECT_TRUE(ctx.ok()) << ctx.error();
    return *ctx;
  }

  // Moves bytes both ways until neither side has anything to say.
  static Status pump(TlsChannel& client, TlsChannel& server, std::string& to_client, std::string& to_server) {
    for (int i = 0; i < 20; ++i) {
      std::string c = client.take_output();
      std::string s = server.take_output();
      if (c.empty() && s.empty()) return ok_status();
      if (auto r = server.receive(c, to_server); !r) return r;
      if (auto r = client.receive(s, to_client); !r) return r;
    }
    return make_error("no progress");
  }

  fs::path dir_;
  std::unique_ptr<KeyPair> ca_, leaf_;
};

TEST_F(TlsChannelTest, HandshakeVerifiesHostAndCarriesBytesBothWays) {
  auto client_ctx = TlsContext::client({path("ca.pem"), true});
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.error();
  TlsChannel server(server_ctx());
  TlsChannel client(*client_ctx, "127.0.0.1", true);
  // Written before the handshake: held, then sent once it completes.
  ASSERT_TRUE(client.send("early startup"));
  ASSERT_TRUE(client.start());
  std::string to_client, to_server;
  ASSERT_TRUE(pump(client, server, to_client, to_server));
  EXPECT_TRUE(client.handshake_done());
  EXPECT_TRUE(server.handshake_done());
  EXPECT_EQ(server.alpn(), "postgresql");
  EXPECT_EQ(to_server, "early startup");

  std::string big(100000, 'x');
  ASSERT_TRUE(server.send(big));
  ASSERT_TRUE(pump(client, server, to_client, to_server));
  EXPECT_EQ(to_client, big);

  // Both ends compute the same channel binding data (SHA-256 for an ECDSA-SHA256 cert).
  EXPECT_EQ(server.tls_server_end_point().size(), 32u);
  EXPECT_EQ(server.tls_server_end_point(), client.tls_server_end_point());

  client.close();
  ASSERT_TRUE(pump(client, server, to_client, to_server));
  EXPECT_TRUE(server.peer_closed());
}

TEST_F(TlsChannelTest, DribbledOneByteAtATime) {
  auto client_ctx = TlsContext::client({path("ca.pem"), true});
  ASSERT_TRUE(client_ctx.ok());
  TlsChannel server(server_ctx());
  TlsChannel client(*client_ctx, "localhost", true);
  ASSERT_TRUE(client.start());
  std::string to_client, to_server;
  for (int round = 0; round < 10 && !server.handshake_done(); ++round) {
    for (char ch : client.take_output()) ASSERT_TRUE(server.receive(std::string_view(&ch, 1), to_server));
    for (char ch : server.take_output()) ASSERT_TRUE(client.receive(std::string_view(&ch, 1), to_client));
  }
  ASSERT_TRUE(pump(client, server, to_client, to_server));
  ASSERT_TRUE(client.send("hello"));
  ASSERT_TRUE(pump(client, server, to_client, to_server));
  EXPECT_EQ(to_server, "hello");
}

TEST_F(TlsChannelTest, WrongHostNameFailsWithAClearReason) {
  auto client_ctx = TlsContext::client({path("ca.pem"), true});
  ASSERT_TRUE(client_ctx.ok());
  TlsChannel server(server_ctx());
  TlsChannel client(*client_ctx, "db.example.com", true);
  ASSERT_TRUE(client.start());
  std::string a, b;
  auto r = pump(client, server, a, b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("hostname mismatch"), std::string::npos) << r.error();
}

TEST_F(TlsChannelTest, UnknownCaFails) {
  auto other_ca = make_cert("other CA", nullptr, nullptr);
  write_cert(other_ca->cert, "other_ca.pem");
  auto client_ctx = TlsContext::client({path("other_ca.pem"), true});
  ASSERT_TRUE(client_ctx.ok());
  TlsChannel server(server_ctx());
  TlsChannel client(*client_ctx, "127.0.0.1", true);
  ASSERT_TRUE(client.start());
  std::string a, b;
  auto r = pump(client, server, a, b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("unable to get local issuer certificate"), std::string::npos) << r.error();
}

TEST_F(TlsChannelTest, ServerRefusesAnotherAlpn) {
  TlsChannel server(server_ctx());
  // A client context offering another protocol: made by hand, as ours always offers postgresql.
  auto client_ctx = TlsContext::client({"", false});
  ASSERT_TRUE(client_ctx.ok());
  static const unsigned char kHttp[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos((*client_ctx)->raw(), kHttp, sizeof kHttp);
  TlsChannel client(*client_ctx, "localhost", false);
  ASSERT_TRUE(client.start());
  std::string a, b;
  EXPECT_FALSE(pump(client, server, a, b).ok());
  EXPECT_FALSE(server.handshake_done());
}

TEST_F(TlsChannelTest, GarbageIsRefused) {
  TlsChannel server(server_ctx());
  std::string plain;
  auto r = server.receive(std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8), plain);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(plain.empty());
}

TEST_F(TlsChannelTest, ContextErrorsNameTheFile) {
  auto missing = TlsContext::server({path("nope.pem"), path("server.key")});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nope.pem: No such file"), std::string::npos) << missing.error();

  auto other = make_cert("other", ca_.get(), "DNS:other");
  write_key(other->key, "other.key");
  auto mismatch = TlsContext::server({path("server.pem"), path("other.key")});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().find("does not match"), std::string::npos) << mismatch.error();

  auto not_pem = TlsContext::server({path("server.key"), path("server.key")});
  ASSERT_FALSE(not_pem.ok());
  EXPECT_NE(not_pem.error().find("not a PEM certificate"), std::string::npos) << not_pem.error();
}

TEST_F(TlsChannelTest, SlotSwapKeepsRunningChannelsOnTheirContext) {
  TlsContextSlot slot;
  slot.replace(server_ctx());
  auto first = slot.current();
  TlsChannel running(first);
  slot.replace(server_ctx());
  EXPECT_NE(slot.current(), first);
  EXPECT_GE(first.use_count(), 2);  // the running channel still holds it
}

}  // namespace
}  // namespace pgw::pgwire
