// The loader's state while it walks one config file: every problem with its
// file:line:column and key path, where each key was written (for checks that
// span several keys), and the value readers the keys share. A reader that
// finds a bad value reports it and returns nullopt; the walk carries on, so
// an operator fixes a file in one pass. Internal to the config loader.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/quote.h"
#include "common/result.h"
#include "policy/net_address.h"
#include "policy/secret.h"

namespace pgw::policy {

// Key paths as messages show them: "upstreams[0].tls".
std::string child_path(const std::string& path, std::string_view key);
std::string item_path(const std::string& path, size_t index);

// "a mapping", "a list", "nothing" or the quoted scalar.
std::string describe_kind(const YAML::Node& n);

// One accepted word of a choice and what it means.
template <typename T>
struct Choice {
  std::string_view word;
  T value;
};

class ConfigReader {
 public:
  ConfigReader(std::string file_name, std::string base_dir);

  const std::string& file_name() const { return file_name_; }

  // ---- problems ---------------------------------------------------------
  void error(const YAML::Node& at, const std::string& path, const std::string& message);
  void error_at(const YAML::Mark& at, const std::string& path, const std::string& message);
  // Valid but probably not what the operator meant: "file:line: path: message".
  void warn(const YAML::Node& at, const std::string& path, const std::string& message);
  bool failed() const { return !errors_.empty(); }
  // Errors in file order, one per line.
  std::string report();
  // Warnings in file order.
  std::vector<std::string> take_warnings();
  // Counts one more node against the budget; false (reported once) past it.
  bool spend();

  // ---- where keys were written -----------------------------------------
  void remember(const std::string& path, const YAML::Node& node);
  // The node written at `path` ("policies[1].identity", "upstreams[0]"), or
  // nullptr when the file has none there.
  const YAML::Node* written(const std::string& path) const;

  // ---- values -----------------------------------------------------------
  std::optional<std::string> text(const YAML::Node& n, const std::string& path);
  std::optional<std::string> nonempty_text(const YAML::Node& n, const std::string& path);
  std::optional<bool> boolean(const YAML::Node& n, const std::string& path);
  std::optional<uint64_t> integer(const YAML::Node& n, const std::string& path, uint64_t min, uint64_t max);
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& n, const std::string& path);
  std::optional<uint64_t> size(const YAML::Node& n, const std::string& path);
  std::optional<NetAddress> address(const YAML::Node& n, const std::string& path);
  std::optional<NetPrefix> prefix(const YAML::Node& n, const std::string& path, NetPrefix::PortRule rule);
  // Upstream and identity names: they appear in messages, logs and `status`.
  std::optional<std::string> name(const YAML::Node& n, const std::string& path);
  // A path, resolved against the config file's directory.
  std::optional<std::string> file_path(const YAML::Node& n, const std::string& path);
  std::optional<std::string> socket_path(const YAML::Node& n, const std::string& path);
  // The contents of a file holding a secret (a password, a key). Messages
  // name the file, never what it holds; a file others may read is a warning.
  std::optional<Secret> secret_file(const YAML::Node& n, const std::string& path, const std::string& file);

  template <typename T, size_t N>
  std::optional<T> choice(const YAML::Node& n, const std::string& path, const Choice<T> (&choices)[N]) {
    auto s = text(n, path);
    if (!s) return std::nullopt;
    std::string words;
    for (const Choice<T>& c : choices) {
      if (c.word == *s) return c.value;
      if (!words.empty()) words += '|';
      words += c.word;
    }
    error(n, path, "expected one of " + words + ", got " + quote_for_message(*s));
    return std::nullopt;
  }

  // The value of a parser from config_values.h, or its error reported here.
  template <typename T>
  std::optional<T> take(const YAML::Node& n, const std::string& path, Result<T> r) {
    if (!r) {
      error(n, path, r.error());
      return std::nullopt;
    }
    return std::move(r).value();
  }

  // Calls `each(node, path)` for every element; a single scalar counts as a
  // one-element list where `scalar_ok`, so `uid: 1000` reads like `uid: [1000]`.
  void for_each(const YAML::Node& n, const std::string& path, bool scalar_ok,
                const std::function<void(const YAML::Node&, const std::string&)>& each);

 private:
  struct Problem {
    int line, column;  // -1 when the problem has no place
    std::string text;
  };
  std::string resolve(const std::string& p) const;

  std::string file_name_;
  std::string base_dir_;
  std::vector<Problem> errors_;
  std::vector<Problem> warnings_;
  size_t budget_;
  bool budget_reported_ = false;
  std::unordered_map<std::string, YAML::Node> written_;
};

}  // namespace pgw::policy
