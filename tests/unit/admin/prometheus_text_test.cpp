// The Prometheus text format writer and the lock-free histogram; the page is
// also checked by Prometheus's own promtool when it is installed.
#include "admin/prometheus_text.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "http_test_support.h"

namespace pgw::admin {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(prometheus_escape_label_value(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  EXPECT_EQ(prometheus_escape_help(R"(a\b"c)" "\n" "d"), R"(a\\b"c\nd)");
}

TEST(PrometheusText, FormatsValues) {
  EXPECT_EQ(prometheus_format_value(0), "0");
  EXPECT_EQ(prometheus_format_value(42), "42");
  EXPECT_EQ(prometheus_format_value(18446744073709551615.0), "18446744073709551616");
  EXPECT_EQ(prometheus_format_value(0.25), "0.25");
  EXPECT_EQ(prometheus_format_value(1e-06), "1e-06");
  EXPECT_EQ(prometheus_format_value(-1.5), "-1.5");
  EXPECT_EQ(prometheus_format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(prometheus_format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(prometheus_format_value(std::nan("")), "NaN");
}

TEST(PrometheusText, WritesFamiliesAndSamples) {
  PrometheusText p;
  p.family("pgwarden_decisions_total", MetricType::counter, "Statements decided.\nBy outcome.");
  p.sample({{"outcome", "allow"}, {"identity", "coding-agent"}}, 12);
  p.sample({{"outcome", "deny"}, {"identity", "say \"hi\"\\"}}, 3);
  p.gauge("pgwarden_sessions", "Live sessions.", 2);
  EXPECT_EQ(p.text(),
            "# HELP pgwarden_decisions_total Statements decided.\\nBy outcome.\n"
            "# TYPE pgwarden_decisions_total counter\n"
            "pgwarden_decisions_total{outcome=\"allow\",identity=\"coding-agent\"} 12\n"
            "pgwarden_decisions_total{outcome=\"deny\",identity=\"say \\\"hi\\\"\\\\\"} 3\n"
            "# HELP pgwarden_sessions Live sessions.\n"
            "# TYPE pgwarden_sessions gauge\n"
            "pgwarden_sessions 2\n");
}

TEST(PrometheusText, WritesCumulativeHistograms) {
  PrometheusText p;
  p.family("pgwarden_decision_seconds", MetricType::histogram, "Decision latency.");
  p.histogram({{"kind", "simple"}}, HistogramSnapshot{{0.001, 0.01}, {3, 5}, 6, 0.25});
  EXPECT_EQ(p.text(),
            "# HELP pgwarden_decision_seconds Decision latency.\n"
            "# TYPE pgwarden_decision_seconds histogram\n"
            "pgwarden_decision_seconds_bucket{kind=\"simple\",le=\"0.001\"} 3\n"
            "pgwarden_decision_seconds_bucket{kind=\"simple\",le=\"0.01\"} 5\n"
            "pgwarden_decision_seconds_bucket{kind=\"simple\",le=\"+Inf\"} 6\n"
            "pgwarden_decision_seconds_sum{kind=\"simple\"} 0.25\n"
            "pgwarden_decision_seconds_count{kind=\"simple\"} 6\n");
}

TEST(PrometheusText, RefusesWhatAScraperWouldReject) {
  PrometheusText p;
  EXPECT_THROW(p.sample(1), std::logic_error);                                           // no family
  EXPECT_THROW(p.family("pgwarden_decisions", MetricType::counter, ""), std::logic_error);  // no _total
  EXPECT_THROW(p.family("9lives", MetricType::gauge, ""), std::logic_error);
  EXPECT_THROW(p.family("has-dash", MetricType::gauge, ""), std::logic_error);
  p.family("pgwarden_up", MetricType::gauge, "");
  EXPECT_THROW(p.family("pgwarden_up", MetricType::gauge, ""), std::logic_error);  // twice
  EXPECT_THROW(p.sample({{"__name__", "x"}}, 1), std::logic_error);
  EXPECT_THROW(p.sample({{"bad-label", "x"}}, 1), std::logic_error);
  EXPECT_THROW(p.sample({{"a", "x"}, {"a", "y"}}, 1), std::logic_error);
  EXPECT_THROW(p.histogram({}, HistogramSnapshot{}), std::logic_error);  // not a histogram family
  p.family("pgwarden_h", MetricType::histogram, "");
  EXPECT_THROW(p.sample(1), std::logic_error);
  EXPECT_THROW(p.histogram({{"le", "1"}}, HistogramSnapshot{}), std::logic_error);
  EXPECT_THROW(p.histogram({}, HistogramSnapshot{{1.0}, {}, 0, 0}), std::logic_error);
}

TEST(PrometheusHistogram, BucketsAreLessOrEqualAndCumulative) {
  LatencyHistogram h({microseconds(10), microseconds(100)});
  h.record(microseconds(10));   // exactly on a bound: that bucket
  h.record(nanoseconds(10001)); // just over: the next
  h.record(microseconds(100));
  h.record(milliseconds(5));    // over every bound: only +Inf
  h.record(nanoseconds(-5));    // a clock step: counted as 0
  auto s = h.snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1e-05, 1e-04}));
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, (10000 + 10001 + 100000 + 5000000) / 1e9);
}

TEST(PrometheusHistogram, RefusesBoundsThatAreNotAscending) {
  EXPECT_THROW(LatencyHistogram(std::vector<nanoseconds>{}), std::invalid_argument);
  EXPECT_THROW(LatencyHistogram({microseconds(2), microseconds(1)}), std::invalid_argument);
  EXPECT_THROW(LatencyHistogram({microseconds(1), microseconds(1)}), std::invalid_argument);
}

TEST(PrometheusHistogram, ManyThreadsLoseNoObservation) {
  LatencyHistogram h;
  constexpr int kThreads = 4, kEach = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kEach; ++i) h.record(nanoseconds((i * 7919 + t) % 200000000));
    });
  }
  for (auto& t : threads) t.join();
  auto s = h.snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kEach);
  EXPECT_TRUE(std::is_sorted(s.cumulative_counts.begin(), s.cumulative_counts.end()));
  EXPECT_LE(s.cumulative_counts.back(), s.count);
}

// A page with every kind of line the writer makes, for promtool.
std::string sample_page() {
  PrometheusText p;
  p.family("pgwarden_decisions_total", MetricType::counter, "Statements decided, by outcome.\nSecond line \\ here.");
  p.sample({{"outcome", "allow"}, {"identity", "agent \"one\"\\\nx"}}, 12);
  p.sample({{"outcome", "deny"}, {"identity", ""}}, 0);
  p.gauge("pgwarden_sessions", "Live sessions.", 2);
  p.gauge("pgwarden_webhook_last_success_timestamp_seconds", "Unix time of the last delivery.", 1.7e9 + 0.5);
  p.family("pgwarden_decision_seconds", MetricType::histogram, "Time to decide one statement.");
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(microseconds(i * 37));
  p.histogram({}, h.snapshot());
  p.family("pgwarden_upstream_seconds", MetricType::histogram, "Per upstream.");
  p.histogram({{"upstream", "orders"}}, h.snapshot());
  p.histogram({{"upstream", "billing"}}, LatencyHistogram().snapshot());
  return p.take();
}

std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

TEST(PrometheusText, PromtoolAcceptsThePage) {
  auto promtool = find_on_path("promtool");
  if (!promtool) {
    if (std::getenv("CI") != nullptr) FAIL() << "promtool not found on PATH (Debian: prometheus); required in CI";
    GTEST_SKIP() << "promtool not found on PATH (Debian package prometheus): the page is not checked by it";
  }
  test::TempDir dir;
  std::string file = dir / "metrics.txt";
  std::ofstream(file) << sample_page();
  // `check metrics` reads stdin; it exits non-zero on a parse error and on
  // lint findings (e.g. a counter without _total), printing them.
  std::string command = *promtool + " check metrics < '" + file + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output << "\npage:\n" << sample_page();
  EXPECT_EQ(output, "") << "page:\n" << sample_page();
}

}  // namespace
}  // namespace pgw::admin
