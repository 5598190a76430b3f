// The relay: bytes move between client and upstream in the buffers they were
// received into. A MessageSlicer on each direction finds message
// boundaries; everything nobody needs to look at is forwarded as ranges of
// the receive buffer (no copy). Only these messages are assembled whole:
//   from the client, when a statement gate is active: Query, Parse, Bind,
//     FunctionCall, Close (the gate decides before a byte is forwarded);
//   from the upstream: ErrorResponse while a denial marker is pending (to
//     put pgwarden's 42501 in its place); CommandComplete, ParameterStatus,
//     ErrorResponse and ReadyForQuery are shown to an active gate, from the
//     receive buffer when they are whole in it, assembled when not.
#include <spdlog/spdlog.h>

#include "engine/session.h"
#include "engine/worker.h"
#include "pgwire/frontend_messages.h"

namespace pgw::engine {

namespace {

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

bool gated_client_message(char type, bool masking) {
  return type == 'Q' || type == 'P' || type == 'B' || type == 'F' || type == 'C' ||
         (masking && (type == 'D' || type == 'E'));
}

}  // namespace

void Session::queue_pieces(Endpoint& to, uint16_t buffer_id) {
  for (auto& piece : relay_pieces_) {
    if (!piece.is_owned) {
      queue_buffer(to, buffer_id, static_cast<uint32_t>(piece.offset), static_cast<uint32_t>(piece.length));
    } else if (!piece.owned.empty()) {
      queue_owned(to, std::move(piece.owned));
    }
  }
  relay_pieces_.clear();
}

void Session::relay_from_client(uint16_t buffer_id, uint32_t length) {
  const std::string_view chunk(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)), length);
  struct ClientSink : PieceSink {
    Session& s;
    ClientSink(Session& session, std::vector<RelayPiece>& p, std::string_view c) : PieceSink(p, c), s(session) {}
    void header(char type, std::string_view) override {
      // Each of these is answered by exactly one ReadyForQuery.
      if (type == 'Q' || type == 'S' || type == 'F') ++s.cycles_outstanding_;
      // Each Sync ends an extended-protocol cycle.
      if (type == 'S' && s.gate_) s.gate_->on_sync();
      if (type == 'S' && s.masker_) s.masker_->on_sync();
    }
    void message(char type, std::string_view whole) override {
      std::optional<std::string> replacement = s.gate_client_message(type, whole);
      if (replacement) {
        add(*replacement);
      } else {
        keep(whole);
      }
    }
  } sink(*this, relay_pieces_, chunk);
  const bool gated = gate_ != nullptr;
  const bool masking = masker_ != nullptr;
  const bool ok = client_slicer_.feed(
      chunk, [gated, masking](char type) { return gated && gated_client_message(type, masking); }, sink);
  if (!ok) {
    release_buffer(buffer_id);
    fail("08P01", "pgwarden: invalid message from client: " + client_slicer_.error());
    return;
  }
  queue_pieces(upstream_, buffer_id);
  release_buffer(buffer_id);
  send_next(upstream_, OpKind::kUpstreamSend);
  read_ahead(client_, upstream_, OpKind::kClientRecv);
}

// Asks the gate about one whole client message; returns the bytes to send
// upstream in its place (a denial marker), or nothing to forward it as is.
std::optional<std::string> Session::gate_client_message(char type, std::string_view whole) {
  const std::string_view body = whole.substr(pgwire::kHeaderSize);
  GateVerdict verdict;
  bool extended = false;
  std::string parse_name;  // a denied Parse keeps the client's statement name
  switch (type) {
    case 'Q': {
      auto q = pgwire::Query::decode(body);
      verdict = q ? gate_->on_query(q->query) : GateVerdict::deny("pgwarden: malformed Query message", "08P01");
      if (masker_) {
        if (q && verdict.action == GateVerdict::Action::kForward) verdict = masker_->on_query(q->query);
        if (verdict.action != GateVerdict::Action::kForward) masker_->on_query_denied();
      }
      break;
    }
    case 'P': {
      extended = true;
      auto p = pgwire::Parse::decode(body);
      verdict = p ? gate_->on_parse(p->statement, p->query)
                  : GateVerdict::deny("pgwarden: malformed Parse message", "08P01");
      if (p) parse_name = std::string(p->statement);
      if (masker_) {
        if (p && verdict.action == GateVerdict::Action::kForward) verdict = masker_->on_parse(p->statement, p->query);
        if (verdict.action != GateVerdict::Action::kForward) masker_->on_parse_denied(parse_name);
      }
      break;
    }
    case 'B': {
      extended = true;
      auto b = pgwire::Bind::decode(body);
      verdict = b ? gate_->on_bind(b->portal, b->statement)
                  : GateVerdict::deny("pgwarden: malformed Bind message", "08P01");
      // A denied Bind is answered by an error, which the masker's queue
      // takes in place of the BindComplete.
      if (masker_) masker_->on_bind(b ? b->portal : std::string_view(), b ? b->statement : std::string_view());
      break;
    }
    case 'F': {
      auto f = pgwire::FunctionCall::decode(body);
      verdict = f ? gate_->on_function_call(f->function)
                  : GateVerdict::deny("pgwarden: malformed FunctionCall message", "08P01");
      if (masker_) {
        if (f && verdict.action == GateVerdict::Action::kForward) verdict = masker_->on_function_call(f->function);
        if (verdict.action != GateVerdict::Action::kForward) masker_->on_function_call_denied();
      }
      break;
    }
    case 'C': {
      auto c = pgwire::Close::decode(body);
      if (c) gate_->on_close(c->target, c->name);
      if (masker_) masker_->on_close(c ? c->target : 'S', c ? c->name : std::string_view());
      return std::nullopt;
    }
    case 'D': {
      auto d = pgwire::Describe::decode(body);
      if (masker_) masker_->on_describe(d ? d->target : 'S', d ? d->name : std::string_view());
      return std::nullopt;
    }
    case 'E': {
      auto e = pgwire::Execute::decode(body);
      if (!masker_) return std::nullopt;
      std::string injected = masker_->on_execute(e ? e->portal : std::string_view());
      if (injected.empty()) return std::nullopt;
      injected.append(whole);
      return injected;
    }
    default:
      return std::nullopt;
  }
  if (verdict.action == GateVerdict::Action::kForward) return std::nullopt;
  spdlog::info("session {}: denied: {}", id_, verdict.message);
  DenialMarkers::Denial denial{std::move(verdict.message), std::move(verdict.sqlstate), std::move(verdict.detail),
                               verdict.position};
  return extended ? markers_.replace_parse(parse_name, std::move(denial)) : markers_.replace_query(std::move(denial));
}

bool Session::gate_watches(char type) const {
  return gate_ != nullptr && (type == 'C' || type == 'S' || type == 'E' || type == 'Z');
}

void Session::relay_from_upstream(uint16_t buffer_id, uint32_t length) {
  const std::string_view chunk(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)), length);
  struct UpstreamSink : PieceSink {
    Session& s;
    UpstreamSink(Session& session, std::vector<RelayPiece>& p, std::string_view c) : PieceSink(p, c), s(session) {}
    void header(char type, std::string_view body_start) override {
      if (type == 'Z') {
        if (s.cycles_outstanding_ > 0) --s.cycles_outstanding_;
        // ReadyForQuery's one body byte is the transaction status; when it
        // is in the next chunk the status is unknown until it is seen whole.
        s.transaction_status_ = body_start.empty() ? '?' : body_start[0];
      }
      s.capture_next_upstream_ = false;
      if (!s.gate_watches(type)) return;
      // Watched messages are small: usually whole in the chunk, so the gate
      // can look without the bytes leaving the receive buffer.
      if (body_start.size() == s.upstream_slicer_.current_body_size()) {
        s.observe_upstream(type, body_start);
      } else {
        s.capture_next_upstream_ = true;  // kept across chunks until it is whole
      }
    }
    void message(char type, std::string_view whole) override {
      if (s.masking_failed_) return;  // nothing after a masking failure leaves
      const std::string_view body = whole.substr(pgwire::kHeaderSize);
      if (s.capture_next_upstream_) {
        s.capture_next_upstream_ = false;
        if (type == 'Z' && !body.empty()) s.transaction_status_ = body[0];
        s.observe_upstream(type, body);
      }
      if (type == 'E') {
        if (auto replaced = s.markers_.rewrite(body)) {
          // pgwarden's own denial: nothing of the server's text is in it;
          // the masker only takes note that the error arrived.
          if (s.masker_) {
            std::string ignored;
            s.masker_->on_upstream(type, whole, ignored);
          }
          add(*replaced);
          return;
        }
      }
      ResultMasker::Outcome outcome = ResultMasker::Outcome::forward;
      if (s.masker_ && s.masker_->wants(type)) {
        // In a run of rewritten rows the next one is written straight after
        // the last; otherwise into scratch space, so that a message that is
        // forwarded as is stays a range of the receive buffer.
        const bool owned_tail = !pieces.empty() && pieces.back().is_owned;
        std::string& out = owned_tail ? pieces.back().owned : s.mask_scratch_;
        outcome = s.masker_->on_upstream(type, whole, out);
        if (!owned_tail) {
          if (outcome == ResultMasker::Outcome::replace) tail().append(s.mask_scratch_);
          s.mask_scratch_.clear();
        }
      }
      switch (outcome) {
        case ResultMasker::Outcome::forward:
          keep(whole);
          return;
        case ResultMasker::Outcome::replace:
        case ResultMasker::Outcome::drop:
          return;
        case ResultMasker::Outcome::fail:
          s.masking_failed_ = true;
          return;
      }
    }
  } sink(*this, relay_pieces_, chunk);
  const bool ok = upstream_slicer_.feed(
      chunk,
      [this](char type) {
        return capture_next_upstream_ || (type == 'E' && markers_.pending()) || (masker_ && masker_->wants(type));
      },
      sink);
  if (!ok) {
    release_buffer(buffer_id);
    fail("08P01", "pgwarden: invalid message from upstream: " + upstream_slicer_.error());
    return;
  }
  if (masking_failed_) {
    relay_pieces_.clear();
    release_buffer(buffer_id);
    fail("XX000", "pgwarden: the session was ended because pgwarden could not check a result for masked values (" +
                      masker_->failure() + ")");
    return;
  }
  queue_pieces(client_, buffer_id);
  release_buffer(buffer_id);
  send_next(client_, OpKind::kClientSend);
  read_ahead(upstream_, client_, OpKind::kUpstreamRecv);
}

void Session::observe_upstream(char type, std::string_view body) {
  if (type == 'Z') markers_.settle();
  if (gate_) gate_->on_upstream(type, body);
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
  return cycles_outstanding_ == 0 && transaction_status_ == 'I' && upstream_slicer_.at_boundary() &&
         client_slicer_.at_boundary() && upstream_.out.empty() && !upstream_.send_in_flight;
}

// Called when the client has been sent everything queued for it.
void Session::end_if_draining_and_idle() {
  if (!draining_ || phase_ != Phase::kRelay || close_after_flush_) return;
  if (!client_.out.empty() || client_.send_in_flight) return;
  if (!idle_between_transactions()) return;
  fail("57P01", "pgwarden: terminating connection because pgwarden is shutting down");
}

}  // namespace pgw::engine
