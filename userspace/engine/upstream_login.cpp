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
  auto offered = [&](std::string_view m) { return std::find(mechs.begin(), mechs.end(), m) != mechs.end(); };
  // libpq's choice with channel_binding=prefer: -PLUS when the server offers
  // it over TLS; over TLS without it, "y" (the client could bind, the server
  // did not offer), so a server that did offer it detects a downgrade.
  pgwire::ScramChannelBinding binding;
  if (tls_server_end_point_) {
    if (offered(pgwire::kScramSha256Plus) && !tls_server_end_point_->empty()) {
      binding.mode = pgwire::ScramChannelBinding::Mode::kTlsServerEndPoint;
      binding.data = *tls_server_end_point_;
    } else if (!offered(pgwire::kScramSha256Plus)) {
      binding.mode = pgwire::ScramChannelBinding::Mode::kNotOffered;
    }
    // Offered, but the certificate's hash is unknown (no hash for its
    // signature algorithm): "n", no binding, which the server accepts.
  }
  if (binding.mode != pgwire::ScramChannelBinding::Mode::kTlsServerEndPoint && !offered(pgwire::kScramSha256)) {
    return make_error("upstream offers no SASL mechanism pgwarden supports (SCRAM-SHA-256, SCRAM-SHA-256-PLUS)");
  }
  auto client = pgwire::ScramSha256Client::create(*password_, {}, std::move(binding));
  if (!client) return make_error("SCRAM: " + client.error());
  scram_.emplace(std::move(client).value());
  Step step;
  pgwire::encode(pgwire::SaslInitialResponse{scram_->mechanism(), scram_->client_first_message()}, step.reply);
  return step;
}

}  // namespace pgw::engine
