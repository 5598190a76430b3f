// TLS for either leg, run over memory: OpenSSL never touches a socket.
//
// The engine's io_uring ring does all the I/O. A TlsChannel sits between the
// ring and the relay and only transforms bytes, so nothing here blocks:
//
//   ciphertext received from the ring ─► receive(in, plain) ─► plaintext for the relay
//   plaintext to send               ─► send(plain)          ─┐
//   handshake records, alerts       ──────────────────────────┴► take_output() ─► queue on the ring
//
// Interface (for both legs):
//   TlsContext::server({cert_file, key_file})        one SSL_CTX, loaded and checked
//   TlsContext::client({ca_file, verify})            (key matches cert, CA readable)
//   TlsContextSlot                                   the current context; replace() on
//                                                    SIGHUP: new channels get the new one,
//                                                    running channels keep theirs (shared_ptr)
//   TlsChannel ch(ctx)                               server role (client leg)
//   TlsChannel ch(ctx, "db.example", check_host)     client role (upstream leg): SNI + host check
//   ch.start()                                       client role: queues the ClientHello
//   ch.receive(cipher, plain)                        feeds ciphertext, advances the handshake,
//                                                    appends decrypted bytes; Error on failure
//   ch.send(plain)                                   encrypts (held until the handshake is done)
//   ch.take_output()                                 ciphertext to queue (may be empty)
//   ch.handshake_done(), ch.alpn(), ch.peer_closed(), ch.close() (close_notify)
//   ch.tls_server_end_point()                        channel binding data for SCRAM-SHA-256-PLUS
//
// After any call, the caller queues take_output(): a failed handshake leaves
// its alert there, a finished one its last flight.
#pragma once

#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;
using BIO = struct bio_st;

namespace pgw::pgwire {

// The ALPN name PostgreSQL 17 uses for direct TLS (and accepts after an SSLRequest).
inline constexpr std::string_view kPostgresAlpn = "postgresql";

struct TlsServerFiles {
  std::string cert_file;  // PEM: the certificate, then any intermediates
  std::string key_file;   // PEM private key matching the certificate
};

struct TlsClientOptions {
  std::string ca_file;      // PEM bundle of trusted CAs; empty: the system's
  bool verify_peer = false; // verify the chain (verify-ca / verify-full)
};

// A certificate that expires within this many days is worth a warning.
inline constexpr int kCertificateWarningDays = 14;

// One SSL_CTX, immutable once made; shared by every channel made from it.
class TlsContext {
 public:
  static Result<std::shared_ptr<const TlsContext>> server(const TlsServerFiles& files);
  static Result<std::shared_ptr<const TlsContext>> client(const TlsClientOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* raw() const { return ctx_; }
  bool is_server() const { return server_; }
  // The certificate's subject, for logs ("CN=pgwarden").
  const std::string& subject() const { return subject_; }
  // Server role: "" while the certificate is valid at `now` for longer than
  // kCertificateWarningDays; else one sentence saying it expired, expires
  // soon or is not valid yet, and when. A client that verifies it
  // (sslmode=verify-ca/verify-full) refuses an expired one, so the config
  // loader warns at start, reload and `policy check`.
  std::string validity_warning(std::time_t now) const;

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
  std::string subject_;
};

// The context new channels use. replace() is how a reload swaps it; channels
// already running hold their own reference and finish on the old one.
class TlsContextSlot {
 public:
  std::shared_ptr<const TlsContext> current() const {
    std::lock_guard lock(mu_);
    return ctx_;
  }
  void replace(std::shared_ptr<const TlsContext> ctx) {
    std::lock_guard lock(mu_);
    ctx_ = std::move(ctx);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContext> ctx_;
};

class TlsChannel {
 public:
  // Server role: the client leg.
  explicit TlsChannel(std::shared_ptr<const TlsContext> ctx);
  // Client role: the upstream leg. `server_name` is sent as SNI (unless it
  // is an IP address) and, with check_host, must match the certificate.
  TlsChannel(std::shared_ptr<const TlsContext> ctx, const std::string& server_name, bool check_host);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // Client role: starts the handshake (the ClientHello lands in the output).
  Status start();
  // Ciphertext from the peer: advances the handshake and appends whatever
  // it decrypts to `plain`. An Error is final (bad record, failed
  // verification, no shared protocol); its alert is in the output.
  Status receive(std::string_view ciphertext, std::string& plain);
  // Plaintext for the peer: encrypted into the output, or held until the
  // handshake completes.
  Status send(std::string_view plain);
  // Ciphertext waiting to go to the peer, handed over (empty: nothing).
  std::string take_output();
  bool has_output() const;
  // Queues close_notify.
  void close();

  bool handshake_done() const { return handshake_done_; }
  bool peer_closed() const { return peer_closed_; }
  // The protocol ALPN agreed on ("" : none).
  std::string alpn() const;
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs and status.
  std::string describe() const;
  // RFC 5929 tls-server-end-point: the hash of the server's certificate
  // (ours in the server role, the peer's in the client role); empty before
  // the handshake or when the certificate's hash cannot be determined.
  std::string tls_server_end_point() const;

 private:
  Status advance(std::string& plain);
  Status failure(std::string_view during);

  std::shared_ptr<const TlsContext> ctx_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool server_ = true;
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  std::string pending_plain_;  // sent before the handshake completed
};

}  // namespace pgw::pgwire
