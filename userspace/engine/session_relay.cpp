// The relay: bytes move between client and upstream in the buffers they were
// received into. Only message headers are looked at here: to enforce the
// maximum message size on what clients send, and to know where the upstream
// is between transactions (ReadyForQuery), which is where a draining engine
// may end a session.
#include <spdlog/spdlog.h>

#include "engine/session.h"
#include "engine/worker.h"

namespace pgw::engine {

void Session::relay_from_client(uint16_t buffer_id, uint32_t length) {
  const std::string_view chunk(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)), length);
  if (!from_client_.scan(chunk, [](const pgwire::Frame&) {})) {
    release_buffer(buffer_id);
    fail("08P01", "pgwarden: invalid message from client: " + from_client_.error());
    return;
  }
  // Whatever the client sent, the upstream owes an answer before it is
  // idle again.
  rfq_seen_last_ = false;
  queue_buffer(upstream_, buffer_id, 0, length);
  release_buffer(buffer_id);
  send_next(upstream_, OpKind::kUpstreamSend);
  read_ahead(client_, upstream_, OpKind::kClientRecv);
}

void Session::relay_from_upstream(uint16_t buffer_id, uint32_t length) {
  const std::string_view chunk(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)), length);
  if (rfq_status_pending_ && !chunk.empty()) {
    transaction_status_ = chunk[0];
    rfq_status_pending_ = false;
  }
  bool last_was_rfq = rfq_seen_last_;
  const bool ok = from_upstream_.scan(chunk, [&](const pgwire::Frame& frame) {
    last_was_rfq = frame.type == 'Z';
    if (frame.type != 'Z') return;
    // ReadyForQuery: the byte after the 5-byte header is the transaction
    // status ('I' idle, 'T' in a transaction, 'E' failed transaction).
    const std::ptrdiff_t status_at = frame.start + 5;
    if (status_at < static_cast<std::ptrdiff_t>(chunk.size())) {
      transaction_status_ = chunk[static_cast<size_t>(status_at)];
    } else {
      rfq_status_pending_ = true;
    }
  });
  if (!ok) {
    release_buffer(buffer_id);
    fail("08P01", "pgwarden: invalid message from upstream: " + from_upstream_.error());
    return;
  }
  rfq_seen_last_ = last_was_rfq;
  queue_buffer(client_, buffer_id, 0, length);
  release_buffer(buffer_id);
  send_next(client_, OpKind::kClientSend);
  read_ahead(upstream_, client_, OpKind::kUpstreamRecv);
}

// Receiving the next chunk while the previous one is still being sent saves
// a loop iteration per message (the send usually completes at once, but its
// completion is only seen on the next io_uring_enter). At most one chunk
// waits behind the one being sent, so a slow reader still stops the writer
// with two buffers per direction.
void Session::read_ahead(Endpoint& from, const Endpoint& to, OpKind kind) {
  if (to.out.size() <= 1) arm_receive(from, kind);
}

bool Session::idle_between_transactions() const {
  return rfq_seen_last_ && !rfq_status_pending_ && transaction_status_ == 'I' && from_upstream_.at_boundary() &&
         from_client_.at_boundary() && upstream_.out.empty() && !upstream_.send_in_flight;
}

// Called when the client has been sent everything queued for it.
void Session::end_if_draining_and_idle() {
  if (!draining_ || phase_ != Phase::kRelay || close_after_flush_) return;
  if (!client_.out.empty() || client_.send_in_flight) return;
  if (!idle_between_transactions()) return;
  fail("57P01", "pgwarden: terminating connection because pgwarden is shutting down");
}

}  // namespace pgw::engine
