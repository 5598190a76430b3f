// Turns the YAML document into a Config, checking everything a running engine
// would otherwise trip over later. The loader never stops at the first
// problem: it records each one with its file:line:column and key path and
// carries on, so an operator fixes a file in one pass.
#include <sys/stat.h>
#include <sys/un.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <span>

#include "policy/config.h"
#include "policy/config_values.h"
#include "policy/glob.h"
#include "common/quote.h"

namespace pgw::policy {
namespace {

constexpr size_t kMaxErrors = 50;
// yaml-cpp resolves aliases by sharing nodes, so a small file can describe a
// huge tree; the walk stops after this many nodes.
constexpr size_t kNodeBudget = 200'000;
// yaml-cpp's parser recurses per nesting level; refuse pathological nesting
// before handing it the text.
constexpr size_t kMaxNesting = 64;
constexpr size_t kMaxConfigBytes = 4u << 20;
constexpr size_t kMaxPasswordBytes = 4096;

using Keys = std::span<const std::string_view>;

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string item(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string describe_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return quote_for_message(n.Scalar());
    default: return "nothing";
  }
}

std::string join(Keys words, std::string_view sep) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += sep;
    out += w;
  }
  return out;
}

// The known keys of one mapping, in file order.
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

struct Fields {
  std::vector<Field> entries;
  const Field* get(std::string_view key) const {
    for (const auto& f : entries) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }
};

// A rough pre-scan for nesting depth: flow brackets and block indentation
// both count. It may overestimate (brackets inside quoted strings), which only
// matters for files no operator writes.
bool nesting_too_deep(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  if (max_depth > kMaxNesting) return true;
  // Block nesting: "- - - - x" nests a list per dash, and indentation nests
  // mappings; both are bounded by the number of leading structure characters.
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string_view::npos) end = text.size();
    size_t structure = 0;
    for (size_t i = line_start; i < end; ++i) {
      char c = text[i];
      if (c == ' ' || c == '\t' || c == '-' || c == '?' || c == ':') ++structure;
      else break;
    }
    if (structure > 4 * kMaxNesting) return true;
    line_start = end + 1;
  }
  return false;
}

class Loader {
 public:
  Loader(std::string name, std::string base_dir)
      : name_(std::move(name)), base_dir_(std::move(base_dir)) {}

  struct Problem {
    int line, column;  // -1 when the error has no location
    std::string text;
  };
  std::vector<Problem> errors;

  // All errors, in file order (the walk visits sections out of order).
  std::string report() {
    std::stable_sort(errors.begin(), errors.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::string all;
    for (const auto& e : errors) {
      if (!all.empty()) all += '\n';
      all += e.text;
    }
    return all;
  }

  Config load(const YAML::Node& root);

  void error_at(const YAML::Mark& mark, const std::string& path, const std::string& message) {
    if (errors.size() > kMaxErrors) return;
    if (errors.size() == kMaxErrors) {
      errors.push_back({INT32_MAX, 0, name_ + ": too many errors, stopping here"});
      return;
    }
    std::string where = name_;
    if (!mark.is_null()) {
      where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    errors.push_back({mark.line, mark.column,
                      where + ": " + (path.empty() ? "" : path + ": ") + message});
  }

  void error(const YAML::Node& at, const std::string& path, const std::string& message) {
    error_at(at.Mark(), path, message);
  }

 private:
  // ---- generic readers --------------------------------------------------
  bool spend() {
    if (budget_ > 0) {
      --budget_;
      return true;
    }
    if (!budget_reported_) {
      budget_reported_ = true;
      error_at(YAML::Mark::null_mark(), "",
               "the document expands to more than " + std::to_string(kNodeBudget) +
                   " nodes (aliases?); refusing it");
    }
    return false;
  }

  std::optional<Fields> read_map(const YAML::Node& n, const std::string& path, Keys known) {
    if (!n.IsMap()) {
      error(n, path, "expected a mapping (key: value), got " + describe_kind(n));
      return std::nullopt;
    }
    Fields fields;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!spend()) break;
      const YAML::Node k = it->first;
      if (!k.IsScalar()) {
        error(k, path, "expected a key name, got " + describe_kind(k));
        continue;
      }
      const std::string& key = k.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string msg = "unknown key " + quote_for_message(key);
        if (key == "password") {
          msg += "; the password is never written in the config: put it in a file and name "
                 "that file with password_file";
        } else if (auto near = closest_match(key, known); !near.empty()) {
          msg += "; did you mean \"" + std::string(near) + "\"?";
        } else {
          msg += " (known: " + join(known, ", ") + ")";
        }
        error(k, child(path, key), msg);
        continue;
      }
      if (const Field* first = fields.get(key)) {
        error(k, child(path, key),
              "duplicate key (first at line " + std::to_string(first->key_node.Mark().line + 1) +
                  ")");
        continue;
      }
      fields.entries.push_back(Field{key, k, it->second});
    }
    return fields;
  }

  const Field* require(const Fields& f, std::string_view key, const YAML::Node& parent,
                       const std::string& path) {
    const Field* field = f.get(key);
    if (!field) error(parent, child(path, key), "required key is missing");
    return field;
  }

  // Calls `each(node, path)` for every element; a single scalar counts as a
  // one-element list where `scalar_ok`, so `uid: 1000` reads like `uid: [1000]`.
  void for_each(const YAML::Node& n, const std::string& path, bool scalar_ok,
                const std::function<void(const YAML::Node&, const std::string&)>& each) {
    if (n.IsSequence()) {
      size_t i = 0;
      for (auto it = n.begin(); it != n.end(); ++it, ++i) {
        if (!spend()) return;
        each(*it, item(path, i));
      }
      return;
    }
    if (scalar_ok && n.IsScalar()) {
      each(n, path);
      return;
    }
    error(n, path, "expected a list, got " + describe_kind(n));
  }

  std::optional<std::string> read_string(const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
      error(n, path, "expected a text value, got " + describe_kind(n));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    if (s.find('\0') != std::string::npos) {
      error(n, path, "contains a NUL byte");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> read_nonempty(const YAML::Node& n, const std::string& path) {
    auto s = read_string(n, path);
    if (s && s->empty()) {
      error(n, path, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  template <typename T, size_t N>
  std::optional<T> read_choice(const YAML::Node& n, const std::string& path,
                               const std::array<std::pair<std::string_view, T>, N>& choices) {
    auto s = read_string(n, path);
    if (!s) return std::nullopt;
    std::array<std::string_view, N> names;
    for (size_t i = 0; i < N; ++i) {
      if (choices[i].first == *s) return choices[i].second;
      names[i] = choices[i].first;
    }
    error(n, path, "expected one of " + join(names, "|") + ", got " + quote_for_message(*s));
    return std::nullopt;
  }

  std::optional<bool> read_bool(const YAML::Node& n, const std::string& path) {
    static constexpr std::array<std::pair<std::string_view, bool>, 6> kBools = {{
        {"true", true}, {"false", false}, {"True", true},
        {"False", false}, {"TRUE", true}, {"FALSE", false},
    }};
    auto s = read_string(n, path);
    if (!s) return std::nullopt;
    for (const auto& [text, value] : kBools) {
      if (*s == text) return value;
    }
    error(n, path, "expected true or false, got " + quote_for_message(*s));
    return std::nullopt;
  }

  std::optional<uint64_t> read_uint(const YAML::Node& n, const std::string& path, uint64_t min,
                                    uint64_t max) {
    auto s = read_string(n, path);
    if (!s) return std::nullopt;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || end != s->data() + s->size() || v < min || v > max) {
      error(n, path,
            "expected an integer " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                quote_for_message(*s));
      return std::nullopt;
    }
    return v;
  }

  template <typename T>
  std::optional<T> take(const YAML::Node& n, const std::string& path, Result<T> r) {
    if (!r) {
      error(n, path, r.error());
      return std::nullopt;
    }
    return std::move(r).value();
  }

  std::optional<std::chrono::milliseconds> read_duration(const YAML::Node& n,
                                                         const std::string& path) {
    auto s = read_string(n, path);
    if (!s) return std::nullopt;
    return take(n, path, parse_duration(*s));
  }

  std::optional<NetAddress> read_address(const YAML::Node& n, const std::string& path) {
    auto s = read_string(n, path);
    if (!s) return std::nullopt;
    return take(n, path, NetAddress::parse(*s));
  }

  std::optional<NetPrefix> read_prefix(const YAML::Node& n, const std::string& path,
                                       NetPrefix::PortRule rule) {
    auto s = read_string(n, path);
    if (!s) return std::nullopt;
    return take(n, path, NetPrefix::parse(*s, rule));
  }

  // Upstream, identity names: they appear in messages, logs and `status`.
  std::optional<std::string> read_name(const YAML::Node& n, const std::string& path) {
    auto s = read_nonempty(n, path);
    if (!s) return std::nullopt;
    bool ok = s->size() <= 63 && std::all_of(s->begin(), s->end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (!ok) {
      error(n, path,
            "expected a name of up to 63 letters, digits, '_', '-' or '.', got " +
                quote_for_message(*s));
      return std::nullopt;
    }
    return s;
  }

  std::string resolve(const std::string& p) const {
    if (p.empty() || p.front() == '/' || base_dir_.empty()) return p;
    return base_dir_ + "/" + p;
  }

  std::optional<std::string> read_path(const YAML::Node& n, const std::string& path) {
    auto s = read_nonempty(n, path);
    if (!s) return std::nullopt;
    return resolve(*s);
  }

  std::optional<std::string> read_socket_path(const YAML::Node& n, const std::string& path) {
    auto p = read_path(n, path);
    if (p && p->size() >= sizeof(sockaddr_un::sun_path)) {
      error(n, path,
            "a unix socket path must be shorter than " +
                std::to_string(sizeof(sockaddr_un::sun_path)) + " bytes, got " +
                std::to_string(p->size()) + " bytes (" + quote_for_message(*p) + ")");
      return std::nullopt;
    }
    return p;
  }

  // '/'-separated cgroup glob, as /proc/PID/cgroup shows the path.
  void check_cgroup_glob(const YAML::Node& n, const std::string& path, const std::string& g) {
    if (g.empty() || g.front() != '/') {
      error(n, path,
            "expected a cgroup path starting with '/' (relative to the cgroup v2 root), got " +
                quote_for_message(g));
    } else if (g.size() > 1 && (g.find("//") != std::string::npos || g.back() == '/')) {
      error(n, path, "a cgroup path has no empty segments, got " + quote_for_message(g));
    }
  }

  // '.'-separated globs: schema.table (2 parts) or schema.table.column (3);
  // a '**' part stands for any number of parts. Split where the matchers
  // split them (glob.h).
  void check_dotted_glob(const YAML::Node& n, const std::string& path, const std::string& g,
                         size_t parts_wanted, std::string_view shape) {
    const std::vector<std::string_view> parts = split_dotted_glob(g);
    const bool empty_part =
        std::any_of(parts.begin(), parts.end(), [](std::string_view s) { return s.empty(); });
    if (empty_part || (!dotted_glob_spans(parts) && parts.size() != parts_wanted)) {
      error(n, path,
            "expected a \"" + std::string(shape) + "\" glob (* within a name, ** across), got " +
                quote_for_message(g));
    }
  }

  // ---- sections ---------------------------------------------------------
  void load_intercept(const YAML::Node& n, const std::string& path, InterceptConfig& out);
  void load_upstream(const YAML::Node& n, const std::string& path, Upstream& out,
                     Config& config);
  void load_identity(const YAML::Node& n, const std::string& path, IdentityRule& out);
  void load_policy(const YAML::Node& n, const std::string& path, Policy& out);
  void load_rule_list(const YAML::Node& n, const std::string& path, RuleList& out);
  void load_mask_rule(const YAML::Node& n, const std::string& path, MaskRule& out);
  std::optional<Secret> read_password_file(const YAML::Node& n, const std::string& path,
                                           const std::string& file, Config& config);
  void cross_check(const YAML::Node& root, Config& config);

  std::string name_;
  std::string base_dir_;
  size_t budget_ = kNodeBudget;
  bool budget_reported_ = false;

  // Where each named thing was written, for cross-reference messages.
  std::vector<YAML::Node> upstream_nodes_, identity_nodes_;
  std::vector<YAML::Node> policy_nodes_, policy_identity_nodes_, policy_upstream_nodes_;
  std::vector<std::string> policy_paths_;
  YAML::Node explicit_upstream_node_;
  bool explicit_upstream_given_ = false;
  YAML::Node listen_node_;
  bool hash_key_given_ = false;
};

constexpr std::array<std::string_view, 15> kTopKeys = {
    "listen",     "unix_socket",    "admin_socket",     "intercept", "recording",
    "upstreams",  "identities",     "policies",         "default",   "workers",
    "max_message_size", "shutdown_grace", "log_level", "explicit_upstream", "mask_hash_key_file",
};

Config Loader::load(const YAML::Node& root) {
  Config config;
  config.source = name_;
  if (root.IsNull()) {
    error(root, "", "the config is empty");
    return config;
  }
  auto fields = read_map(root, "", kTopKeys);
  if (!fields) return config;

  if (auto f = fields->get("listen")) {
    listen_node_ = f->value;
    if (auto a = read_address(f->value, "listen")) config.listen = *a;
  }
  if (auto f = fields->get("unix_socket")) {
    // An empty value (or nothing at all) turns explicit unix-socket mode off.
    if (f->value.IsNull() || (f->value.IsScalar() && f->value.Scalar().empty())) {
      config.unix_socket.clear();
    } else if (auto p = read_socket_path(f->value, "unix_socket")) {
      config.unix_socket = *p;
    }
  }
  if (auto f = fields->get("admin_socket")) {
    if (auto p = read_socket_path(f->value, "admin_socket")) config.admin_socket = *p;
  }
  if (auto f = fields->get("workers")) {
    if (auto v = read_uint(f->value, "workers", 0, 1024)) config.workers = static_cast<unsigned>(*v);
  }
  if (auto f = fields->get("max_message_size")) {
    if (auto s = read_string(f->value, "max_message_size")) {
      if (auto v = take(f->value, "max_message_size", parse_size(*s))) {
        // Below 8 KiB ordinary queries fail; PostgreSQL itself caps messages at 1 GiB.
        if (*v < (8u << 10) || *v > (1u << 30)) {
          error(f->value, "max_message_size",
                "expected a size between 8KiB and 1GiB, got " + quote_for_message(*s));
        } else {
          config.max_message_size = *v;
        }
      }
    }
  }
  if (auto f = fields->get("shutdown_grace")) {
    if (auto d = read_duration(f->value, "shutdown_grace")) config.shutdown_grace = *d;
  }
  if (auto f = fields->get("log_level")) {
    static constexpr std::array<std::pair<std::string_view, LogLevel>, 6> kLevels = {{
        {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
        {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off},
    }};
    if (auto v = read_choice(f->value, "log_level", kLevels)) config.log_level = *v;
  }
  if (auto f = fields->get("explicit_upstream")) {
    explicit_upstream_node_ = f->value;
    explicit_upstream_given_ = true;
    if (auto v = read_name(f->value, "explicit_upstream")) config.explicit_upstream = *v;
  }
  if (auto f = fields->get("intercept")) load_intercept(f->value, "intercept", config.intercept);
  if (auto f = fields->get("recording")) {
    static constexpr std::array<std::string_view, 1> kKeys = {"dir"};
    if (auto r = read_map(f->value, "recording", kKeys)) {
      if (auto d = r->get("dir")) {
        if (auto p = read_path(d->value, "recording.dir")) config.recording.dir = *p;
      }
    }
  }
  if (auto f = fields->get("default")) {
    static constexpr std::array<std::pair<std::string_view, DefaultAction>, 2> kDefaults = {{
        {"allow", DefaultAction::allow}, {"deny", DefaultAction::deny},
    }};
    if (auto v = read_choice(f->value, "default", kDefaults)) config.default_action = *v;
  }

  if (auto f = fields->get("mask_hash_key_file")) {
    // The key of the `hash` mask function: a secret like a password (whoever
    // has it can test guesses against hashed values), read the same way.
    if (auto file = read_path(f->value, "mask_hash_key_file")) {
      config.mask_hash_key_file = *file;
      config.mask_hash_key = read_password_file(f->value, "mask_hash_key_file", *file, config);
    }
    hash_key_given_ = true;
  }

  if (const Field* f = require(*fields, "upstreams", root, "")) {
    for_each(f->value, "upstreams", false, [&](const YAML::Node& n, const std::string& path) {
      Upstream u;
      load_upstream(n, path, u, config);
      upstream_nodes_.push_back(n);
      config.upstreams.push_back(std::move(u));
    });
    if (f->value.IsSequence() && f->value.size() == 0) {
      error(f->value, "upstreams", "needs at least one upstream");
    }
  }
  if (auto f = fields->get("identities")) {
    for_each(f->value, "identities", false, [&](const YAML::Node& n, const std::string& path) {
      IdentityRule rule;
      load_identity(n, path, rule);
      identity_nodes_.push_back(n);
      config.identities.push_back(std::move(rule));
    });
  }
  if (auto f = fields->get("policies")) {
    for_each(f->value, "policies", false, [&](const YAML::Node& n, const std::string& path) {
      Policy p;
      policy_nodes_.push_back(n);
      policy_paths_.push_back(path);
      policy_identity_nodes_.emplace_back();
      policy_upstream_nodes_.emplace_back();
      load_policy(n, path, p);
      config.policies.push_back(std::move(p));
    });
  }
  cross_check(root, config);
  return config;
}

void Loader::load_intercept(const YAML::Node& n, const std::string& path, InterceptConfig& out) {
  static constexpr std::array<std::string_view, 7> kKeys = {"enabled", "cgroup", "ports", "fail",
                                                            "bpffs",   "fast_path", "heartbeat_timeout"};
  auto fields = read_map(n, path, kKeys);
  if (!fields) return;
  // Writing an intercept section asks for interception; `enabled: false`
  // keeps the section but turns it off.
  out.enabled = true;
  if (auto f = fields->get("enabled")) {
    if (auto v = read_bool(f->value, child(path, "enabled"))) out.enabled = *v;
  }
  if (auto f = fields->get("fast_path")) {
    if (auto v = read_bool(f->value, child(path, "fast_path"))) out.fast_path = *v;
  }
  if (auto f = fields->get("heartbeat_timeout")) {
    const std::string p = child(path, "heartbeat_timeout");
    if (auto d = read_duration(f->value, p)) {
      if (d->count() < 100) error(f->value, p, "must be at least 100ms (the engine beats every 200ms)");
      else if (d->count() > 60'000) error(f->value, p, "must be at most 60s");
      else out.heartbeat_timeout = *d;
    }
  }
  if (auto f = fields->get("cgroup")) {
    const std::string p = child(path, "cgroup");
    if (auto s = read_nonempty(f->value, p)) {
      bool bad = s->front() != '/' || (s->size() > 1 && s->back() == '/') ||
                 s->find("//") != std::string::npos || s->find("/./") != std::string::npos ||
                 s->find("/../") != std::string::npos || s->ends_with("/..") ||
                 s->ends_with("/.") || s->find_first_of("*?") != std::string::npos;
      if (bad) {
        error(f->value, p,
              "expected a cgroup v2 path such as / or /pgwarden/agents (relative to the cgroup2 "
              "mount, no globs, no . or ..), got " + quote_for_message(*s));
      } else {
        out.cgroup = *s;
      }
    }
  }
  if (auto f = fields->get("ports")) {
    const std::string p = child(path, "ports");
    std::vector<uint16_t> ports;
    for_each(f->value, p, true, [&](const YAML::Node& e, const std::string& ep) {
      if (auto v = read_uint(e, ep, 1, 65535)) {
        auto port = static_cast<uint16_t>(*v);
        if (std::find(ports.begin(), ports.end(), port) != ports.end()) {
          error(e, ep, "port " + std::to_string(port) + " is listed twice");
        } else {
          ports.push_back(port);
        }
      }
    });
    // The eBPF side keeps the port set in a small fixed-size map.
    if (f->value.IsSequence() && f->value.size() == 0) {
      error(f->value, p, "needs at least one port");
    } else if (ports.size() > 64) {
      error(f->value, p, "at most 64 ports can be intercepted");
    } else {
      out.ports = ports;
    }
  }
  if (auto f = fields->get("fail")) {
    static constexpr std::array<std::pair<std::string_view, FailMode>, 2> kModes = {{
        {"closed", FailMode::closed}, {"open", FailMode::open},
    }};
    if (auto v = read_choice(f->value, child(path, "fail"), kModes)) out.fail = *v;
  }
  if (auto f = fields->get("bpffs")) {
    const std::string p = child(path, "bpffs");
    if (auto s = read_nonempty(f->value, p)) {
      if (s->front() != '/') {
        error(f->value, p, "expected an absolute path on a bpffs mount, got " + quote_for_message(*s));
      } else {
        out.bpffs = *s;
      }
    }
  }
}

void Loader::load_upstream(const YAML::Node& n, const std::string& path, Upstream& out,
                           Config& config) {
  static constexpr std::array<std::string_view, 8> kKeys = {
      "name", "match", "address", "user", "password_file", "tls", "connect_timeout", "database"};
  auto fields = read_map(n, path, kKeys);
  if (!fields) return;
  if (auto f = require(*fields, "name", n, path)) {
    if (auto v = read_name(f->value, child(path, "name"))) out.name = *v;
  }
  if (auto f = fields->get("match")) {
    const std::string p = child(path, "match");
    for_each(f->value, p, true, [&](const YAML::Node& e, const std::string& ep) {
      auto prefix = read_prefix(e, ep, NetPrefix::PortRule::required);
      if (!prefix) return;
      if (std::find(out.match.begin(), out.match.end(), *prefix) != out.match.end()) {
        error(e, ep, prefix->to_string() + " is listed twice");
        return;
      }
      out.match.push_back(*prefix);
    });
  }
  if (auto f = require(*fields, "address", n, path)) {
    if (auto a = read_address(f->value, child(path, "address"))) out.address = *a;
  }
  if (auto f = require(*fields, "user", n, path)) {
    auto p = child(path, "user");
    if (auto v = read_nonempty(f->value, p)) {
      if (v->size() > 63) error(f->value, p, "a PostgreSQL role name has at most 63 bytes");
      else out.user = *v;
    }
  }
  if (auto f = fields->get("password_file")) {
    auto p = child(path, "password_file");
    if (auto file = read_path(f->value, p)) {
      out.password_file = *file;
      out.password = read_password_file(f->value, p, *file, config);
    }
  }
  if (auto f = fields->get("tls")) {
    static constexpr std::array<std::pair<std::string_view, TlsMode>, 4> kModes = {{
        {"disable", TlsMode::disable},
        {"prefer", TlsMode::prefer},
        {"require", TlsMode::require},
        {"verify-full", TlsMode::verify_full},
    }};
    if (auto v = read_choice(f->value, child(path, "tls"), kModes)) {
      out.tls = *v;
      // Upstream TLS is not built yet. A mode that demands it must not
      // quietly connect in the clear; `prefer` is honest only with a warning.
      if (*v == TlsMode::require || *v == TlsMode::verify_full) {
        error(f->value, child(path, "tls"),
              "\"" + std::string(to_string(*v)) +
                  "\" is not supported yet: pgwarden connects to upstreams without TLS (use disable, or prefer "
                  "to accept that)");
      } else if (*v == TlsMode::prefer) {
        config.warnings.push_back(name_ + ":" + std::to_string(f->value.Mark().line + 1) + ": " +
                                  child(path, "tls") +
                                  ": prefer connects without TLS: pgwarden does not speak TLS to upstreams yet");
      }
    }
  }
  if (auto f = fields->get("connect_timeout")) {
    auto p = child(path, "connect_timeout");
    if (auto d = read_duration(f->value, p)) {
      if (d->count() == 0) error(f->value, p, "must be longer than 0");
      else out.connect_timeout = *d;
    }
  }
  if (auto f = fields->get("database")) {
    auto p = child(path, "database");
    if (auto v = read_nonempty(f->value, p)) {
      if (v->size() > 63) error(f->value, p, "a PostgreSQL database name has at most 63 bytes");
      else out.database = *v;
    }
  }
}

std::optional<Secret> Loader::read_password_file(const YAML::Node& n, const std::string& path,
                                                 const std::string& file, Config& config) {
  // Messages below name the file, never its contents.
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error(n, path, "cannot read " + quote_for_message(file) + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string value(kMaxPasswordBytes + 1, '\0');
  in.read(value.data(), static_cast<std::streamsize>(value.size()));
  if (in.bad()) {
    error(n, path, "cannot read " + quote_for_message(file) + ": " + std::strerror(errno));
    return std::nullopt;
  }
  value.resize(static_cast<size_t>(in.gcount()));
  // However we leave, the bytes read do not stay behind in freed memory.
  struct Wipe {
    std::string& s;
    ~Wipe() {
      volatile char* p = s.data();
      for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
    }
  } wipe{value};
  if (value.size() > kMaxPasswordBytes) {
    error(n, path,
          quote_for_message(file) + " is larger than " + std::to_string(kMaxPasswordBytes) +
              " bytes; is it the right file?");
    return std::nullopt;
  }
  // One trailing newline is what `echo pw > file` leaves; strip just that.
  if (!value.empty() && value.back() == '\n') {
    value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
  }
  if (value.empty()) {
    error(n, path, quote_for_message(file) + " is empty");
    return std::nullopt;
  }
  if (value.find('\0') != std::string::npos) {
    error(n, path, quote_for_message(file) + " contains a NUL byte");
    return std::nullopt;
  }
  struct stat st{};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    config.warnings.push_back(name_ + ":" + std::to_string(n.Mark().line + 1) + ": " + path +
                              ": " + quote_for_message(file) +
                              " is readable or writable by every user; chmod 600 it");
  }
  Secret secret(std::move(value));
  return secret;
}

void Loader::load_identity(const YAML::Node& n, const std::string& path, IdentityRule& out) {
  static constexpr std::array<std::string_view, 2> kKeys = {"name", "match"};
  auto fields = read_map(n, path, kKeys);
  if (!fields) return;
  if (auto f = require(*fields, "name", n, path)) {
    if (auto v = read_name(f->value, child(path, "name"))) out.name = *v;
  }
  const Field* m = require(*fields, "match", n, path);
  if (!m) return;
  const std::string mp = child(path, "match");
  static constexpr std::array<std::string_view, 7> kMatchKeys = {"cgroup", "uid", "gid", "comm",
                                                                 "source", "pod_uid", "container_id"};
  auto match = read_map(m->value, mp, kMatchKeys);
  if (!match) return;
  if (auto f = match->get("cgroup")) {
    auto p = child(mp, "cgroup");
    if (auto s = read_nonempty(f->value, p)) {
      check_cgroup_glob(f->value, p, *s);
      out.cgroup = *s;
    }
  }
  auto read_ids = [&](std::string_view key, std::vector<uint32_t>& ids) {
    if (auto f = match->get(key)) {
      for_each(f->value, child(mp, key), true, [&](const YAML::Node& e, const std::string& ep) {
        // 4294967295 is (uid_t)-1, "no user", which no process runs as.
        if (auto v = read_uint(e, ep, 0, 4294967294u)) ids.push_back(static_cast<uint32_t>(*v));
      });
      if (f->value.IsSequence() && f->value.size() == 0) {
        error(f->value, child(mp, key), "an empty list matches nothing; remove the key instead");
      }
    }
  };
  read_ids("uid", out.uid);
  read_ids("gid", out.gid);
  // Kubernetes pod uids and container ids, as the kubelet names cgroups.
  auto read_k8s_ids = [&](std::string_view key, std::vector<std::string>& into, size_t length) {
    if (auto f = match->get(key)) {
      for_each(f->value, child(mp, key), true, [&](const YAML::Node& e, const std::string& ep) {
        if (auto v = read_nonempty(e, ep)) {
          if (v->size() != length) {
            error(e, ep, "expected a " + std::to_string(length) + "-character " +
                             (length == 36 ? "pod uid (8-4-4-4-12 hex)" : "container id (hex)") + ", got " +
                             quote_for_message(*v));
          } else {
            into.push_back(*v);
          }
        }
      });
      if (f->value.IsSequence() && f->value.size() == 0) {
        error(f->value, child(mp, key), "an empty list matches nothing; remove the key instead");
      }
    }
  };
  read_k8s_ids("pod_uid", out.pod_uid, 36);
  read_k8s_ids("container_id", out.container_id, 64);
  if (auto f = match->get("comm")) {
    auto p = child(mp, "comm");
    for_each(f->value, p, true, [&](const YAML::Node& e, const std::string& ep) {
      if (auto s = read_nonempty(e, ep)) {
        // TASK_COMM_LEN is 16 with the NUL: the kernel never reports more.
        if (s->size() > 15) {
          error(e, ep,
                "the kernel truncates a process name to 15 bytes, so " + quote_for_message(*s) +
                    " would never match; write " + quote_for_message(s->substr(0, 15)));
        } else {
          out.comm.push_back(*s);
        }
      }
    });
    if (f->value.IsSequence() && f->value.size() == 0) {
      error(f->value, p, "an empty list matches nothing; remove the key instead");
    }
  }
  if (auto f = match->get("source")) {
    auto p = child(mp, "source");
    for_each(f->value, p, true, [&](const YAML::Node& e, const std::string& ep) {
      if (auto prefix = read_prefix(e, ep, NetPrefix::PortRule::forbidden)) {
        out.source.push_back(*prefix);
      }
    });
    if (f->value.IsSequence() && f->value.size() == 0) {
      error(f->value, p, "an empty list matches nothing; remove the key instead");
    }
  }
}

void Loader::load_rule_list(const YAML::Node& n, const std::string& path, RuleList& out) {
  for_each(n, path, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = read_nonempty(e, ep);
    if (!s) return;
    if (s->starts_with("function:")) {
      auto name = take(e, ep, parse_function_name(std::string_view(*s).substr(9)));
      if (!name) return;
      if (std::find(out.functions.begin(), out.functions.end(), *name) != out.functions.end()) {
        error(e, ep, "function:" + *name + " is listed twice");
      } else {
        out.functions.push_back(*name);
      }
      return;
    }
    auto cls = statement_class_from_string(*s);
    if (!cls) {
      std::string msg = "expected a statement class (" + join(kStatementClassNames, " ") +
                        ") or function:NAME, got " + quote_for_message(*s);
      if (auto near = closest_match(*s, kStatementClassNames); !near.empty()) {
        msg += "; did you mean \"" + std::string(near) + "\"?";
      }
      error(e, ep, msg);
      return;
    }
    if (out.has(*cls)) {
      error(e, ep, std::string(to_string(*cls)) + " is listed twice");
      return;
    }
    out.classes.set(static_cast<size_t>(*cls));
  });
}

void Loader::load_mask_rule(const YAML::Node& n, const std::string& path, MaskRule& out) {
  static constexpr std::array<std::string_view, 3> kKeys = {"column", "detect", "with"};
  auto fields = read_map(n, path, kKeys);
  if (!fields) return;
  const Field* column = fields->get("column");
  const Field* detect = fields->get("detect");
  if (column && detect) {
    error(n, path, "a mask rule has either column or detect, not both");
  } else if (!column && !detect) {
    error(n, path, "a mask rule needs column: \"schema.table.column\" or detect: [...]");
  }
  if (column) {
    auto p = child(path, "column");
    if (auto s = read_nonempty(column->value, p)) {
      check_dotted_glob(column->value, p, *s, 3, "schema.table.column");
      out.column = *s;
    }
  }
  if (detect) {
    auto p = child(path, "detect");
    for_each(detect->value, p, true, [&](const YAML::Node& e, const std::string& ep) {
      auto s = read_string(e, ep);
      if (!s) return;
      auto d = take(e, ep, parse_detector(*s));
      if (!d) return;
      if (std::find(out.detect.begin(), out.detect.end(), *d) != out.detect.end()) {
        error(e, ep, std::string(to_string(*d)) + " is listed twice");
      } else {
        out.detect.push_back(*d);
      }
    });
    if (detect->value.IsSequence() && detect->value.size() == 0) {
      error(detect->value, p, "needs at least one detector");
    }
  }
  if (auto f = require(*fields, "with", n, path)) {
    auto p = child(path, "with");
    if (auto s = read_string(f->value, p)) {
      if (auto fn = take(f->value, p, parse_mask_function(*s))) out.with = *fn;
    }
  }
}

void Loader::load_policy(const YAML::Node& n, const std::string& path, Policy& out) {
  static constexpr std::array<std::string_view, 10> kKeys = {
      "identity", "upstream", "allow",       "deny",  "approve",
      "tables",   "mask",     "approval",    "unparseable", "strict"};
  auto fields = read_map(n, path, kKeys);
  if (!fields) return;
  if (auto f = require(*fields, "identity", n, path)) {
    policy_identity_nodes_.back() = f->value;
    if (auto v = read_name(f->value, child(path, "identity"))) out.identity = *v;
  }
  if (auto f = fields->get("upstream")) {
    policy_upstream_nodes_.back() = f->value;
    if (auto v = read_name(f->value, child(path, "upstream"))) out.upstream = *v;
  }

  struct ListField {
    std::string_view key;
    RuleList* list;
  };
  const std::array<ListField, 3> lists = {{
      {"allow", &out.allow}, {"deny", &out.deny}, {"approve", &out.approve}}};
  for (const auto& l : lists) {
    if (auto f = fields->get(l.key)) load_rule_list(f->value, child(path, l.key), *l.list);
  }
  // A class or function in two lists would make the decision depend on an
  // evaluation order nobody wrote down: refuse it.
  for (size_t a = 0; a < lists.size(); ++a) {
    for (size_t b = a + 1; b < lists.size(); ++b) {
      const Field* fb = fields->get(lists[b].key);
      if (!fb) continue;
      auto both = lists[a].list->classes & lists[b].list->classes;
      for (size_t i = 0; i < kStatementClassCount; ++i) {
        if (both.test(i)) {
          error(fb->value, child(path, lists[b].key),
                std::string(kStatementClassNames[i]) + " is in both " +
                    std::string(lists[a].key) + " and " + std::string(lists[b].key));
        }
      }
      for (const auto& fn : lists[b].list->functions) {
        const auto& other = lists[a].list->functions;
        if (std::find(other.begin(), other.end(), fn) != other.end()) {
          error(fb->value, child(path, lists[b].key),
                "function:" + fn + " is in both " + std::string(lists[a].key) + " and " +
                    std::string(lists[b].key));
        }
      }
    }
  }

  if (auto f = fields->get("tables")) {
    auto tp = child(path, "tables");
    static constexpr std::array<std::string_view, 3> kTableKeys = {"allow", "deny", "approve"};
    if (auto t = read_map(f->value, tp, kTableKeys)) {
      std::set<std::string> seen;
      for (const auto& entry : t->entries) {
        auto& target = entry.key == "allow"  ? out.tables.allow
                       : entry.key == "deny" ? out.tables.deny
                                             : out.tables.approve;
        for_each(entry.value, child(tp, entry.key), true,
                 [&](const YAML::Node& e, const std::string& ep) {
                   auto s = read_nonempty(e, ep);
                   if (!s) return;
                   check_dotted_glob(e, ep, *s, 2, "schema.table");
                   if (!seen.insert(*s).second) {
                     error(e, ep, quote_for_message(*s) + " appears more than once in tables");
                     return;
                   }
                   target.push_back(*s);
                 });
      }
    }
  }
  if (auto f = fields->get("mask")) {
    for_each(f->value, child(path, "mask"), false,
             [&](const YAML::Node& e, const std::string& ep) {
               MaskRule rule;
               load_mask_rule(e, ep, rule);
               if (rule.with.kind == MaskFunction::Kind::hash && !hash_key_given_) {
                 error(e, ep, "the hash function needs a key: set mask_hash_key_file (a file holding a secret)");
               }
               if (!rule.detect.empty()) {
                 // One function for every detector hit keeps the engine's
                 // per-value work to one pass.
                 for (const MaskRule& earlier : out.mask) {
                   if (!earlier.detect.empty() && !(earlier.with == rule.with)) {
                     error(e, ep, "detect rules of one policy must use the same function (" +
                                      earlier.with.to_string() + " above); merge them into one rule");
                     break;
                   }
                 }
               }
               out.mask.push_back(std::move(rule));
             });
  }
  if (auto f = fields->get("approval")) {
    auto ap = child(path, "approval");
    static constexpr std::array<std::string_view, 2> kApprovalKeys = {"timeout", "notify"};
    if (auto a = read_map(f->value, ap, kApprovalKeys)) {
      if (auto t = a->get("timeout")) {
        auto p = child(ap, "timeout");
        if (auto d = read_duration(t->value, p)) {
          if (d->count() == 0) error(t->value, p, "must be longer than 0");
          else out.approval.timeout = *d;
        }
      }
      if (auto nf = a->get("notify")) {
        auto p = child(ap, "notify");
        if (auto s = read_string(nf->value, p)) {
          if (auto st = check_http_url(*s); !st) error(nf->value, p, st.error());
          else out.approval.notify = *s;
        }
      }
    }
  }
  if (auto f = fields->get("unparseable")) {
    static constexpr std::array<std::pair<std::string_view, UnparseableAction>, 2> kActions = {{
        {"deny", UnparseableAction::deny}, {"forward", UnparseableAction::forward},
    }};
    if (auto v = read_choice(f->value, child(path, "unparseable"), kActions)) out.unparseable = *v;
  }
  if (auto f = fields->get("strict")) {
    if (auto v = read_bool(f->value, child(path, "strict"))) out.strict = *v;
  }
}

void Loader::cross_check(const YAML::Node& root, Config& config) {
  auto names_of = [](const auto& items) {
    std::string out;
    for (const auto& i : items) {
      if (i.name.empty()) continue;
      if (!out.empty()) out += ", ";
      out += i.name;
    }
    return out;
  };

  // Unique names.
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (!config.upstreams[i].name.empty() &&
          config.upstreams[i].name == config.upstreams[j].name) {
        error(upstream_nodes_[i], item("upstreams", i) + ".name",
              "duplicate upstream name " + quote_for_message(config.upstreams[i].name) +
                  " (first at line " + std::to_string(upstream_nodes_[j].Mark().line + 1) + ")");
        break;
      }
    }
  }
  for (size_t i = 0; i < config.identities.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (!config.identities[i].name.empty() &&
          config.identities[i].name == config.identities[j].name) {
        error(identity_nodes_[i], item("identities", i) + ".name",
              "duplicate identity name " + quote_for_message(config.identities[i].name) +
                  " (first at line " + std::to_string(identity_nodes_[j].Mark().line + 1) + ")");
        break;
      }
    }
  }

  // Upstreams: not pgwarden itself, and no destination claimed twice.
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    const Upstream& u = config.upstreams[i];
    if (u.address == config.listen && u.address.port != 0) {
      error(upstream_nodes_[i], item("upstreams", i) + ".address",
            u.address.to_string() + " is pgwarden's own listen address");
    }
    for (const NetPrefix& m : u.match) {
      for (size_t j = 0; j < i; ++j) {
        const auto& earlier = config.upstreams[j].match;
        if (std::find(earlier.begin(), earlier.end(), m) != earlier.end()) {
          error(upstream_nodes_[i], item("upstreams", i) + ".match",
                m.to_string() + " is already served by upstream " +
                    quote_for_message(config.upstreams[j].name));
        }
      }
      if (config.intercept.enabled && m.port &&
          std::find(config.intercept.ports.begin(), config.intercept.ports.end(),
                              *m.port) == config.intercept.ports.end()) {
        config.warnings.push_back(
            name_ + ":" + std::to_string(upstream_nodes_[i].Mark().line + 1) + ": " +
            item("upstreams", i) + ".match: port " + std::to_string(*m.port) +
            " is not in intercept.ports, so no connection to " + m.to_string() +
            " is redirected");
      }
    }
  }
  // The upstream for explicit clients.
  if (explicit_upstream_given_) {
    if (config.explicit_upstream && !config.find_upstream(*config.explicit_upstream)) {
      error(explicit_upstream_node_, "explicit_upstream",
            "no upstream is named " + quote_for_message(*config.explicit_upstream) +
                " (known: " + names_of(config.upstreams) + ")");
    }
  } else if (config.upstreams.size() == 1) {
    config.explicit_upstream = config.upstreams.front().name;
  } else if (config.upstreams.size() > 1) {
    error(root, "explicit_upstream",
          "required with several upstreams: clients that connect to listen or unix_socket "
          "directly need one to go to (one of " + names_of(config.upstreams) + ")");
  }

  // Policies refer to things that exist, and none is shadowed by an earlier one.
  for (size_t i = 0; i < config.policies.size(); ++i) {
    const Policy& p = config.policies[i];
    const std::string& path = policy_paths_[i];
    if (!p.identity.empty() && !config.find_identity(p.identity)) {
      error(policy_identity_nodes_[i], path + ".identity",
            "no identity is named " + quote_for_message(p.identity) + " (known: " +
                names_of(config.identities) + ")");
    }
    if (p.upstream && !config.find_upstream(*p.upstream)) {
      error(policy_upstream_nodes_[i], path + ".upstream",
            "no upstream is named " + quote_for_message(*p.upstream) + " (known: " +
                names_of(config.upstreams) + ")");
    }
    for (size_t j = 0; j < i; ++j) {
      const Policy& q = config.policies[j];
      if (p.identity.empty() || q.identity != p.identity) continue;
      if (!q.upstream || q.upstream == p.upstream) {
        error(policy_nodes_[i], path,
              "never used: " + policy_paths_[j] + " already covers identity " +
                  quote_for_message(p.identity) +
                  (q.upstream ? " on upstream " + quote_for_message(*q.upstream)
                              : std::string(" on every upstream")));
        break;
      }
    }
  }
  for (size_t i = 0; i < config.identities.size(); ++i) {
    const auto& id = config.identities[i];
    bool used = std::any_of(config.policies.begin(), config.policies.end(),
                            [&](const Policy& p) { return p.identity == id.name; });
    if (!id.name.empty() && !used) {
      config.warnings.push_back(name_ + ":" + std::to_string(identity_nodes_[i].Mark().line + 1) +
                                ": " + item("identities", i) + ": identity " +
                                quote_for_message(id.name) +
                                " has no policy, so its connections are refused");
    }
  }
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<Config> load_config_string(std::string_view text, const std::string& name_for_errors,
                                  const std::string& base_dir) {
  if (text.size() > kMaxConfigBytes) {
    return make_error(name_for_errors + ": larger than " + std::to_string(kMaxConfigBytes >> 20) +
                      " MiB; is it the right file?");
  }
  if (nesting_too_deep(text)) {
    return make_error(name_for_errors + ": nested deeper than " + std::to_string(kMaxNesting) +
                      " levels; refusing to parse it");
  }
  Loader loader(name_for_errors, base_dir);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    loader.error_at(e.mark, "", "YAML syntax: " + e.msg);
    return make_error(loader.report());
  }
  Config config;
  try {
    config = loader.load(root);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on a few malformed trees (e.g. a bad alias); report it
    // like any other error rather than letting it escape.
    loader.error_at(e.mark, "", "YAML: " + e.msg);
  }
  if (!loader.errors.empty()) return make_error(loader.report());
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open: " + std::strerror(errno));
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return make_error(path + ": cannot read: " + std::strerror(errno));
  text.resize(static_cast<size_t>(in.gcount()));
  return load_config_string(text, path, dir_of(path));
}

}  // namespace pgw::policy
