// Metrics in the Prometheus text exposition format, version 0.0.4 (what
// `GET /metrics` answers with, Content-Type kPrometheusContentType).
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

#include "common/latency_histogram.h"

namespace pgw::admin {

// The histogram type lives in common/ so the engine records without
// depending on this library.
using pgw::HistogramSnapshot;
using pgw::LatencyHistogram;

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, histogram };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

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

}  // namespace pgw::admin
