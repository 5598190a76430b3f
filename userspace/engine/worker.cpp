#include "engine/worker.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "engine/session.h"

namespace pgw::engine {

namespace {
// Enough receives for every connection a loop thread typically carries; when
// all are in flight, receives wait (ENOBUFS) rather than fail. Pages are
// only touched when used, so an idle engine stays small.
constexpr uint32_t kBufferCount = 256;
constexpr uint32_t kBufferSize = 32 * 1024;
constexpr unsigned kRingEntries = 1024;
constexpr uint16_t kBufferGroup = 1;
}  // namespace

Worker::Worker(EngineState& state, unsigned index, std::vector<ListenSocket> listeners)
    : state_(state), index_(index), listeners_(std::move(listeners)), metrics_(state.add_loop_metrics()),
      mask_models_(state.mask_model_store()) {}

Worker::~Worker() {
  join();
  for (Session* s : sessions_) delete s;
  for (auto& l : listeners_) {
    if (l.fd >= 0) ::close(l.fd);
  }
  if (wakeup_fd_ >= 0) ::close(wakeup_fd_);
}

Status Worker::start() {
  wakeup_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wakeup_fd_ < 0) return make_error(std::string("eventfd: ") + strerror(errno));
  // The ring must be created on the thread that uses it (SINGLE_ISSUER).
  std::promise<Status> ready;
  auto ready_future = ready.get_future();
  thread_ = std::thread([this, &ready] {
    Status st = ring_.init(kRingEntries);
    if (st) st = buffers_.init(ring_.raw(), kBufferGroup, kBufferCount, kBufferSize);
    const bool ok = st.ok();
    ready.set_value(std::move(st));
    if (ok) run();
  });
  Status st = ready_future.get();
  if (!st) thread_.join();
  return st;
}

void Worker::begin_drain(std::chrono::milliseconds grace) {
  grace_ms_.store(grace.count());
  drain_requested_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeup_fd_, &one, sizeof one);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::arm_accept(size_t listener) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_multishot_accept(sqe, listeners_[listener].fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, pack_op(nullptr, OpKind::kAccept, listener));
}

void Worker::arm_wakeup() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_read(sqe, wakeup_fd_, &wakeup_value_, sizeof wakeup_value_, 0);
  io_uring_sqe_set_data64(sqe, pack_op(nullptr, OpKind::kWakeup));
}

void Worker::on_accept(size_t listener, const io_uring_cqe& cqe) {
  const bool ended = !(cqe.flags & IORING_CQE_F_MORE);
  if (cqe.res < 0) {
    if (cqe.res == -ECANCELED || draining_) return;
    // The listener was shut down for a handover (Engine::hand_over): its
    // queue went to the successor; nothing more to accept here.
    if (cqe.res == -EINVAL) return;
    if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOBUFS || cqe.res == -ENOMEM) {
      // Out of descriptors or memory: accepting again at once would spin.
      // The connection waits in the listen queue; accepting resumes when a
      // session ends (freeing a descriptor) or on the next tick. Logged once
      // per episode, counted every time.
      bump(metrics_.accept_pauses);
      if (!accept_starved_) {
        accept_starved_ = true;
        spdlog::warn("worker {}: accept: {}; pausing accepts until a session ends or for a second", index_,
                     strerror(-cqe.res));
      }
      if (ended) accept_paused_[listener] = true;
      return;
    }
    spdlog::warn("worker {}: accept: {}", index_, strerror(-cqe.res));
  }
  // Multishot accept ends on errors; re-arm it.
  if (ended && !draining_) arm_accept(listener);
  if (cqe.res < 0) return;
  const int fd = cqe.res;
  if (accept_starved_) {
    accept_starved_ = false;
    spdlog::info("worker {}: accepting connections again", index_);
  }
  if (draining_) {
    ::close(fd);
    return;
  }
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
  auto* session = new Session(*this, state_.next_session_id(), fd, listeners_[listener].transport, peer);
  sessions_.insert(session);
  sessions_peak_ = std::max(sessions_peak_, sessions_.size());
  sessions_by_id_[session->id()] = session;
  session->start();
}

void Worker::cancel_upstream(const CancelTarget& target) {
  auto* session = new Session(*this, state_.next_session_id(), -1, Transport::kTcp, sockaddr_storage{});
  sessions_.insert(session);
  sessions_by_id_[session->id()] = session;
  session->send_cancel(target);
}

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeup_fd_, &one, sizeof one);
}

void Worker::run_posted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
}

Session* Worker::find_session(uint64_t id) const {
  auto it = sessions_by_id_.find(id);
  return it == sessions_by_id_.end() ? nullptr : it->second;
}

void Worker::on_wakeup() {
  run_posted();
  arm_wakeup();
  if (!drain_requested_.load() || draining_) return;
  draining_ = true;
  drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms_.load());
  for (auto& l : listeners_) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel_fd(sqe, l.fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, pack_op(nullptr, OpKind::kShutdown));
  }
  // Draining may start cancel sessions, which join sessions_.
  const std::vector<Session*> current(sessions_.begin(), sessions_.end());
  for (Session* s : current) s->drain();
}

void Worker::reap_finished() {
  bool freed = false;
  for (Session* s : finished_candidates_) {
    auto it = sessions_.find(s);
    if (it != sessions_.end() && s->finished()) {
      sessions_.erase(it);
      sessions_by_id_.erase(s->id());
      delete s;
      freed = true;
    }
  }
  finished_candidates_.clear();
  if (freed) resume_accepts();
}

void Worker::resume_accepts() {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (accept_paused_[i] && !draining_) {
      accept_paused_[i] = false;
      arm_accept(i);
    }
  }
}

void Worker::arm_tick() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, &tick_, 0, 0);
  io_uring_sqe_set_data64(sqe, pack_op(nullptr, OpKind::kTick));
}

// Once a second: session timeouts, paused accepts, buffer gauges.
void Worker::on_tick() {
  arm_tick();
  const auto now = std::chrono::steady_clock::now();
  resume_accepts();
  trim_after_burst();
  metrics_.buffers_in_use.store(buffers_.in_use(), std::memory_order_relaxed);
  metrics_.spare_buffers_in_use.store(buffers_.spares_in_use(), std::memory_order_relaxed);
  const std::vector<Session*> current(sessions_.begin(), sessions_.end());
  for (Session* s : current) s->check_deadline(now);
}

// After a burst of connections (thousands refused at startup, a pool
// closing), malloc keeps the freed sessions' memory for reuse: the engine's
// RSS would stay at the burst's peak. Once the burst is mostly over, it is
// handed back (a few ms, at most once a second and only after a burst).
void Worker::trim_after_burst() {
  constexpr size_t kBurst = 512;
  if (sessions_peak_ < kBurst || sessions_.size() * 4 > sessions_peak_) return;
  malloc_trim(0);
  sessions_peak_ = sessions_.size();
}

void Worker::run() {
  accept_paused_.assign(listeners_.size(), false);
  for (size_t i = 0; i < listeners_.size(); ++i) arm_accept(i);
  arm_wakeup();
  arm_tick();

  while (!(draining_ && sessions_.empty())) {
    int rc = ring_.submit_and_wait();
    if (rc < 0 && rc != -EINTR && rc != -ETIME) {
      spdlog::error("worker {}: io_uring_submit_and_wait: {}", index_, strerror(-rc));
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring_.raw(), head, cqe) {
      ++seen;
      const uint64_t data = cqe->user_data;
      const OpKind kind = op_kind(data);
      if (is_session_op(kind) && kind != OpKind::kShutdown) {
        op_owner<Session>(data)->on_completion(kind, *cqe);
      } else if (kind == OpKind::kAccept) {
        on_accept(op_index(data), *cqe);
      } else if (kind == OpKind::kWakeup) {
        on_wakeup();
      } else if (kind == OpKind::kTick) {
        on_tick();
      }
    }
    io_uring_cq_advance(ring_.raw(), seen);

    if (buffers_freed_ && !buffer_waiters_.empty()) {
      buffers_freed_ = false;
      std::vector<Session*> waiters;
      waiters.swap(buffer_waiters_);
      for (Session* s : waiters) {
        if (sessions_.count(s) != 0) s->retry_receives();
      }
    }
    buffers_freed_ = false;
    reap_finished();

    if (draining_ && std::chrono::steady_clock::now() >= drain_deadline_) {
      const std::vector<Session*> current(sessions_.begin(), sessions_.end());
      if (!terminated_) {
        terminated_ = true;
        for (Session* s : current) s->terminate("shutdown grace period is over");
      } else if (std::chrono::steady_clock::now() >= drain_deadline_ + std::chrono::seconds(5)) {
        // A FATAL that could not be flushed (a client that stopped reading)
        // must not hold the shutdown: close whatever is left.
        for (Session* s : current) s->terminate_now();
      }
    }
  }
  // Submit the last shutdowns/cancels before the thread ends.
  io_uring_submit(ring_.raw());
}

}  // namespace pgw::engine
