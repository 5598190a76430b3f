// The daemon: loop threads, their listeners, signals and config reloads.
//
//   SIGTERM / SIGINT  stop accepting, let sessions reach an idle point for
//                     `shutdown_grace`, then close what remains; exit 0
//   SIGHUP            reload the config file; a bad file keeps the old
//                     config and the log says why
//
// With interception on, the main thread also refreshes the eBPF heartbeat
// every 200 ms; a clean stop detaches and unpins everything after the
// sessions are gone, while a crash leaves the redirect in place so that
// `fail: closed` holds.
//
// Signals are taken synchronously on the main thread (sigtimedwait), which
// does no data-path work; loop threads are told through an eventfd.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "engine/engine_state.h"
#include "engine/worker.h"

namespace pgw::engine {

class Engine {
 public:
  Engine(std::string config_path, std::shared_ptr<const policy::Config> config);
  ~Engine();

  // Opens listeners and starts the loop threads.
  Status start();
  // Blocks until a stop signal, or until a successor took the pins over and
  // this engine handed over; returns the process exit code.
  int wait_for_signals();
  // Whether wait_for_signals() ended in a handover (the pins are the successor's).
  bool handed_over() const { return handed_over_; }

  const EngineState& state() const { return state_; }
  EngineState& state() { return state_; }
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

 private:
  void reload();
  void stop();
  // Another engine took over the pins (a rolling update): stop accepting,
  // let it have the queued connections, drain, exit without detaching.
  void hand_over(uint32_t successor);

  std::string config_path_;
  EngineState state_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Declared after workers_, so destroyed first: its loader thread may post
  // to loop threads, which must still exist.
  std::unique_ptr<class CatalogStore> catalogs_;
  std::unique_ptr<class CgroupResolver> cgroups_;
  // Posts to nobody: loop threads only read its pod map.
  std::unique_ptr<class KubernetesWatch> kubernetes_;
  // After workers_ too: its threads deliver outcomes to loop threads.
  std::unique_ptr<approval::ApprovalQueue> approvals_;
  // Destroyed before workers_, which stop() has joined by then: its last
  // pass closes (and signs as closed) every capture still open.
  std::unique_ptr<class RecordingService> recordings_;
  Status attach_interceptor(const policy::Config& config);
  void detach_after_failed_start();

  std::string unix_socket_path_;
  uint64_t unix_socket_inode_ = 0;
  // intercept.unix_paths: the socket redirected unix connects arrive on.
  std::string intercept_socket_path_;
  uint64_t intercept_socket_inode_ = 0;
  // The listening sockets (worker 0 owns them), shut down at a handover.
  std::vector<int> listen_fds_;
  bool handed_over_ = false;  // no heartbeat, no detach: the pins are the successor's
  std::unique_ptr<kernel::Interceptor> interceptor_;
};

// Loop threads for a config: `workers`, or one per online CPU when 0.
unsigned worker_count_for(const policy::Config& config);

// Blocks the signals the engine handles in the calling thread and every
// thread it starts afterwards. Call before Engine::start().
void block_engine_signals();

}  // namespace pgw::engine
