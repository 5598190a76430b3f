// Metrics in the Prometheus text exposition format, version 0.0.4 (what
// `GET /metrics` answers with, Content-Type kPrometheusContentType), and a
// histogram cheap enough to record every decision's latency from every loop
// thread.
//
// The writer checks what would make a scraper reject or mis-read the page —
// invalid names, a family written twice, a counter not named *_total, samples
// outside a family — and throws std::logic_error: those are bugs in the
// caller, not conditions to report to a user.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgw::admin {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, histogram };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A histogram's state at one moment, in the unit it is exposed in.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;        // ascending, without +Inf
  std::vector<uint64_t> cumulative_counts;  // one per bound: observations <= bound
  uint64_t count = 0;                       // all observations (the +Inf bucket)
  double sum = 0;
};

class PrometheusText {
 public:
  // Starts a family: its HELP and TYPE lines. The samples written next belong
  // to it. A counter's name ends in _total.
  void family(std::string_view name, MetricType type, std::string_view help);

  // A sample of the current counter or gauge family.
  void sample(const MetricLabels& labels, double value);
  void sample(double value) { sample({}, value); }

  // The _bucket (cumulative, ending with le="+Inf"), _sum and _count lines of
  // the current histogram family.
  void histogram(const MetricLabels& labels, const HistogramSnapshot& snapshot);

  // One-sample families, for the common case.
  void counter(std::string_view name, std::string_view help, double value, const MetricLabels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const MetricLabels& labels = {});

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view name, const MetricLabels& labels, double value, const std::pair<std::string, std::string>* extra = nullptr);

  std::string out_;
  std::string current_;  // the family being written
  MetricType type_ = MetricType::gauge;
  std::set<std::string, std::less<>> families_;
};

// Escaping as the format defines it, exposed for tests.
std::string prometheus_escape_label_value(std::string_view value);  // \ " newline
std::string prometheus_escape_help(std::string_view help);          // \ newline
std::string prometheus_format_value(double value);                  // shortest round-trip, +Inf, -Inf, NaN

// A fixed-bucket histogram of durations, recorded lock-free: one relaxed
// atomic add for the bucket and one for the sum, so many threads can record
// at once without a lock or a fence. Exposed in seconds (the Prometheus
// convention). A snapshot taken while others record is not one instant —
// the sum may include an observation its buckets do not yet — which is what
// scrapers tolerate from every client library.
class LatencyHistogram {
 public:
  // Upper bounds, ascending. The default suits a policy decision: 1 µs to 100 ms.
  explicit LatencyHistogram(std::vector<std::chrono::nanoseconds> bounds = default_bounds());

  void record(std::chrono::nanoseconds duration);
  HistogramSnapshot snapshot() const;

  static std::vector<std::chrono::nanoseconds> default_bounds();

 private:
  std::vector<std::chrono::nanoseconds> bounds_;
  // One per bound plus the overflow bucket; not cumulative (that is made at
  // snapshot time, so a record touches one counter only).
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace pgw::admin
