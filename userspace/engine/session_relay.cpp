// The relay phase: bytes move between client and upstream in the buffers
// they were received into. A MessageSlicer on each direction finds message
// boundaries; the session's Relay (engine/relay/relay.h) says which messages
// it must see whole: from the client, those the server answers with a body
// the tracker or a filter reads (Query, Parse, Bind, Describe, Execute,
// Close, FunctionCall); from the server, what the tracker needs
// (CommandComplete, ReadyForQuery) and what the filters ask for (rows to
// mask, errors to rewrite). Everything else is forwarded as ranges of the
// receive buffer, without a copy; an inspected message forwarded unchanged
// stays a range too when it was whole in the chunk.
#include <spdlog/spdlog.h>

#include "engine/recording_service.h"
#include "engine/session.h"
#include "engine/worker.h"

namespace pgw::engine {

namespace {

// What a client may send behind a statement held for approval before it
// is no longer read (then only a CancelRequest withdraws the request).
constexpr size_t kHeldWhileWaitingMax = 1 << 20;

// Collects what a chunk becomes, in stream order, then queues it. Each piece
// becomes one send, so bytes pgwarden writes itself (masked rows) are
// gathered into one owned piece, and short stretches of the chunk between
// them are copied into it rather than sent on their own.
struct PieceSink : MessageSlicer::Sink {
  static constexpr size_t kCopyIntoOwnedBelow = 16 * 1024;
  std::vector<RelayPiece>& pieces;
  std::string_view chunk;
  PieceSink(std::vector<RelayPiece>& p, std::string_view c) : pieces(p), chunk(c) { pieces.clear(); }
  // An inspected message forwarded unchanged: when it lies in the chunk it
  // stays a range of the receive buffer (one send for the whole chunk).
  void keep(std::string_view whole) {
    if (whole.data() >= chunk.data() && whole.data() + whole.size() <= chunk.data() + chunk.size()) {
      pass_range(static_cast<size_t>(whole.data() - chunk.data()), whole.size());
    } else {
      tail().append(whole);
    }
  }
  void pass_range(size_t offset, size_t length) override {
    if (!pieces.empty()) {
      RelayPiece& last = pieces.back();
      if (!last.is_owned && last.offset + last.length == offset) {
        last.length += length;  // contiguous: keep one send
        return;
      }
      if (last.is_owned && length < kCopyIntoOwnedBelow) {
        last.owned.append(chunk.substr(offset, length));
        return;
      }
    }
    pieces.push_back({offset, length, false, {}});
  }
  void pass_bytes(std::string_view bytes) override { tail().append(bytes); }
  void add(std::string_view bytes) { tail().append(bytes); }
  // The owned piece at the end, where new bytes are appended.
  std::string& tail() {
    if (pieces.empty() || !pieces.back().is_owned) pieces.push_back({0, 0, true, {}});
    return pieces.back().owned;
  }
};

}  // namespace

void Session::queue_pieces(Endpoint& to, std::string_view chunk, std::optional<uint16_t> buffer_id) {
  if (capture_ && &to == &client_) {
    // What the client receives, after masking.
    capture_->server_pieces([&](auto add) {
      for (const auto& piece : relay_->pieces) {
        add(piece.is_owned ? std::string_view(piece.owned) : chunk.substr(piece.offset, piece.length));
      }
    });
  }
  for (auto& piece : relay_->pieces) {
    if (piece.is_owned) {
      queue_owned(to, std::move(piece.owned));
    } else if (buffer_id) {
      queue_buffer(to, *buffer_id, static_cast<uint32_t>(piece.offset), static_cast<uint32_t>(piece.length));
    } else {
      queue_owned(to, std::string(chunk.substr(piece.offset, piece.length)));
    }
  }
  relay_->pieces.clear();
}

// `chunk` is a receive buffer's bytes (buffer_id), or plaintext decrypted
// from TLS that the session owns (none): one path for both.
void Session::relay_from_client(std::string_view chunk, std::optional<uint16_t> buffer_id) {
  if (capture_) {
    capture_->client_bytes(chunk);
    if (ended_for_recording(buffer_id)) return;
  }
  if (client_paused()) {
    // Decided once the relay's question to the server is answered, or
    // people decided the held statement. While people decide, the client
    // is still read (up to a bound), so that closing the connection
    // withdraws the request.
    relay_->held_client.append(chunk);
    release_if(buffer_id);
    if (waiting_for_approval() && relay_->held_client.size() < kHeldWhileWaitingMax) arm_receive(client_, OpKind::kClientRecv);
    return;
  }
  const bool ok = relay_client_bytes(chunk, buffer_id);
  release_if(buffer_id);
  if (!ok) return;
  send_next(upstream_, OpKind::kUpstreamSend);
  if (!client_paused()) read_ahead(client_, upstream_, OpKind::kClientRecv);
  else if (waiting_for_approval()) arm_receive(client_, OpKind::kClientRecv);
}

bool Session::relay_client_bytes(std::string_view chunk, std::optional<uint16_t> buffer_id) {
  struct ClientSink : PieceSink {
    RelayState& rs;
    ClientSink(RelayState& state, std::string_view c) : PieceSink(state.pieces, c), rs(state) {}
    void header(char type, std::string_view) override {
      if (!relay::Relay::wants_client(type)) rs.relay.on_client_header(type);
    }
    void message(char type, std::string_view whole) override {
      if (rs.failed) return;
      rs.scratch.clear();
      switch (rs.relay.on_client_message(type, whole, rs.scratch)) {
        case relay::Relay::Outcome::forward:
          keep(whole);
          return;
        case relay::Relay::Outcome::replace:
          add(rs.scratch);
          return;
        case relay::Relay::Outcome::drop:
        case relay::Relay::Outcome::hold:  // the relay keeps it until people decide
          return;
        case relay::Relay::Outcome::fail:
          rs.failed = true;
          return;
      }
    }
    bool stop() override { return rs.relay.holding_client(); }
  } sink(*relay_, chunk);
  const bool ok = relay_->client_slicer.feed(chunk, [](char type) { return relay::Relay::wants_client(type); }, sink);
  if (!ok) {
    relay_->pieces.clear();
    fail("08P01", "pgwarden: invalid message from client: " + relay_->client_slicer.error());
    return false;
  }
  if (relay_->failed) {
    relay_->pieces.clear();
    fail("XX000", "pgwarden: the session was ended: " + relay_->relay.failure());
    return false;
  }
  if (const size_t stopped = relay_->client_slicer.stopped_at(); stopped != std::string_view::npos) {
    // The rest waits for the server's answer to the relay's question.
    relay_->held_client.insert(0, chunk.substr(stopped));
  }
  queue_pieces(upstream_, chunk, buffer_id);
  if (relay_->relay.held_ask() != nullptr && approval_id_.empty()) hold_for_approval();
  return true;
}

void Session::resume_client() {
  while (!relay_->relay.holding_client() && !relay_->held_client.empty()) {
    const std::string held = std::move(relay_->held_client);
    relay_->held_client.clear();
    if (!relay_client_bytes(held, std::nullopt)) return;
  }
  send_next(upstream_, OpKind::kUpstreamSend);
  if (!client_paused()) read_ahead(client_, upstream_, OpKind::kClientRecv);
}

// Under recording.required a session whose recording failed ends, in
// either direction: a client that only reads (a long result) must not go on
// receiving rows that are no longer recorded.
bool Session::ended_for_recording(std::optional<uint16_t> buffer_id) {
  if (!capture_ || !capture_->failed() || !config_->recording.required) return false;
  release_if(buffer_id);
  fail("53100", "pgwarden: the session was ended: it can no longer be recorded (" + capture_->failure() + ")");
  return true;
}

void Session::relay_from_upstream(std::string_view chunk, std::optional<uint16_t> buffer_id) {
  if (ended_for_recording(buffer_id)) return;
  struct UpstreamSink : PieceSink {
    RelayState& rs;
    UpstreamSink(RelayState& state, std::string_view c) : PieceSink(state.pieces, c), rs(state) {}
    void message(char type, std::string_view whole) override {
      if (rs.failed) return;  // nothing after a failure leaves
      // In a run of rewritten rows the next one is written straight after
      // the last; otherwise into scratch space, so that a message that is
      // forwarded as is stays a range of the receive buffer.
      const bool owned_tail = !pieces.empty() && pieces.back().is_owned;
      std::string& out = owned_tail ? pieces.back().owned : rs.scratch;
      if (!owned_tail) rs.scratch.clear();
      switch (rs.relay.on_server_message(type, whole, out)) {
        case relay::Relay::Outcome::forward:
          keep(whole);
          return;
        case relay::Relay::Outcome::replace:
          if (!owned_tail) tail().append(rs.scratch);
          return;
        case relay::Relay::Outcome::drop:
        case relay::Relay::Outcome::hold:
          return;
        case relay::Relay::Outcome::fail:
          rs.failed = true;
          return;
      }
    }
    // Nothing after a failure leaves, not even messages nobody inspects.
    bool stop() override { return rs.failed; }
  } sink(*relay_, chunk);
  RelayState& rs = *relay_;
  const bool client_held = client_paused();
  const bool ok = rs.upstream_slicer.feed(
      chunk,
      [&rs](char type) {
        if (rs.failed) return false;
        if (rs.relay.wants_server(type)) return true;
        if (rs.relay.on_server_header(type) == relay::Relay::Outcome::fail) rs.failed = true;
        return false;
      },
      sink);
  if (!ok) {
    release_if(buffer_id);
    fail("08P01", "pgwarden: invalid message from upstream: " + rs.upstream_slicer.error());
    return;
  }
  if (rs.failed) {
    if (!rs.relay.failure_sqlstate().empty()) {
      // Ended for a reason of policy (a forbidden role change): what came
      // before it was checked and goes to the client, then the error.
      queue_pieces(client_, chunk, buffer_id);
      release_if(buffer_id);
      fail(rs.relay.failure_sqlstate(), rs.relay.failure());
      return;
    }
    rs.pieces.clear();
    release_if(buffer_id);
    fail("XX000", "pgwarden: the session was ended because pgwarden could not check a result (" +
                      rs.relay.failure() + ")");
    return;
  }
  queue_pieces(client_, chunk, buffer_id);
  release_if(buffer_id);
  send_next(client_, OpKind::kClientSend);
  read_ahead(upstream_, client_, OpKind::kUpstreamRecv);
  if (client_held && !rs.relay.holding_client()) resume_client();
}

// Receiving the next chunk while the previous one is still being sent saves
// a loop iteration per message (the send usually completes at once, but its
// completion is only seen on the next io_uring_enter). At most one chunk
// waits behind the one being sent, so a slow reader still stops the writer
// with two buffers per direction.
//
// When half of the thread's buffers are out, nobody reads ahead: sessions
// whose clients stopped reading then hold one buffer each, not two, and the
// rest of the thread's sessions keep theirs.
void Session::read_ahead(Endpoint& from, const Endpoint& to, OpKind kind) {
  const ProvidedBuffers& pool = worker_.buffers();
  if (to.out.size() <= 1 && pool.in_use() < pool.count() / 2) arm_receive(from, kind);
}

bool Session::idle_between_transactions() const {
  const relay::ProtocolTracker& t = relay_->relay.tracker();
  return t.idle() && t.transaction_status() == 'I' && relay_->upstream_slicer.at_boundary() &&
         relay_->client_slicer.at_boundary() && relay_->held_client.empty() && upstream_.out.empty() &&
         !upstream_.send_in_flight;
}

// Called when the client has been sent everything queued for it.
void Session::end_if_draining_and_idle() {
  if (!draining_ || phase_ != Phase::kRelay || close_after_flush_) return;
  if (!client_.out.empty() || client_.send_in_flight) return;
  if (!idle_between_transactions()) return;
  fail("57P01", "pgwarden: terminating connection because pgwarden is shutting down");
}

}  // namespace pgw::engine
