// TLS to the upstream (upstreams[].tls): after connect, an SSLRequest and
// the server's one-byte answer; on 'S' a client-role TlsChannel on the
// upstream endpoint (SNI, and the checks the mode asks for) whose handshake
// runs through the ring like any other bytes (session_tls.cpp); once it is
// done the login goes on over it (session_upstream.cpp), or, for a cancel
// connection, the CancelRequest. libpq's sslmode rules are in config.h.
#include <spdlog/spdlog.h>

#include "engine/session.h"
#include "engine/worker.h"
#include "pgwire/startup.h"

namespace pgw::engine {

namespace {

std::string mode_words(const policy::Upstream& u) { return std::string(policy::to_string(u.tls)); }

}  // namespace

void Session::request_upstream_tls() {
  login_->tls_stage = LoginState::TlsStage::kAwaitAnswer;
  std::string packet;
  pgwire::encode(pgwire::SslRequest{}, packet);
  queue_owned(upstream_, std::move(packet));  // the endpoint has no channel yet: as it is
  send_next(upstream_, OpKind::kUpstreamSend);
  arm_receive(upstream_, OpKind::kUpstreamRecv);
}

void Session::on_ssl_answer(std::string_view bytes) {
  LoginState& l = *login_;
  const bool cancel = phase_ == Phase::kCancel;
  if (bytes[0] == 'S') {
    if (bytes.size() > 1) {
      // What follows 'S' must be the server's TLS records, sent only after
      // our ClientHello: bytes already here came before the handshake and
      // would be taken as if they had been encrypted (CVE-2021-23222).
      upstream_tls_failed("the server sent unencrypted bytes after accepting SSLRequest");
      return;
    }
    if (!l.tls_context) {
      upstream_tls_failed("no TLS context for this upstream (reload in progress?)");
      return;
    }
    upstream_.tls = std::make_unique<pgwire::TlsChannel>(l.tls_context, l.tls_server_name, l.tls_check_host);
    l.tls_stage = LoginState::TlsStage::kHandshake;
    if (auto st = upstream_.tls->start(); !st) {
      upstream_tls_failed(st.error());
      return;
    }
    flush_tls(upstream_);
    send_next(upstream_, OpKind::kUpstreamSend);
    arm_receive(upstream_, OpKind::kUpstreamRecv);
    return;
  }
  if (bytes[0] == 'N' && bytes.size() == 1) {
    if (cancel) {
      // The session it cancels spoke TLS: the server changed its mind, or
      // this is not the same server. No plaintext cancel then.
      close("cancel: upstream \"" + upstream_name_ + "\" no longer accepts TLS");
      return;
    }
    if (policy::tls_required(*upstream_config_)) {
      fail("08006", "pgwarden: upstream \"" + upstream_name_ +
                        "\" does not accept TLS (the server answered N to SSLRequest), and its tls is " +
                        mode_words(*upstream_config_));
      return;
    }
    l.tls_stage = LoginState::TlsStage::kNone;  // prefer: plaintext
    start_upstream_login();
    return;
  }
  // 'E': a server too old to know SSLRequest answers with an error; anything
  // else is not PostgreSQL.
  upstream_tls_failed(bytes[0] == 'E' ? "the server answered SSLRequest with an error"
                                      : "the server's answer to SSLRequest is neither S nor N");
}

void Session::upstream_tls_established() {
  login_->tls_stage = LoginState::TlsStage::kDone;
  if (phase_ == Phase::kCancel) {
    spdlog::debug("session {}: cancel request to upstream \"{}\" over TLS ({})", session_name(id_), upstream_name_,
                  upstream_.tls->describe());
    send_cancel_request();
    return;
  }
  start_upstream_login();
}

void Session::upstream_tls_failed(const std::string& why) {
  if (phase_ == Phase::kCancel) {
    close("cancel: upstream \"" + upstream_name_ + "\": " + why);
    return;
  }
  spdlog::warn("session {}: upstream \"{}\": {}", session_name(id_), upstream_name_, why);
  fail("08006", "pgwarden: upstream \"" + upstream_name_ + "\": " + why);
}

// The TLS settings of this session's upstream, from the contexts of the
// config in force (a reload reads ca_file again for the sessions after it).
void Session::choose_upstream_tls() {
  LoginState& l = *login_;
  if (!policy::tls_attempted(*upstream_config_)) return;
  if (auto contexts = worker_.state().upstream_tls()) l.tls_context = contexts->find(upstream_name_);
  l.tls_server_name = upstream_config_->server_name;
  l.tls_check_host = policy::tls_verifies_name(*upstream_config_);
}

}  // namespace pgw::engine
