#include "policy/config_reader.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "policy/config_values.h"

namespace pgw::policy {
namespace {

constexpr size_t kMaxErrors = 50;
// yaml-cpp resolves aliases by sharing nodes, so a small file can describe a
// huge tree; the walk stops after this many nodes.
constexpr size_t kNodeBudget = 200'000;
constexpr size_t kMaxSecretBytes = 4096;

}  // namespace

std::string child_path(const std::string& path, std::string_view key) {
  std::string out = path;
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string item_path(const std::string& path, size_t index) {
  std::string out = path;
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::string describe_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return quote_for_message(n.Scalar());
    default: return "nothing";
  }
}

ConfigReader::ConfigReader(std::string file_name, std::string base_dir)
    : file_name_(std::move(file_name)), base_dir_(std::move(base_dir)), budget_(kNodeBudget) {}

void ConfigReader::error_at(const YAML::Mark& mark, const std::string& path, const std::string& message) {
  if (errors_.size() > kMaxErrors) return;
  if (errors_.size() == kMaxErrors) {
    errors_.push_back({INT32_MAX, 0, file_name_ + ": too many errors, stopping here"});
    return;
  }
  std::string text = file_name_;
  if (!mark.is_null()) {
    text += ':';
    text += std::to_string(mark.line + 1);
    text += ':';
    text += std::to_string(mark.column + 1);
  }
  text += ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  errors_.push_back({mark.line, mark.column, std::move(text)});
}

void ConfigReader::error(const YAML::Node& at, const std::string& path, const std::string& message) {
  error_at(at.Mark(), path, message);
}

void ConfigReader::warn(const YAML::Node& at, const std::string& path, const std::string& message) {
  const YAML::Mark mark = at.Mark();
  std::string text = file_name_;
  if (!mark.is_null()) {
    text += ':';
    text += std::to_string(mark.line + 1);
  }
  text += ": ";
  text += path;
  text += ": ";
  text += message;
  warnings_.push_back({mark.line, mark.column, std::move(text)});
}

namespace {

// The problems in file order (the walk visits keys in table order).
std::vector<std::string> in_file_order(auto problems) {
  std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  std::vector<std::string> out;
  for (auto& p : problems) out.push_back(std::move(p.text));
  return out;
}

}  // namespace

std::string ConfigReader::report() {
  std::string all;
  for (const std::string& line : in_file_order(errors_)) {
    if (!all.empty()) all += '\n';
    all += line;
  }
  return all;
}

std::vector<std::string> ConfigReader::take_warnings() { return in_file_order(std::move(warnings_)); }

bool ConfigReader::spend() {
  if (budget_ > 0) {
    --budget_;
    return true;
  }
  if (!budget_reported_) {
    budget_reported_ = true;
    error_at(YAML::Mark::null_mark(), "",
             "the document expands to more than " + std::to_string(kNodeBudget) + " nodes (aliases?); refusing it");
  }
  return false;
}

void ConfigReader::remember(const std::string& path, const YAML::Node& node) {
  // Never assign over a stored YAML::Node: assignment rewrites the node it
  // refers to, which is part of the document.
  written_.erase(path);
  written_.emplace(path, node);
}

const YAML::Node* ConfigReader::written(const std::string& path) const {
  auto it = written_.find(path);
  return it == written_.end() ? nullptr : &it->second;
}

void ConfigReader::for_each(const YAML::Node& n, const std::string& path, bool scalar_ok,
                            const std::function<void(const YAML::Node&, const std::string&)>& each) {
  if (n.IsSequence()) {
    size_t i = 0;
    for (auto it = n.begin(); it != n.end(); ++it, ++i) {
      if (!spend()) return;
      const std::string element = item_path(path, i);
      remember(element, *it);
      each(*it, element);
    }
    return;
  }
  if (scalar_ok && n.IsScalar()) {
    each(n, path);
    return;
  }
  error(n, path, "expected a list, got " + describe_kind(n));
}

std::optional<std::string> ConfigReader::text(const YAML::Node& n, const std::string& path) {
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

std::optional<std::string> ConfigReader::nonempty_text(const YAML::Node& n, const std::string& path) {
  auto s = text(n, path);
  if (s && s->empty()) {
    error(n, path, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> ConfigReader::boolean(const YAML::Node& n, const std::string& path) {
  static constexpr Choice<bool> kBools[] = {
      {"true", true}, {"false", false}, {"True", true}, {"False", false}, {"TRUE", true}, {"FALSE", false},
  };
  auto s = text(n, path);
  if (!s) return std::nullopt;
  for (const auto& [word, value] : kBools) {
    if (*s == word) return value;
  }
  error(n, path, "expected true or false, got " + quote_for_message(*s));
  return std::nullopt;
}

std::optional<uint64_t> ConfigReader::integer(const YAML::Node& n, const std::string& path, uint64_t min,
                                              uint64_t max) {
  auto s = text(n, path);
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

std::optional<std::chrono::milliseconds> ConfigReader::duration(const YAML::Node& n, const std::string& path) {
  auto s = text(n, path);
  if (!s) return std::nullopt;
  return take(n, path, parse_duration(*s));
}

std::optional<uint64_t> ConfigReader::size(const YAML::Node& n, const std::string& path) {
  auto s = text(n, path);
  if (!s) return std::nullopt;
  return take(n, path, parse_size(*s));
}

std::optional<NetAddress> ConfigReader::address(const YAML::Node& n, const std::string& path) {
  auto s = text(n, path);
  if (!s) return std::nullopt;
  return take(n, path, NetAddress::parse(*s));
}

std::optional<NetPrefix> ConfigReader::prefix(const YAML::Node& n, const std::string& path,
                                              NetPrefix::PortRule rule) {
  auto s = text(n, path);
  if (!s) return std::nullopt;
  return take(n, path, NetPrefix::parse(*s, rule));
}

std::optional<std::string> ConfigReader::name(const YAML::Node& n, const std::string& path) {
  auto s = nonempty_text(n, path);
  if (!s) return std::nullopt;
  const bool ok = s->size() <= 63 && std::all_of(s->begin(), s->end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                  });
  if (!ok) {
    error(n, path, "expected a name of up to 63 letters, digits, '_', '-' or '.', got " + quote_for_message(*s));
    return std::nullopt;
  }
  return s;
}

std::string ConfigReader::resolve(const std::string& p) const {
  if (p.empty() || p.front() == '/' || base_dir_.empty()) return p;
  return base_dir_ + "/" + p;
}

std::optional<std::string> ConfigReader::file_path(const YAML::Node& n, const std::string& path) {
  auto s = nonempty_text(n, path);
  if (!s) return std::nullopt;
  return resolve(*s);
}

std::optional<std::string> ConfigReader::socket_path(const YAML::Node& n, const std::string& path) {
  auto p = file_path(n, path);
  if (p && p->size() >= sizeof(sockaddr_un::sun_path)) {
    error(n, path,
          "a unix socket path must be shorter than " + std::to_string(sizeof(sockaddr_un::sun_path)) +
              " bytes, got " + std::to_string(p->size()) + " bytes (" + quote_for_message(*p) + ")");
    return std::nullopt;
  }
  return p;
}

std::optional<Secret> ConfigReader::secret_file(const YAML::Node& n, const std::string& path,
                                                const std::string& file) {
  // Messages below name the file, never its contents.
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error(n, path, "cannot read " + quote_for_message(file) + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string value(kMaxSecretBytes + 1, '\0');
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
  if (value.size() > kMaxSecretBytes) {
    error(n, path,
          quote_for_message(file) + " is larger than " + std::to_string(kMaxSecretBytes) +
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
    warn(n, path, quote_for_message(file) + " is readable or writable by every user; chmod 600 it");
  }
  return Secret(std::move(value));
}

}  // namespace pgw::policy
