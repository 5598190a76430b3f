// A loop thread: one io_uring, one provided-buffer group, a multishot
// accept on each listening socket (shared with the other loop threads) and
// the sessions it accepted. Sessions never move between workers, so nothing on
// the data path is shared or locked.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <chrono>
#include <memory>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/engine_state.h"
#include "engine/mask_models.h"
#include "engine/ring.h"
#include "policy/decision_cache.h"
#include "engine/transport.h"

namespace pgw::engine {

class Session;

struct ListenSocket {
  int fd = -1;
  Transport transport = Transport::kTcp;
};

class Worker {
 public:
  Worker(EngineState& state, unsigned index, std::vector<ListenSocket> listeners);
  ~Worker();

  // Starts the thread; returns once its ring is set up (or failed).
  Status start();
  // Asks the loop to stop accepting and drain its sessions; returns at once.
  void begin_drain(std::chrono::milliseconds grace);
  void join();

  Ring& ring() { return ring_; }
  ProvidedBuffers& buffers() { return buffers_; }
  EngineState& state() { return state_; }
  unsigned index() const { return index_; }

  // A session whose receive found no free buffer waits here until one is
  // recycled.
  void wait_for_buffer(Session* session) { buffer_waiters_.push_back(session); }
  void buffer_recycled() { buffers_freed_ = true; }
  // Sends a CancelRequest for an upstream backend on a connection of its own.
  void cancel_upstream(const CancelTarget& target);

  // Runs `task` on this loop thread soon; callable from any thread.
  void post(std::function<void()> task);
  // The live session with this id, or nullptr (it may have ended).
  Session* find_session(uint64_t id) const;

  // Policy decisions of this thread's sessions: no lock on the hot path.
  policy::DecisionCache& decision_cache() { return decision_cache_; }
  LoopMetrics& metrics() { return metrics_; }
  MaskModels& mask_models() { return mask_models_; }

 private:
  void run();
  void arm_accept(size_t listener);
  void arm_wakeup();
  void on_accept(size_t listener, const io_uring_cqe& cqe);
  void on_wakeup();
  void reap_finished();
  void arm_tick();
  void on_tick();
  __kernel_timespec tick_{.tv_sec = 1, .tv_nsec = 0};
  // Accepting stopped on EMFILE/ENFILE/ENOMEM (per listener), and whether
  // that has been logged since the last connection accepted.
  std::vector<bool> accept_paused_;
  bool accept_starved_ = false;
  void resume_accepts();
  size_t sessions_peak_ = 0;  // most sessions open since the last trim
  void trim_after_burst();

  EngineState& state_;
  const unsigned index_;
  std::vector<ListenSocket> listeners_;
  Ring ring_;
  ProvidedBuffers buffers_;
  std::thread thread_;
  int wakeup_fd_ = -1;
  uint64_t wakeup_value_ = 0;

  std::unordered_set<Session*> sessions_;
  std::unordered_map<uint64_t, Session*> sessions_by_id_;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  policy::DecisionCache decision_cache_;
  LoopMetrics& metrics_;
  MaskModels mask_models_;
  void run_posted();
  std::vector<Session*> finished_candidates_;
  std::vector<Session*> buffer_waiters_;
  bool buffers_freed_ = false;

  std::atomic<bool> drain_requested_{false};
  std::atomic<int64_t> grace_ms_{0};
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  bool terminated_ = false;

  friend class Session;
  void note_maybe_finished(Session* s) { finished_candidates_.push_back(s); }
};

}  // namespace pgw::engine
