#include "engine/upstream_login.h"

#include <algorithm>

#include "pgwire/md5_password.h"

namespace pgw::engine {

using pgwire::AuthCode;

Result<UpstreamLogin::Step> UpstreamLogin::on_authentication(std::string_view body) {
  auto auth = pgwire::Authentication::decode(body);
  if (!auth) return make_error("malformed authentication message from upstream: " + auth.error());

  auto need_password = [&]() -> Status {
    if (!password_) return make_error("upstream asks for a password but none is configured (password_file)");
    return ok_status();
  };

  Step step;
  switch (auth->code) {
    case AuthCode::kOk:
      // A server that skips SASL final would let a man in the middle
      // pretend to be it; only accept Ok after SCRAM when it was verified.
      if (scram_ && !sasl_final_checked_) return make_error("upstream ended SCRAM without proving it knows the password");
      step.outcome = Outcome::kAuthenticated;
      return step;
    case AuthCode::kCleartextPassword: {
      if (auto st = need_password(); !st) return make_error(st.error());
      pgwire::encode(pgwire::PasswordMessage{*password_}, step.reply);
      return step;
    }
    case AuthCode::kMd5Password: {
      if (auto st = need_password(); !st) return make_error(st.error());
      auto hashed = pgwire::md5_password_response(user_, *password_, auth->md5_salt);
      if (!hashed) return make_error(hashed.error());
      pgwire::encode(pgwire::PasswordMessage{*hashed}, step.reply);
      return step;
    }
    case AuthCode::kSasl:
      return start_sasl(*auth);
    case AuthCode::kSaslContinue: {
      if (!scram_) return make_error("upstream sent SASL continue without a SASL exchange");
      auto final_msg = scram_->handle_server_first(auth->data);
      if (!final_msg) return make_error("SCRAM: " + final_msg.error());
      pgwire::encode(pgwire::SaslResponse{*final_msg}, step.reply);
      return step;
    }
    case AuthCode::kSaslFinal: {
      if (!scram_) return make_error("upstream sent SASL final without a SASL exchange");
      if (auto st = scram_->verify_server_final(auth->data); !st) return make_error("SCRAM: " + st.error());
      sasl_final_checked_ = true;
      return step;
    }
    default:
      return make_error("upstream asks for an authentication method pgwarden does not support (code " +
                        std::to_string(static_cast<int>(auth->code)) + ")");
  }
}

Result<UpstreamLogin::Step> UpstreamLogin::start_sasl(const pgwire::Authentication& auth) {
  if (!password_) return make_error("upstream asks for SCRAM but no password is configured (password_file)");
  const auto& mechs = auth.sasl_mechanisms;
  if (std::find(mechs.begin(), mechs.end(), pgwire::kScramSha256) == mechs.end()) {
    return make_error("upstream offers no SASL mechanism pgwarden supports (SCRAM-SHA-256)");
  }
  auto client = pgwire::ScramSha256Client::create(*password_);
  if (!client) return make_error("SCRAM: " + client.error());
  scram_.emplace(std::move(client).value());
  Step step;
  pgwire::encode(pgwire::SaslInitialResponse{pgwire::kScramSha256, scram_->client_first_message()}, step.reply);
  return step;
}

}  // namespace pgw::engine
