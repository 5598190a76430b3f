// SCRAM-SHA-256 client (RFC 5802, RFC 7677) as PostgreSQL speaks it: an
// empty user name in the client-first message because the server takes the
// user from the startup packet, and channel binding (SCRAM-SHA-256-PLUS,
// RFC 5929 tls-server-end-point) when the connection is TLS and the server
// offers it.
//
//   auto scram = ScramSha256Client::create(password);        // random nonce
//   send SASLInitialResponse{scram->mechanism(), scram->client_first_message()}
//   on SASLContinue: auto final = scram->handle_server_first(data); send SASLResponse{*final}
//   on SASLFinal:    scram->verify_server_final(data) must be ok before AuthenticationOk counts
//
// Password normalisation: SASLprep, as PostgreSQL applies it (saslprep.h).
//
// Iteration count: the key derivation runs on an engine loop thread, so a
// server that asks for more than kMaxScramIterations (RFC 5802 section 9: a
// hostile server can ask for any count) is refused rather than obeyed.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

// The most PBKDF2 iterations a server may ask for. PostgreSQL's default
// (scram_iterations, PostgreSQL 16+) is 4096; node-postgres refuses more than
// 100000 too. 100000 rounds of HMAC-SHA-256 take about 0.1-0.3 s of one core.
inline constexpr int kMaxScramIterations = 100000;

// What the client-first message says about channel binding (RFC 5802 GS2
// header), as libpq chooses it.
struct ScramChannelBinding {
  enum class Mode {
    kNone,              // "n,,": not on TLS
    kNotOffered,        // "y,,": on TLS, but the server offered no -PLUS mechanism
    kTlsServerEndPoint, // "p=tls-server-end-point,,": SCRAM-SHA-256-PLUS
  };
  Mode mode = Mode::kNone;
  std::string data;  // kTlsServerEndPoint: the hash of the server's certificate
};

class ScramSha256Client {
 public:
  // A client with a fresh random nonce (18 bytes from RAND_bytes, base64, as
  // PostgreSQL does). `user` stays empty for PostgreSQL; it exists for the
  // RFC test vectors and other servers.
  static Result<ScramSha256Client> create(std::string_view password, std::string_view user = {},
                                          ScramChannelBinding binding = {});

  // Same with a caller-chosen nonce (tests). The nonce must be printable
  // ASCII without ','.
  static Result<ScramSha256Client> create_with_nonce(std::string_view password, std::string_view user,
                                                     std::string_view client_nonce,
                                                     ScramChannelBinding binding = {});

  ScramSha256Client(ScramSha256Client&&) noexcept = default;
  ScramSha256Client& operator=(ScramSha256Client&&) noexcept = default;
  ~ScramSha256Client();

  // "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS": the SASLInitialResponse mechanism.
  std::string_view mechanism() const;

  // "n,,n=<user>,r=<nonce>": the SASLInitialResponse data.
  const std::string& client_first_message() const { return client_first_; }

  // Validates the server-first message (nonce extends ours, salt is base64,
  // iteration count in 1..kMaxScramIterations) and returns the client-final message with the
  // proof: the SASLResponse data.
  Result<std::string> handle_server_first(std::string_view server_first);

  // Checks the server's signature in the server-final message (constant
  // time). Until this succeeds the server has not proven it knows the
  // password, so the engine must not trust AuthenticationOk.
  Status verify_server_final(std::string_view server_final);

 private:
  enum class State { kStarted, kFinalSent, kDone, kFailed };

  ScramSha256Client() = default;
  Error fail(std::string message);

  State state_ = State::kStarted;
  std::string password_;  // cleared once the proof is computed
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string client_first_;
  std::string gs2_header_;
  std::string channel_binding_data_;
  bool plus_ = false;
  std::array<unsigned char, 32> expected_server_signature_{};
};


}  // namespace pgw::pgwire
