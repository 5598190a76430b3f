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
  UpstreamLogin(std::string user, std::optional<std::string> password)
      : user_(std::move(user)), password_(std::move(password)) {}

  enum class Outcome { kContinue, kAuthenticated };
  struct Step {
    Outcome outcome = Outcome::kContinue;
    std::string reply;  // bytes for the upstream; may be empty
  };

  // Handles one 'R' message body. Errors describe what went wrong without
  // any secret; the session turns them into a 28P01 for the client.
  Result<Step> on_authentication(std::string_view body);

 private:
  Result<Step> start_sasl(const pgwire::Authentication& auth);

  std::string user_;
  std::optional<std::string> password_;
  std::optional<pgwire::ScramSha256Client> scram_;
  bool sasl_final_checked_ = false;
};

}  // namespace pgw::engine
