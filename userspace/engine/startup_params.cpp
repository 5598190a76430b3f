#include "engine/startup_params.h"

#include <algorithm>

#include "common/quote.h"

namespace pgw::engine {
namespace {

// The server's isspace() in the C locale.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// pg_split_opts.
std::vector<std::string> split_words(std::string_view options) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < options.size()) {
    while (i < options.size() && is_blank(options[i])) ++i;
    if (i == options.size()) break;
    std::string word;
    bool escaped = false;
    for (; i < options.size(); ++i) {
      const char c = options[i];
      if (is_blank(c) && !escaped) break;
      if (!escaped && c == '\\') {
        escaped = true;
      } else {
        escaped = false;
        word.push_back(c);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace

Result<StartupSettings> split_startup_options(std::string_view options) {
  const std::vector<std::string> words = split_words(options);
  StartupSettings out;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    std::string_view assignment;
    if (w == "-c") {
      if (i + 1 >= words.size()) return make_error("\"-c\" without a setting");
      assignment = words[++i];
    } else if (w.starts_with("-c")) {
      assignment = w.substr(2);
    } else if (w.starts_with("--")) {
      assignment = w.substr(2);
    } else {
      return make_error("unsupported option " + quote_for_message(w));
    }
    const size_t eq = assignment.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return make_error("option " + quote_for_message(assignment) + " is not name=value");
    }
    std::string name(assignment.substr(0, eq));
    std::replace(name.begin(), name.end(), '-', '_');
    out.emplace_back(std::move(name), std::string(assignment.substr(eq + 1)));
  }
  return out;
}

std::variant<ClientStartup, StartupRefusal> vet_startup(const pgwire::StartupMessage& msg) {
  ClientStartup out;
  out.protocol_version = msg.protocol_version;
  out.user = std::string(msg.user());
  out.database = std::string(msg.database());

  for (const auto& [name, value] : msg.parameters) {
    if (name == "user" || name == "database") continue;
    if (name == "replication") {
      return StartupRefusal{"0A000", "pgwarden: replication connections are not supported"};
    }
    if (name.starts_with("_pq_.")) {
      out.protocol_options.emplace_back(name, value);
      continue;
    }
    if (name == "options") {
      auto parsed = split_startup_options(value);
      if (!parsed) {
        return StartupRefusal{"42501", "pgwarden: startup options " + quote_for_message(value) +
                                           " refused: " + parsed.error()};
      }
      for (auto& setting : *parsed) out.settings.push_back(std::move(setting));
      continue;
    }
    out.settings.emplace_back(name, value);
  }
  return out;
}

}  // namespace pgw::engine
