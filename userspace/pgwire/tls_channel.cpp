#include "pgwire/tls_channel.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

namespace pgw::pgwire {
namespace {

// Everything OpenSSL queued on this thread, as one line; clears the queue.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed": keep the reason.
    std::string_view line(buf);
    if (auto pos = line.rfind(':'); pos != std::string_view::npos) line.remove_prefix(pos + 1);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

// A clear sentence for a file OpenSSL would only call "system lib".
Status readable(const std::string& what, const std::string& path) {
  if (path.empty()) return make_error(what + " is not set");
  std::ifstream f(path);
  if (!f) return make_error(what + " " + path + ": " + std::strerror(errno));
  return ok_status();
}

// Server ALPN: a client that offers ALPN must offer "postgresql" (what
// PostgreSQL 17 does); a client that offers none is left to the engine
// (fine after an SSLRequest, refused for direct TLS).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (unsigned i = 0; i < inlen;) {
    unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == kPostgresAlpn) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

SSL_CTX* new_ctx(bool server) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return nullptr;
  // PostgreSQL's default ssl_min_protocol_version.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  // An idle session keeps no read/write buffers (memory per idle connection).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<const TlsContext>> TlsContext::server(const TlsServerFiles& files) {
  if (auto s = readable("certificate file", files.cert_file); !s) return make_error(s.error());
  if (auto s = readable("key file", files.key_file); !s) return make_error(s.error());
  ERR_clear_error();
  SSL_CTX* raw = new_ctx(true);
  if (raw == nullptr) return make_error("TLS: cannot create a context: " + openssl_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, true));
  if (SSL_CTX_use_certificate_chain_file(raw, files.cert_file.c_str()) != 1)
    return make_error("certificate file " + files.cert_file + ": not a PEM certificate (" + openssl_errors() + ")");
  // The key is read on its own first, so that "not a key" and "not this
  // certificate's key" are told apart.
  EVP_PKEY* key = nullptr;
  if (BIO* bio = BIO_new_file(files.key_file.c_str(), "r")) {
    key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  if (key == nullptr)
    return make_error("key file " + files.key_file + ": not a PEM private key (" + openssl_errors() + ")");
  const bool matches = X509_check_private_key(SSL_CTX_get0_certificate(raw), key) == 1;
  const bool used = matches && SSL_CTX_use_PrivateKey(raw, key) == 1;
  EVP_PKEY_free(key);
  if (!matches) {
    ERR_clear_error();
    return make_error("key file " + files.key_file + " does not match certificate file " + files.cert_file);
  }
  if (!used) return make_error("key file " + files.key_file + ": " + openssl_errors());
  SSL_CTX_set_alpn_select_cb(raw, select_alpn, nullptr);
  // No resumption: every session is a full handshake (no ticket state to keep or rotate).
  SSL_CTX_set_num_tickets(raw, 0);
  if (X509* cert = SSL_CTX_get0_certificate(raw)) {
    char name[256];
    X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
    ctx->subject_ = name;
  }
  return std::shared_ptr<const TlsContext>(std::move(ctx));
}

namespace {

// "2026-12-07 09:30 UTC"
std::string utc_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "an unreadable date";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

}  // namespace

std::string TlsContext::validity_warning(std::time_t now) const {
  const X509* cert = SSL_CTX_get0_certificate(ctx_);
  if (cert == nullptr) return {};
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (X509_cmp_time(not_before, &now) > 0)
    return "the certificate is not valid before " + utc_text(not_before) +
           ": clients that verify it (sslmode=verify-ca or verify-full) refuse it until then";
  if (X509_cmp_time(not_after, &now) < 0)
    return "the certificate expired on " + utc_text(not_after) +
           ": clients that verify it (sslmode=verify-ca or verify-full) refuse it";
  int days = 0, seconds = 0;
  ASN1_TIME* at_now = ASN1_TIME_set(nullptr, now);
  const bool known = at_now != nullptr && ASN1_TIME_diff(&days, &seconds, at_now, not_after) == 1;
  ASN1_TIME_free(at_now);
  if (known && days < kCertificateWarningDays)
    return "the certificate expires on " + utc_text(not_after) + ", in " +
           (days == 0 ? std::string("less than a day") : std::to_string(days) + (days == 1 ? " day" : " days"));
  return {};
}

Result<std::shared_ptr<const TlsContext>> TlsContext::client(const TlsClientOptions& options) {
  if (!options.ca_file.empty())
    if (auto s = readable("CA file", options.ca_file); !s) return make_error(s.error());
  ERR_clear_error();
  SSL_CTX* raw = new_ctx(false);
  if (raw == nullptr) return make_error("TLS: cannot create a context: " + openssl_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, false));
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(raw, options.ca_file.c_str(), nullptr) != 1)
      return make_error("CA file " + options.ca_file + ": no PEM certificate in it (" + openssl_errors() + ")");
  } else if (options.verify_peer) {
    SSL_CTX_set_default_verify_paths(raw);
  }
  SSL_CTX_set_verify(raw, options.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpnWire[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
  SSL_CTX_set_alpn_protos(raw, kAlpnWire, sizeof kAlpnWire);
  return std::shared_ptr<const TlsContext>(std::move(ctx));
}

TlsChannel::TlsChannel(std::shared_ptr<const TlsContext> ctx) : ctx_(std::move(ctx)), server_(true) {
  ssl_ = SSL_new(ctx_->raw());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty input BIO means "wait for more", never end of stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsChannel::TlsChannel(std::shared_ptr<const TlsContext> ctx, const std::string& server_name, bool check_host)
    : ctx_(std::move(ctx)), server_(false) {
  ssl_ = SSL_new(ctx_->raw());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_connect_state(ssl_);
  // SNI carries host names only (RFC 6066).
  if (!server_name.empty() && !is_ip_literal(server_name)) SSL_set_tlsext_host_name(ssl_, server_name.c_str());
  if (check_host && !server_name.empty()) {
    // X509_VERIFY_PARAM matches IP literals against IP SANs, names against DNS SANs.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (is_ip_literal(server_name))
      X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str());
    else
      SSL_set1_host(ssl_, server_name.c_str());
  }
}

TlsChannel::~TlsChannel() { SSL_free(ssl_); }

Status TlsChannel::start() {
  std::string none;
  return advance(none);
}

Status TlsChannel::receive(std::string_view ciphertext, std::string& plain) {
  if (failed_) return make_error("TLS: the connection already failed");
  if (!ciphertext.empty() && BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size())) <= 0)
    return make_error("TLS: out of memory");
  return advance(plain);
}

Status TlsChannel::advance(std::string& plain) {
  ERR_clear_error();
  if (!handshake_done_) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return ok_status();
      return failure("handshake");
    }
    handshake_done_ = true;
    if (!pending_plain_.empty()) {
      std::string held = std::move(pending_plain_);
      pending_plain_.clear();
      if (auto s = send(held); !s) return s;
    }
  }
  char buf[16384];
  while (!peer_closed_) {
    size_t n = 0;
    if (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) {
      plain.append(buf, n);
      continue;
    }
    int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      break;
    }
    return failure("read");
  }
  return ok_status();
}

Status TlsChannel::failure(std::string_view during) {
  failed_ = true;
  std::string why;
  long verify = SSL_get_verify_result(ssl_);
  if (!server_ && verify != X509_V_OK) why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  std::string queued = openssl_errors();
  if (why.empty()) why = queued.empty() ? "connection failed" : queued;
  return make_error("TLS " + std::string(during) + ": " + why);
}

Status TlsChannel::send(std::string_view plain) {
  if (failed_) return make_error("TLS: the connection already failed");
  if (!handshake_done_) {
    pending_plain_.append(plain);
    return ok_status();
  }
  ERR_clear_error();
  while (!plain.empty()) {
    size_t n = 0;
    // The output BIO grows as needed, so a write never waits for the peer.
    if (SSL_write_ex(ssl_, plain.data(), plain.size(), &n) != 1) return failure("write");
    plain.remove_prefix(n);
  }
  return ok_status();
}

std::string TlsChannel::take_output() {
  std::string out;
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return out;
  out.resize(pending);
  int n = BIO_read(out_, out.data(), static_cast<int>(pending));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

bool TlsChannel::has_output() const { return BIO_ctrl_pending(out_) > 0; }

void TlsChannel::close() {
  if (failed_ || !handshake_done_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsChannel::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), data != nullptr ? len : 0);
}

std::string TlsChannel::describe() const {
  if (!handshake_done_) return "TLS handshake in progress";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

std::string TlsChannel::tls_server_end_point() const {
  if (!handshake_done_) return {};
  X509* cert = server_ ? SSL_get_certificate(ssl_) : SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return {};
  // RFC 5929 4.1: the certificate's signature hash, with MD5 and SHA-1 raised to SHA-256.
  int digest_nid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest_nid, nullptr) != 1) return {};
  if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
  const EVP_MD* md = EVP_get_digestbynid(digest_nid);
  if (md == nullptr) return {};
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, hash, &len) != 1) return {};
  return std::string(reinterpret_cast<const char*>(hash), len);
}

}  // namespace pgw::pgwire
