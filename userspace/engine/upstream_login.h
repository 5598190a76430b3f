// Logging in to the upstream with the configured credential.
//
// The client authenticated to nobody: who it is comes from the kernel. The
// engine answers the upstream's authentication requests itself with the
// credential from the config (SCRAM-SHA-256, MD5 or cleartext), so the
// password never crosses the client's side. This class is the pure protocol
// logic: it turns each Authentication message from the upstream into the
// bytes to send back, with no I/O, so it is unit-testable against captured
// exchanges.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pgwire/auth.h"
#include "pgwire/scram.h"

namespace pgw::engine {

class UpstreamLogin {
 public:
  // `tls_server_end_point`: engaged when the connection to the upstream is
  // TLS, holding the RFC 5929 hash of the server's certificate (empty when
  // it could not be computed). SCRAM then binds to the channel
  // (SCRAM-SHA-256-PLUS) when the server offers it, as libpq's default
  // channel_binding=prefer does.
  UpstreamLogin(std::string user, std::optional<std::string> password,
                std::optional<std::string> tls_server_end_point = std::nullopt)
      : user_(std::move(user)), password_(std::move(password)), tls_server_end_point_(std::move(tls_server_end_point)) {}

  enum class Outcome { kContinue, kAuthenticated };
  struct Step {
    Outcome outcome = Outcome::kContinue;
    std::string reply;  // bytes for the upstream; may be empty
  };

  // Handles one 'R' message body. Errors describe what went wrong without
  // any secret; the session turns them into a 28P01 for the client.
  Result<Step> on_authentication(std::string_view body);

  // The SASL mechanism chosen ("SCRAM-SHA-256-PLUS"), empty before one was,
  // for the debug log line that says which.
  std::string_view sasl_mechanism() const { return scram_ ? scram_->mechanism() : std::string_view{}; }

 private:
  Result<Step> start_sasl(const pgwire::Authentication& auth);

  std::string user_;
  std::optional<std::string> password_;
  std::optional<std::string> tls_server_end_point_;
  std::optional<pgwire::ScramSha256Client> scram_;
  bool sasl_final_checked_ = false;
};

}  // namespace pgw::engine
