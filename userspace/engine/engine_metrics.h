// What the engine counts for /metrics. Each loop thread has its own set, so
// counting costs a plain load and store on a cache line no other thread
// writes; a scrape sums the sets (relaxed reads: a counter may be a few
// statements behind, never torn).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/latency_histogram.h"
#include "policy/decision.h"
#include "sql/statement_facts.h"

namespace pgw::engine {

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct alignas(64) LoopMetrics {
  static constexpr size_t kActions = 3;  // policy::Action: allow, approve, deny
  static constexpr size_t kClasses = sql::kStatementClassCount;
  // Statements by decision and class; a statement of several classes counts
  // once in each. The last column: no class known (unparsed, a function call).
  std::atomic<uint64_t> statements[kActions][kClasses + 1] = {};
  // Statements decided, by decision (each once).
  std::atomic<uint64_t> decisions[kActions] = {};
  // Result rows (DataRow or COPY rows) in which pgwarden changed a value.
  std::atomic<uint64_t> masked_rows{0};
  // Accepts that failed for want of descriptors or memory (accepting pauses).
  std::atomic<uint64_t> accept_pauses{0};
  // Receive buffers out now: ring buffers and spares (engine/ring.h); set
  // on the loop's one-second tick, not per receive.
  std::atomic<uint64_t> buffers_in_use{0};
  std::atomic<uint64_t> spare_buffers_in_use{0};
  LatencyHistogram decision_latency;

  void count(policy::Action action, sql::ClassSet classes) {
    const auto a = static_cast<size_t>(action);
    bump(decisions[a]);
    if (classes.empty()) {
      bump(statements[a][kClasses]);
      return;
    }
    for (uint32_t bits = classes.bits(); bits != 0; bits &= bits - 1) {
      bump(statements[a][static_cast<size_t>(__builtin_ctz(bits))]);
    }
  }
};

}  // namespace pgw::engine
