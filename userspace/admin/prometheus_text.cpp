#include "admin/prometheus_text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace pgw::admin {

namespace {

bool valid_name(std::string_view name, bool colons) {
  auto first = [&](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colons && c == ':'); };
  auto rest = [&](char c) { return first(c) || std::isdigit(static_cast<unsigned char>(c)); };
  return !name.empty() && first(name.front()) && std::all_of(name.begin() + 1, name.end(), rest);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void check_labels(const MetricLabels& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& name = labels[i].first;
    // Names starting with __ are reserved for Prometheus itself; le is the
    // histogram's own.
    if (!valid_name(name, false) || name.starts_with("__") || name == "le") {
      throw std::logic_error("invalid Prometheus label name: " + name);
    }
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].first == name) throw std::logic_error("Prometheus label given twice: " + name);
    }
  }
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string prometheus_escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Shortest text that reads back as the same double: counts print as
  // integers ("42"), small bounds as "1e-06", both of which Go's ParseFloat
  // (Prometheus's parser) reads.
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

void PrometheusText::family(std::string_view name, MetricType type, std::string_view help) {
  if (!valid_name(name, true)) throw std::logic_error("invalid Prometheus metric name: " + std::string(name));
  if (type == MetricType::counter && !ends_with(name, "_total")) {
    throw std::logic_error("a Prometheus counter's name ends in _total: " + std::string(name));
  }
  // A scraper rejects the whole page when a family appears twice.
  if (!families_.emplace(name).second) throw std::logic_error("Prometheus family written twice: " + std::string(name));
  current_ = name;
  type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += prometheus_escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void PrometheusText::line(std::string_view name, const MetricLabels& labels, double value,
                          const std::pair<std::string, std::string>* extra) {
  out_ += name;
  if (!labels.empty() || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto label = [&](const std::string& k, const std::string& v) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += prometheus_escape_label_value(v);
      out_ += '"';
    };
    for (const auto& [k, v] : labels) label(k, v);
    if (extra != nullptr) label(extra->first, extra->second);
    out_ += '}';
  }
  out_ += ' ';
  out_ += prometheus_format_value(value);
  out_ += '\n';
}

void PrometheusText::sample(const MetricLabels& labels, double value) {
  if (current_.empty() || type_ == MetricType::histogram) {
    throw std::logic_error("a Prometheus sample needs a counter or gauge family first");
  }
  check_labels(labels);
  line(current_, labels, value);
}

void PrometheusText::histogram(const MetricLabels& labels, const HistogramSnapshot& snapshot) {
  if (current_.empty() || type_ != MetricType::histogram) {
    throw std::logic_error("Prometheus histogram samples need a histogram family first");
  }
  if (snapshot.upper_bounds.size() != snapshot.cumulative_counts.size()) {
    throw std::logic_error("histogram snapshot: one cumulative count per bound");
  }
  check_labels(labels);
  const std::string bucket = current_ + "_bucket";
  for (size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
    std::pair<std::string, std::string> le{"le", prometheus_format_value(snapshot.upper_bounds[i])};
    line(bucket, labels, static_cast<double>(snapshot.cumulative_counts[i]), &le);
  }
  std::pair<std::string, std::string> inf{"le", "+Inf"};
  line(bucket, labels, static_cast<double>(snapshot.count), &inf);
  line(current_ + "_sum", labels, snapshot.sum);
  line(current_ + "_count", labels, static_cast<double>(snapshot.count));
}

void PrometheusText::counter(std::string_view name, std::string_view help, double value, const MetricLabels& labels) {
  family(name, MetricType::counter, help);
  sample(labels, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value, const MetricLabels& labels) {
  family(name, MetricType::gauge, help);
  sample(labels, value);
}

}  // namespace pgw::admin
