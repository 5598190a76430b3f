// Session lifecycle and the I/O primitives every phase uses.
#include "audit/recording_time.h"
#include "engine/recording_service.h"
#include "engine/session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <tuple>

#include "engine/worker.h"
#include "pgwire/error_response.h"

namespace pgw::engine {

Session::Session(Worker& worker, uint64_t id, int client_fd, Transport transport, const sockaddr_storage& peer)
    : worker_(worker),
      id_(id),
      transport_(transport),
      peer_(peer),
      started_(std::chrono::steady_clock::now()) {
  // Read together: a reload between the two would give a recording header
  // a generation that is not its policy_hash's.
  std::tie(config_, config_generation_) = worker.state().config_and_generation();
  client_.fd = client_fd;
  worker_.state().sessions_open.fetch_add(1, std::memory_order_relaxed);
  worker_.state().sessions_total.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  forget_own_socket();
  if (capture_) capture_->set_resume(nullptr);
  if (relay_ && relay_->held_client_chunk) release_buffer(relay_->held_client_chunk->first);
  release_segments(client_);
  release_segments(upstream_);
  if (client_.fd >= 0) ::close(client_.fd);
  if (upstream_.fd >= 0) ::close(upstream_.fd);
  if (proc_.fd >= 0) ::close(proc_.fd);
  if (issued_cancel_key_) worker_.state().cancels().forget(issued_cancel_key_->first, issued_cancel_key_->second);
  worker_.state().sessions_open.fetch_sub(1, std::memory_order_relaxed);
  if (tls_counted_) worker_.state().tls_sessions_open.fetch_sub(1, std::memory_order_relaxed);
  if (info_) worker_.state().sessions().remove(id_);
  if (phase_reached_relay_) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
    spdlog::info("session {} closed: identity={} upstream={} duration={}ms bytes_from_client={} bytes_to_client={} ({})",
                 session_name(id_), identity_name_, upstream_name_, ms.count(), client_.bytes_in, client_.bytes_out, close_reason_);
  } else if (!login_ || login_->cancel_key.empty()) {
    spdlog::info("session {} ended before relaying: {}", session_name(id_), close_reason_);
  }
}

void Session::start() {
  if (transport_ == Transport::kTcp) {
    int one = 1;
    // Every protocol message is latency-bound; Nagle would hold small ones.
    setsockopt(client_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  arm_receive(client_, OpKind::kClientRecv);
}

void Session::on_completion(OpKind kind, const io_uring_cqe& cqe) {
  --in_flight_;
  switch (kind) {
    case OpKind::kClientRecv:
      client_.recv_in_flight = false;
      on_receive(client_, true, cqe);
      break;
    case OpKind::kUpstreamRecv:
      upstream_.recv_in_flight = false;
      on_receive(upstream_, false, cqe);
      break;
    case OpKind::kClientSend:
      client_.send_in_flight = false;
      on_sent(client_, true, cqe);
      break;
    case OpKind::kUpstreamSend:
      upstream_.send_in_flight = false;
      on_sent(upstream_, false, cqe);
      break;
    case OpKind::kUpstreamConnect:
      on_connected(cqe);
      break;
    case OpKind::kConnectTimeout:
      break;  // the connect completion says what happened
    case OpKind::kFileOpen:
    case OpKind::kFileRead:
    case OpKind::kFileClose:
      on_proc_file(kind, cqe);
      break;
    default:
      break;
  }
  if (finished()) worker_.note_maybe_finished(this);
}

void Session::arm_receive(Endpoint& from, OpKind kind) {
  if (from.recv_in_flight || from.eof || from.fd < 0 || phase_ == Phase::kClosing) return;
  if (from.waiting_for_recording) return;
  if (capture_ && capture_->pause_if_behind()) {
    // The recording is more than a few MiB behind (a large result or COPY):
    // this session waits for it, the others do not.
    from.waiting_for_recording = true;
    worker_.state().recordings()->hurry();
    return;
  }
  io_uring_sqe* sqe = worker_.ring().sqe();
  io_uring_prep_recv(sqe, from.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  // Usually armed right after the socket was drained: wait for readiness
  // instead of trying a receive that would find nothing.
  sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  sqe->buf_group = worker_.buffers().group_id();
  io_uring_sqe_set_data64(sqe, pack_op(this, kind));
  from.recv_in_flight = true;
  ++in_flight_;
}

bool Session::arm_spare_receive(Endpoint& from, OpKind kind) {
  const auto spare = worker_.buffers().borrow_spare();
  if (!spare) return false;
  // Data is waiting (that is what ENOBUFS says): a plain receive, no poll first.
  io_uring_sqe* sqe = worker_.ring().sqe();
  io_uring_prep_recv(sqe, from.fd, worker_.buffers().data(*spare), ProvidedBuffers::kSpareSize, 0);
  io_uring_sqe_set_data64(sqe, pack_op(this, kind));
  from.spare_buffer = *spare;
  from.recv_in_flight = true;
  ++in_flight_;
  return true;
}

void Session::queue_owned(Endpoint& to, std::string bytes) {
  if (bytes.empty()) return;
  if (to.tls) {
    // A failed channel has nothing more to say; the session is ending anyway.
    if (to.tls->send(bytes)) flush_tls(to);
    return;
  }
  queue_wire(to, std::move(bytes));
}

void Session::queue_wire(Endpoint& to, std::string bytes) {
  if (bytes.empty()) return;
  Segment seg;
  seg.owned = std::move(bytes);
  seg.length = static_cast<uint32_t>(seg.owned.size());
  to.out.push_back(std::move(seg));
  // std::string's buffer moves with it, so the pointer is taken in place.
  to.out.back().data = reinterpret_cast<const uint8_t*>(to.out.back().owned.data());
}

void Session::queue_buffer(Endpoint& to, uint16_t buffer_id, uint32_t offset, uint32_t length) {
  if (length == 0) return;
  if (to.tls) {
    // Encrypted now: the buffer goes back to the kernel without waiting for the send.
    queue_owned(to, std::string(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)) + offset, length));
    return;
  }
  Segment seg;
  seg.buffer_id = buffer_id;
  seg.data = worker_.buffers().data(buffer_id) + offset;
  seg.length = length;
  worker_.buffers().retain(buffer_id);
  to.out.push_back(std::move(seg));
}

void Session::release_buffer(uint16_t buffer_id) {
  if (worker_.buffers().release(buffer_id)) worker_.buffer_recycled();
}

void Session::send_next(Endpoint& to, OpKind kind) {
  if (to.send_in_flight || to.out.empty() || to.fd < 0) return;
  Segment& seg = to.out.front();
  io_uring_sqe* sqe = worker_.ring().sqe();
  io_uring_prep_send(sqe, to.fd, seg.data + seg.sent, seg.length - seg.sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, pack_op(this, kind));
  to.send_in_flight = true;
  ++in_flight_;
}

void Session::on_receive(Endpoint& from, bool from_client, const io_uring_cqe& cqe) {
  bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  auto buffer_id = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if (from.spare_buffer >= 0) {
    // A receive into a spare: from here on it is a buffer like any other.
    buffer_id = static_cast<uint16_t>(from.spare_buffer);
    from.spare_buffer = -1;
    has_buffer = true;
  }
  if (has_buffer) worker_.buffers().take(buffer_id);
  if (phase_ == Phase::kClosing || close_after_flush_) {
    // Closing, or only flushing what is queued for the client: nothing
    // received now is wanted.
    if (has_buffer) {
      release_buffer(buffer_id);
    }
    return;
  }
  if (cqe.res == -ENOBUFS) {
    // Every ring buffer of this worker is out, typically held by sessions
    // whose clients stopped reading: this session reads into a spare of its
    // own rather than wait for them. Only when the spares are gone too does
    // it wait for a buffer to come back.
    if (arm_spare_receive(from, from_client ? OpKind::kClientRecv : OpKind::kUpstreamRecv)) return;
    from.waiting_for_buffer = true;
    worker_.wait_for_buffer(this);
    return;
  }
  if (cqe.res <= 0) {
    if (has_buffer) release_buffer(buffer_id);  // a spare's receive found nothing
    from.eof = true;
    on_peer_closed(from_client);
    return;
  }
  const auto length = static_cast<uint32_t>(cqe.res);
  from.bytes_in += length;
  if (info_ && from_client) info_->add_from_client(length);
  const std::string_view chunk(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)), length);
  if (from.tls) {
    on_tls_bytes(from, from_client, chunk);  // copies out what it decrypts
    release_buffer(buffer_id);
    return;
  }
  deliver(from, from_client, chunk, buffer_id);
}

void Session::deliver(Endpoint& /*from: the phases know which side*/, bool from_client, std::string_view chunk, std::optional<uint16_t> buffer_id) {
  auto copy_and_recycle = [&](std::string& into) {
    into.append(chunk);
    release_if(buffer_id);
  };
  switch (phase_) {
    case Phase::kReadStartup:
      if (!from_client) break;
      copy_and_recycle(startup_state_->client_in);
      on_startup_bytes();
      return;
    case Phase::kLogin:
      if (from_client) {
        // The client must wait for AuthenticationOk; anything it sends
        // before is a protocol violation.
        release_if(buffer_id);
        fail("08P01", "pgwarden: client sent data before authentication completed");
        return;
      }
      if (login_->tls_stage == LoginState::TlsStage::kAwaitAnswer) {
        std::string answer;
        copy_and_recycle(answer);
        on_ssl_answer(answer);
        return;
      }
      copy_and_recycle(login_->upstream_in);
      on_login_bytes();
      return;
    case Phase::kCancel:
      if (!from_client && login_ && login_->tls_stage == LoginState::TlsStage::kAwaitAnswer) {
        std::string answer;
        copy_and_recycle(answer);
        on_ssl_answer(answer);
        return;
      }
      break;
    case Phase::kRelay:
      if (from_client && relay_->waiting_for_catalog) {
        // Decided once the catalog is there; nothing more is read until then.
        if (buffer_id) {
          relay_->held_client_chunk = {*buffer_id, static_cast<uint32_t>(chunk.size())};
        } else {
          relay_->held_client_plain.append(chunk);
        }
        return;
      }
      if (from_client) {
        relay_from_client(chunk, buffer_id);
      } else {
        relay_from_upstream(chunk, buffer_id);
      }
      return;
    default:
      break;
  }
  // Bytes in a phase that expects none (e.g. a cancel connection talking).
  release_if(buffer_id);
  close("unexpected data");
}

void Session::on_sent(Endpoint& to, bool to_client, const io_uring_cqe& cqe) {
  if (cqe.res < 0) {
    to.eof = true;
    if (!to_client && close_after_flush_) return;  // the upstream was shut on purpose
    close(std::string(to_client ? "client" : "upstream") + " send failed: " + strerror(-cqe.res));
    return;
  }
  if (to.out.empty()) return;
  Segment& seg = to.out.front();
  seg.sent += static_cast<uint32_t>(cqe.res);
  to.bytes_out += static_cast<uint32_t>(cqe.res);
  if (info_ && to_client) info_->add_to_client(static_cast<uint32_t>(cqe.res));
  if (seg.sent >= seg.length) {
    if (seg.buffer_id >= 0) {
      release_buffer(static_cast<uint16_t>(seg.buffer_id));
    }
    to.out.pop_front();
  }
  if (phase_ == Phase::kClosing) return;
  if (!to.out.empty()) {
    send_next(to, to_client ? OpKind::kClientSend : OpKind::kUpstreamSend);
    return;
  }
  // Everything queued for this side is out.
  if (close_after_flush_ && to_client) {
    close(close_reason_.empty() ? "closed after error" : close_reason_);
    return;
  }
  if (phase_ == Phase::kCancel && !to_client && login_ && login_->cancel_sent) {
    close("cancel request forwarded");
    return;
  }
  if (phase_ == Phase::kRelay) {
    // Backpressure: the other side is read again only now.
    if (to_client) {
      arm_receive(upstream_, OpKind::kUpstreamRecv);
      end_if_draining_and_idle();
    } else if (!client_paused()) {
      arm_receive(client_, OpKind::kClientRecv);
    }
  }
}

void Session::on_peer_closed(bool client_side) {
  if (client_side) {
    close("client disconnected");
  } else if (phase_ == Phase::kRelay || phase_ == Phase::kLogin) {
    // The upstream ended the connection (after a FATAL it already sent, or
    // because it went away): let the client read what is queued, then close.
    close_reason_ = "upstream closed the connection";
    if (phase_ == Phase::kLogin && !login_->authenticated) {
      fail("08006", "pgwarden: upstream \"" + upstream_name_ + "\" closed the connection during login");
      return;
    }
    if (client_.out.empty() && !client_.send_in_flight) {
      close(close_reason_);
    } else {
      close_after_flush_ = true;
    }
  } else {
    close("upstream closed the connection");
  }
}

void Session::fail(std::string_view sqlstate, std::string message) {
  if (phase_ == Phase::kClosing || close_after_flush_) return;
  spdlog::warn("session {}: {}", session_name(id_), message);
  if (client_.fd < 0 || (phase_ == Phase::kRelay && !relay_->upstream_slicer.at_boundary())) {
    // No client to tell (a cancel connection), or the client is in the
    // middle of a message: an ErrorResponse now would garble its stream.
    close(std::move(message));
    return;
  }
  std::string bytes;
  pgwire::build_error_response({.severity = "FATAL", .sqlstate = sqlstate, .message = message}, bytes);
  if (capture_) capture_->server_bytes(bytes);
  close_reason_ = std::move(message);
  // Nothing more is read from either side; the upstream is no longer needed.
  if (upstream_.fd >= 0) submit_shutdown(upstream_.fd);
  release_segments(upstream_);
  queue_owned(client_, std::move(bytes));
  if (client_.tls) {
    client_.tls->close();  // close_notify: the client sees a clean end after the error
    flush_tls(client_);
  }
  close_after_flush_ = true;
  if (client_.out.empty() && !client_.send_in_flight) {
    // Nothing could be queued (a TLS handshake that never finished).
    close(close_reason_);
    return;
  }
  send_next(client_, OpKind::kClientSend);
}

void Session::submit_shutdown(int fd) {
  // shutdown() completes receives pending on the socket with 0 and makes
  // pending sends fail; the cancel catches operations not yet started
  // (connect). Neither completion refers to the session.
  ::shutdown(fd, SHUT_RDWR);
  io_uring_sqe* sqe = worker_.ring().sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, pack_op(nullptr, OpKind::kShutdown));
}

void Session::close(std::string reason) {
  if (phase_ == Phase::kClosing) return;
  // Nothing of a held statement ever runs once its session is gone.
  withdraw_approval("its session ended: " + reason);
  if (capture_) {
    // The end time and the counts: what `sessions list` shows of an ended
    // session without reading its statements.
    nlohmann::json end = {{"event", "session_end"},
                          {"reason", reason},
                          {"end_time", audit::format_utc(std::chrono::system_clock::now())}};
    if (info_) {
      end["statements"] = {{"allowed", info_->statements_allowed.load(std::memory_order_relaxed)},
                           {"denied", info_->statements_denied.load(std::memory_order_relaxed)},
                           {"held", info_->statements_held.load(std::memory_order_relaxed)}};
    }
    capture_->event(end);
    worker_.state().recordings()->close(capture_);
    capture_.reset();
  }
  if (phase_ == Phase::kRelay && !relay_->relay.tracker().idle() && upstream_cancel_target_) {
    // The upstream is still working on this session's statement. A backend
    // notices a closed socket only when it next writes, so a pg_sleep or a
    // long sort would go on for nothing: cancel it.
    worker_.cancel_upstream(*upstream_cancel_target_);
  }
  if (close_reason_.empty() || !close_after_flush_) close_reason_ = std::move(reason);
  phase_ = Phase::kClosing;
  if (client_.fd >= 0) submit_shutdown(client_.fd);
  if (upstream_.fd >= 0) submit_shutdown(upstream_.fd);
  if (finished()) worker_.note_maybe_finished(this);
}

void Session::release_segments(Endpoint& ep) {
  // A segment whose send is in flight still belongs to the kernel until its
  // completion arrives; the destructor runs only after that.
  while (!ep.out.empty()) {
    if (ep.send_in_flight && ep.out.size() == 1 && phase_ != Phase::kClosing) break;
    Segment& seg = ep.out.back();
    if (seg.buffer_id >= 0) {
      release_buffer(static_cast<uint16_t>(seg.buffer_id));
    }
    ep.out.pop_back();
  }
}

void Session::recording_caught_up() {
  if (phase_ != Phase::kRelay) return;
  if (upstream_.waiting_for_recording) {
    upstream_.waiting_for_recording = false;
    arm_receive(upstream_, OpKind::kUpstreamRecv);
  }
  if (client_.waiting_for_recording) {
    client_.waiting_for_recording = false;
    if (!client_paused() || waiting_for_approval()) arm_receive(client_, OpKind::kClientRecv);
  }
}

void Session::retry_receives() {
  if (client_.waiting_for_buffer && !client_paused()) {
    client_.waiting_for_buffer = false;
    arm_receive(client_, OpKind::kClientRecv);
  }
  if (upstream_.waiting_for_buffer) {
    upstream_.waiting_for_buffer = false;
    arm_receive(upstream_, OpKind::kUpstreamRecv);
  }
}

void Session::drain() {
  draining_ = true;
  if (phase_ == Phase::kRelay) {
    end_if_draining_and_idle();
  } else if (phase_ != Phase::kClosing && phase_ != Phase::kCancel) {
    fail("57P01", "pgwarden: terminating connection because pgwarden is shutting down");
  }
}

void Session::terminate(std::string_view why) {
  if (phase_ == Phase::kClosing) return;
  if (phase_ == Phase::kRelay && !client_.send_in_flight) {
    // Only at a message boundary can an ErrorResponse be added to the stream.
    if (relay_->upstream_slicer.at_boundary()) {
      // Queued TLS records cannot be dropped (the next one would fail its
      // check): the error goes after them.
      if (!client_.tls) release_segments(client_);
      fail("57P01", "pgwarden: terminating connection: " + std::string(why));
      return;
    }
  }
  close(std::string(why));
}

}  // namespace pgw::engine
