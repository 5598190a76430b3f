#include "engine/startup_params.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace pgw::engine {
namespace {

// Settings that only shape how results are presented to this client.
constexpr std::array<std::string_view, 9> kAllowedSettings = {
    "application_name", "client_encoding", "datestyle",       "timezone",         "extra_float_digits",
    "intervalstyle",    "lc_messages",     "lc_monetary",     "bytea_output",
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// client_encoding changes how the server splits bytes into characters; in
// multibyte encodings such as SJIS or GBK a trailing byte can be a quote or
// a backslash, which would let text hide SQL from pgwarden's parser. Only
// encodings in which ASCII bytes always mean ASCII pass.
bool encoding_is_safe(std::string_view value) {
  std::string v = lower(value);
  v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == '-' || c == '_'; }), v.end());
  return v == "utf8" || v == "unicode" || v == "sqlascii";
}

bool is_allowed_setting(const std::string& name_lower) {
  return std::find(kAllowedSettings.begin(), kAllowedSettings.end(), name_lower) != kAllowedSettings.end();
}

StartupRefusal refuse_setting(std::string_view name, std::string_view value) {
  return StartupRefusal{"42501", "pgwarden: startup setting \"" + std::string(name) + "=" + std::string(value) +
                                     "\" is not allowed; allowed are application_name, client_encoding (UTF8), "
                                     "DateStyle, TimeZone, IntervalStyle, extra_float_digits, lc_messages, "
                                     "lc_monetary, bytea_output"};
}

// Splits libpq's `options` value into name=value pairs: "-c a=b", "-ca=b"
// and "--a=b", separated by unescaped spaces, with backslash escapes.
Result<std::vector<std::pair<std::string, std::string>>> split_options(std::string_view options) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < options.size(); ++i) {
    char c = options[i];
    if (c == '\\' && i + 1 < options.size()) {
      cur.push_back(options[++i]);
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));

  std::vector<std::pair<std::string, std::string>> out;
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
      return make_error("unsupported option \"" + std::string(w) + "\"");
    }
    size_t eq = assignment.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return make_error("option \"" + std::string(assignment) + "\" is not name=value");
    }
    std::string name(assignment.substr(0, eq));
    std::replace(name.begin(), name.end(), '-', '_');
    out.emplace_back(std::move(name), std::string(assignment.substr(eq + 1)));
  }
  return out;
}

}  // namespace

std::variant<ClientStartup, StartupRefusal> vet_startup(const pgwire::StartupMessage& msg) {
  ClientStartup out;
  out.protocol_version = msg.protocol_version;
  out.user = std::string(msg.user());
  out.database = std::string(msg.database());

  auto accept = [&](std::string_view name, std::string_view value) -> std::optional<StartupRefusal> {
    std::string key = lower(name);
    if (!is_allowed_setting(key)) return refuse_setting(name, value);
    if (key == "client_encoding" && !encoding_is_safe(value)) {
      return StartupRefusal{"42501", "pgwarden: client_encoding \"" + std::string(value) +
                                         "\" is not allowed: only UTF8 and SQL_ASCII keep SQL text unambiguous"};
    }
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
      auto parsed = split_options(value);
      if (!parsed) {
        return StartupRefusal{"42501", "pgwarden: startup options \"" + value + "\" refused: " + parsed.error()};
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
