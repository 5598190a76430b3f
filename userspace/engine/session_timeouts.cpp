// How long a peer may keep a session waiting (`timeouts` in the config, and
// the upstream's connect_timeout, which is a linked io_uring timeout on the
// connect itself). The rest are checked here, on each loop thread's
// one-second tick (an io_uring timeout): a deadline costs no timer and no
// submission per session, and fires within a second of being due.
#include <string>

#include "engine/session.h"

namespace pgw::engine {

namespace {

std::string seconds_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// Identification (cgroup and pod lookups) and a cancel connection have no
// setting of their own; this bounds them like authentication_timeout.
constexpr auto kOtherPhaseDeadline = std::chrono::seconds(60);

}  // namespace

void Session::check_deadline(std::chrono::steady_clock::time_point now) {
  if (phase_ == Phase::kClosing || close_after_flush_) return;
  const policy::TimeoutsConfig& t = config_->timeouts;
  switch (phase_) {
    case Phase::kReadStartup:
      // No startup packet parsed: there is nobody to send an ErrorResponse
      // to in the client's protocol yet, so the connection is just closed.
      if (now - started_ >= t.client_startup) {
        close("no complete startup packet within " + seconds_text(t.client_startup) + " (timeouts.client_startup)");
      }
      return;
    case Phase::kConnect:
      return;  // the connect's linked timeout (upstreams[].connect_timeout)
    case Phase::kLogin:
      if (now - login_->started >= t.upstream_login) {
        fail("08006", "pgwarden: upstream \"" + upstream_name_ + "\" did not complete the login within " +
                          seconds_text(t.upstream_login) + " (timeouts.upstream_login)");
      }
      return;
    case Phase::kRelay: {
      if (t.client_idle.count() == 0) return;
      const bool idle = idle_between_transactions() && !waiting_for_approval() && client_.out.empty() &&
                        !client_.send_in_flight && client_.bytes_in == idle_mark_;
      if (!idle) {
        idle_since_ = now;
        idle_mark_ = client_.bytes_in;
        return;
      }
      if (now - idle_since_ >= t.client_idle) {
        fail("57P05", "pgwarden: terminating connection due to idle-session timeout (timeouts.client_idle: " +
                          seconds_text(t.client_idle) + ")");
      }
      return;
    }
    case Phase::kIdentify:
    case Phase::kCancel:
      if (now - started_ >= kOtherPhaseDeadline) {
        if (phase_ == Phase::kCancel) {
          close("cancel request not delivered within 60s");
        } else {
          fail("08006", "pgwarden: the session was not identified within 60s");
        }
      }
      return;
    case Phase::kClosing:
      return;
  }
}

}  // namespace pgw::engine
