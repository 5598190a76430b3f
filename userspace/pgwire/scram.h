// SCRAM-SHA-256 client (RFC 5802, RFC 7677) as PostgreSQL speaks it: no
// channel binding (GS2 header "n,,"), and an empty user name in the
// client-first message because the server takes the user from the startup
// packet.
//
//   auto scram = ScramSha256Client::create(password);        // random nonce
//   send SASLInitialResponse{"SCRAM-SHA-256", scram->client_first_message()}
//   on SASLContinue: auto final = scram->handle_server_first(data); send SASLResponse{*final}
//   on SASLFinal:    scram->verify_server_final(data) must be ok before AuthenticationOk counts
//
// Password normalisation: PostgreSQL runs SASLprep and falls back to the raw
// bytes when SASLprep fails. ASCII passwords are unchanged by SASLprep (or
// make it fail, e.g. with control characters, which falls back to raw bytes
// too), so they behave exactly as on the server. Non-ASCII passwords are
// used as raw bytes here, without SASLprep: LIMITATION: a non-ASCII password
// that SASLprep would change (NFKC-normalisable characters, non-ASCII
// spaces, soft hyphens...) fails to authenticate.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

class ScramSha256Client {
 public:
  // A client with a fresh random nonce (18 bytes from RAND_bytes, base64, as
  // PostgreSQL does). `user` stays empty for PostgreSQL; it exists for the
  // RFC test vectors and other servers.
  static Result<ScramSha256Client> create(std::string_view password, std::string_view user = {});

  // Same with a caller-chosen nonce (tests). The nonce must be printable
  // ASCII without ','.
  static Result<ScramSha256Client> create_with_nonce(std::string_view password, std::string_view user,
                                                     std::string_view client_nonce);

  ScramSha256Client(ScramSha256Client&&) noexcept = default;
  ScramSha256Client& operator=(ScramSha256Client&&) noexcept = default;
  ~ScramSha256Client();

  // "n,,n=<user>,r=<nonce>": the SASLInitialResponse data.
  const std::string& client_first_message() const { return client_first_; }

  // Validates the server-first message (nonce extends ours, salt is base64,
  // iteration count >= 1) and returns the client-final message with the
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
  std::array<unsigned char, 32> expected_server_signature_{};
};

// The password bytes SCRAM hashes (see the normalisation note above).
std::string scram_normalize_password(std::string_view password);

}  // namespace pgw::pgwire
