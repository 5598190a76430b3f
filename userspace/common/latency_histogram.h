// A fixed-bucket histogram of durations, recorded lock-free: one relaxed
// atomic add for the bucket and one for the sum, so many threads can record
// at once without a lock or a fence. Exposed in seconds (the Prometheus
// convention; admin/prometheus_text.h writes it). A snapshot taken while
// others record is not one instant — the sum may include an observation its
// buckets do not yet — which is what scrapers tolerate from every client
// library.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace pgw {

// A histogram's state at one moment, in the unit it is exposed in.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;         // ascending, without +Inf
  std::vector<uint64_t> cumulative_counts;  // one per bound: observations <= bound
  uint64_t count = 0;                       // all observations (the +Inf bucket)
  double sum = 0;
};

class LatencyHistogram {
 public:
  // Upper bounds, ascending. The default suits a policy decision: 1 µs to 100 ms.
  explicit LatencyHistogram(std::vector<std::chrono::nanoseconds> bounds = default_bounds())
      : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    if (bounds_.empty() || !std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
      throw std::invalid_argument("histogram bounds must be non-empty and strictly ascending");
    }
    for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
  }

  void record(std::chrono::nanoseconds duration) {
    if (duration.count() < 0) duration = std::chrono::nanoseconds(0);  // a clock step must not corrupt the sum
    // The first bound >= duration: Prometheus buckets are "less or equal".
    const auto i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), duration) - bounds_.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(duration.count()), std::memory_order_relaxed);
  }

  HistogramSnapshot snapshot() const {
    HistogramSnapshot s;
    s.upper_bounds.reserve(bounds_.size());
    s.cumulative_counts.reserve(bounds_.size());
    uint64_t running = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      s.upper_bounds.push_back(std::chrono::duration<double>(bounds_[i]).count());
      s.cumulative_counts.push_back(running);
    }
    // The count is the buckets' own total, so _count always equals the +Inf bucket.
    s.count = running + buckets_[bounds_.size()].load(std::memory_order_relaxed);
    s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

  static std::vector<std::chrono::nanoseconds> default_bounds() {
    using std::chrono::microseconds;
    return {microseconds(1),    microseconds(2),    microseconds(5),     microseconds(10),
            microseconds(25),   microseconds(50),   microseconds(100),   microseconds(250),
            microseconds(500),  microseconds(1000), microseconds(2500),  microseconds(5000),
            microseconds(10000), microseconds(25000), microseconds(50000), microseconds(100000)};
  }

 private:
  std::vector<std::chrono::nanoseconds> bounds_;
  // One per bound plus the overflow bucket; not cumulative (that is made at
  // snapshot time, so a record touches one counter only).
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace pgw
