#include "engine/startup_params.h"

#include <algorithm>
#include <array>

#include "common/quote.h"
#include "policy/session_sql_state.h"

namespace pgw::engine {
namespace {

// Settings that only shape how results are presented to this client.
constexpr std::array<std::string_view, 9> kAllowedSettings = {
    "application_name", "client_encoding", "datestyle",   "timezone",     "extra_float_digits",
    "intervalstyle",    "lc_messages",     "lc_monetary", "bytea_output",
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The server's isspace() in the C locale.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// client_encoding changes how the server splits bytes into characters; in
// multibyte encodings such as SJIS or GBK a trailing byte can be a quote or
// a backslash, which would let text hide SQL from pgwarden's parser. Only
// encodings in which ASCII bytes always mean ASCII pass. The name is read
// as the server reads it (the session state's normalisation).
bool encoding_is_safe(std::string_view value) {
  const std::string name = policy::normalize_encoding_name(value);
  return name == "UTF8" || name == "SQLASCII";
}

std::string allowed_list() {
  return "application_name, client_encoding (UTF8), DateStyle, TimeZone, IntervalStyle, extra_float_digits, "
         "lc_messages, lc_monetary, bytea_output";
}

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

std::optional<StartupRefusal> judge_startup_setting(std::string_view name, std::string_view value) {
  const std::string key = lower(name);
  if (std::find(kAllowedSettings.begin(), kAllowedSettings.end(), key) == kAllowedSettings.end()) {
    std::string message = "pgwarden: startup setting ";
    message += quote_for_message(std::string(name) + "=" + std::string(value));
    message += " is not allowed; allowed are ";
    message += allowed_list();
    return StartupRefusal{"42501", std::move(message)};
  }
  if (key == "client_encoding" && !encoding_is_safe(value)) {
    std::string message = "pgwarden: client_encoding ";
    message += quote_for_message(value);
    message += " is not allowed: only UTF8 and SQL_ASCII keep SQL text unambiguous";
    return StartupRefusal{"42501", std::move(message)};
  }
  return std::nullopt;
}

std::variant<ClientStartup, StartupRefusal> vet_startup(const pgwire::StartupMessage& msg) {
  ClientStartup out;
  out.protocol_version = msg.protocol_version;
  out.user = std::string(msg.user());
  out.database = std::string(msg.database());

  auto accept = [&](std::string_view name, std::string_view value) -> std::optional<StartupRefusal> {
    if (auto refusal = judge_startup_setting(name, value)) return refusal;
    out.settings.emplace_back(std::string(name), std::string(value));
    return std::nullopt;
  };

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
      for (const auto& [n, v] : *parsed) {
        if (auto refusal = accept(n, v)) return *refusal;
      }
      continue;
    }
    if (auto refusal = accept(name, value)) return *refusal;
  }
  return out;
}

}  // namespace pgw::engine
