#include "policy/startup_settings.h"

#include "common/quote.h"
#include "policy/config.h"
#include "policy/decision.h"

namespace pgw::policy {
namespace {

// The server matches setting names case-insensitively.
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// What drivers send by themselves, which only shapes how results look.
bool presentation_setting(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "application_name", "client_encoding", "datestyle",   "timezone",  "intervalstyle", "extra_float_digits",
      "lc_messages",      "lc_monetary",     "lc_numeric",  "lc_time",   "bytea_output",
  };
  for (std::string_view n : kNames)
    if (n == name) return true;
  return false;
}

bool loads_code_at_connect(std::string_view name) {
  return name == "local_preload_libraries" || name == "session_preload_libraries" ||
         name == "shared_preload_libraries";
}

}  // namespace

sql::StatementFacts startup_setting_facts(std::string_view name, std::string_view value) {
  sql::StatementFacts facts;
  sql::Setting setting;
  setting.name = lower(name);
  setting.via_function = true;  // one string, split by the server as set_config() would
  setting.values.emplace_back(value);
  if (setting.name == "role" || setting.name == "session_authorization") {
    facts.classes.add(sql::StatementClass::role);
  } else if (loads_code_at_connect(setting.name)) {
    facts.classes.add(sql::StatementClass::admin);
  } else {
    facts.classes.add(sql::StatementClass::set);
  }
  facts.settings.push_back(std::move(setting));
  return facts;
}

std::optional<std::string> refuse_startup_setting(const Policy& policy, std::string_view name, std::string_view value) {
  if (presentation_setting(lower(name))) return std::nullopt;
  // A setting's verdict depends on no session state and no catalog.
  StandaloneProtocol protocol;
  SessionSqlState state(SessionSqlState::Start{}, protocol);
  const Decision d = decide_facts(policy, startup_setting_facts(name, value), state, nullptr);
  if (d.action == Action::allow) return std::nullopt;
  std::string out = "pgwarden: startup setting " + quote_for_message(std::string(name) + "=" + std::string(value)) +
                    " refused: ";
  if (d.action == Action::approve) {
    out += "the policy holds it for approval (rule " + d.rule + "), and a startup setting cannot wait for one";
  } else {
    out += "the policy for " + policy.identity + " does not allow it as a SET (rule " + d.rule + ")";
  }
  return out;
}

void apply_startup_settings(SessionSqlState::Start& start, const StartupSettings& settings) {
  for (const auto& [name, value] : settings) {
    const std::string key = lower(name);
    if (key == "search_path") start.search_path = value;
    else if (key == "client_encoding") start.client_encoding = value;
    else if (key == "role") start.role = value;
    else if (key == "session_authorization") start.session_authorization = value;
    else if (key == "standard_conforming_strings") {
      // A value the server would refuse ends the login there.
      if (auto b = parse_setting_bool(value)) start.standard_conforming_strings = *b;
    }
  }
}

}  // namespace pgw::policy
