// What `pgwarden status` and `sessions list` show about live sessions.
//
// Sessions live on their loop thread; the admin thread only ever reads this
// registry. Each entry's counters have a single writer (the session's loop
// thread), so relaxed atomics cost the data path no locked instruction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgw::engine {

struct SessionInfo {
  uint64_t id = 0;        // the engine's number for it (this run only)
  std::string name;       // unique across runs and nodes (common/instance_name.h): its recording's id
  std::string identity;
  std::string workload;  // cgroup, uid, comm / source address
  std::string upstream;
  std::string user;       // as the client claimed it
  std::string database;
  std::chrono::system_clock::time_point started;
  std::atomic<uint64_t> bytes_from_client{0};
  std::atomic<uint64_t> bytes_to_client{0};
  // Statements decided (policy_filter.cpp says what counts as one).
  std::atomic<uint64_t> statements_allowed{0};
  std::atomic<uint64_t> statements_denied{0};
  std::atomic<uint64_t> statements_held{0};

  void add_from_client(uint64_t n) {
    bytes_from_client.store(bytes_from_client.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void add_to_client(uint64_t n) {
    bytes_to_client.store(bytes_to_client.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

class SessionRegistry {
 public:
  void add(std::shared_ptr<SessionInfo> info) {
    std::lock_guard lock(mu_);
    sessions_[info->id] = std::move(info);
  }
  void remove(uint64_t id) {
    std::lock_guard lock(mu_);
    sessions_.erase(id);
  }
  std::vector<std::shared_ptr<const SessionInfo>> snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<const SessionInfo>> out;
    out.reserve(sessions_.size());
    for (const auto& [id, info] : sessions_) out.push_back(info);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<SessionInfo>> sessions_;
};

}  // namespace pgw::engine
