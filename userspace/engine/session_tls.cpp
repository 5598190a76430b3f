// TLS on a session's endpoint. The ring does the I/O as for any endpoint;
// the endpoint's TlsChannel (pgwire/tls_channel.h) turns received records
// into plaintext, which then takes the same path a plaintext chunk takes
// (Session::deliver), and turns what is queued into records
// (Session::queue_owned). Nothing here blocks or touches a socket.
#include <spdlog/spdlog.h>

#include "engine/session.h"
#include "engine/worker.h"

namespace pgw::engine {

void Session::start_client_tls(bool direct) {
  // The context of the moment: a reload swaps it for new sessions only.
  auto ctx = worker_.state().client_tls().current();
  if (!ctx) {
    close("TLS requested, but no certificate is loaded");
    return;
  }
  client_.tls = std::make_unique<pgwire::TlsChannel>(std::move(ctx));
  direct_tls_ = direct;
}

void Session::flush_tls(Endpoint& to) {
  // Appended to the last record batch when that one is not being sent yet,
  // so a burst of small pieces still goes out in one send.
  std::string records = to.tls->take_output();
  if (records.empty()) return;
  if (!to.out.empty() && to.out.back().buffer_id < 0 && to.out.back().sent == 0 &&
      !(to.send_in_flight && to.out.size() == 1)) {
    Segment& last = to.out.back();
    last.owned.append(records);
    last.data = reinterpret_cast<const uint8_t*>(last.owned.data());
    last.length = static_cast<uint32_t>(last.owned.size());
    return;
  }
  queue_wire(to, std::move(records));
}

void Session::on_tls_bytes(Endpoint& from, bool from_client, std::string_view ciphertext) {
  const OpKind send_kind = from_client ? OpKind::kClientSend : OpKind::kUpstreamSend;
  const OpKind recv_kind = from_client ? OpKind::kClientRecv : OpKind::kUpstreamRecv;
  const bool was_done = from.tls->handshake_done();
  std::string plain;
  auto status = from.tls->receive(ciphertext, plain);
  flush_tls(from);  // handshake flights, or the alert of a failure
  if (!status) {
    if (!from_client && login_) {
      // The handshake with the upstream (or a cancel connection's): the
      // client hears which upstream failed and why (a certificate that does
      // not verify, a host name that does not match); session_upstream_tls.cpp.
      upstream_tls_failed(status.error());
      return;
    }
    if (!from_client) {
      fail("08006", "pgwarden: upstream \"" + upstream_name_ + "\": " + status.error());
      return;
    }
    close_reason_ = "client " + status.error();
    spdlog::info("session {}: {}", session_name(id_), close_reason_);
    if (from.out.empty() && !from.send_in_flight) {
      close(close_reason_);
    } else {
      close_after_flush_ = true;  // the alert goes out first
      send_next(from, send_kind);
    }
    return;
  }
  send_next(from, send_kind);
  if (!was_done && from.tls->handshake_done() && from_client) {
    if (direct_tls_ && from.tls->alpn() != pgwire::kPostgresAlpn) {
      // What PostgreSQL 17 does: direct TLS only with ALPN, so that a TLS
      // connection meant for another protocol is never taken for ours.
      fail("08P01", "pgwarden: direct TLS connection without ALPN \"postgresql\"");
      return;
    }
    tls_counted_ = true;
    worker_.state().tls_sessions_open.fetch_add(1, std::memory_order_relaxed);
    worker_.state().tls_sessions_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("session {}: client TLS: {}", session_name(id_), from.tls->describe());
  }
  if (!was_done && from.tls->handshake_done() && !from_client) {
    upstream_tls_established();  // the startup packet (or the cancel) goes out over it
    if (plain.empty()) return;   // it armed what comes next
  }
  if (plain.empty()) {
    if (from.tls->peer_closed()) {
      from.eof = true;
      on_peer_closed(from_client);
      return;
    }
    // A handshake step or a partial record: the next receive brings more.
    arm_receive(from, recv_kind);
    return;
  }
  deliver(from, from_client, plain, std::nullopt);
}

}  // namespace pgw::engine
