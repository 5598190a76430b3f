// The last refusals and approval requests of every session, for the web
// console's "recent decisions". Only decisions other than allow are kept
// (allowed statements are counted in /metrics, not listed: a lock per
// allowed statement would cost every session), bounded.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace pgw::engine {

struct FedDecision {
  std::chrono::system_clock::time_point time;
  uint64_t session = 0;
  std::string identity;
  std::string action;  // "deny", "approve" (held), "approved", "refused after approval"
  std::string classes;
  std::string rule;
  std::string message;
  std::string sql;
};

class DecisionFeed {
 public:
  static constexpr size_t kKept = 500;
  static constexpr size_t kSqlShown = 2000;

  void add(FedDecision d) {
    if (d.sql.size() > kSqlShown) d.sql = d.sql.substr(0, kSqlShown) + "…";
    std::lock_guard lock(mu_);
    feed_.push_back(std::move(d));
    if (feed_.size() > kKept) feed_.pop_front();
  }
  // Newest first.
  std::vector<FedDecision> recent(size_t limit) const {
    std::lock_guard lock(mu_);
    std::vector<FedDecision> out;
    for (auto it = feed_.rbegin(); it != feed_.rend() && out.size() < limit; ++it) out.push_back(*it);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::deque<FedDecision> feed_;
};

}  // namespace pgw::engine
