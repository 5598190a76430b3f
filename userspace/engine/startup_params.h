// Which startup settings a client may pass on to the database.
//
// A client's startup packet can change how the server parses SQL or who it
// runs as (client_encoding, search_path, role, session_authorization, and
// anything inside `options` as -c name=value). pgwarden reads the settings
// as the server would (split_startup_options), judges each one
// (judge_startup_setting) and refuses the connection for the first it does
// not pass on, naming the setting: a silent drop would leave the client
// believing a setting is in force when it is not. The identity's policy is
// not consulted: a startup setting is judged by the fixed allow-list below,
// whatever the policy's `set` rules say.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"
#include "pgwire/startup.h"

namespace pgw::engine {

using StartupSettings = std::vector<std::pair<std::string, std::string>>;

struct ClientStartup {
  std::string user;      // what the client claimed; logged, never trusted
  std::string database;  // passed upstream unless the upstream fixes one
  // Allowed settings, in the client's order, ready to forward (those from
  // `options` as separate parameters).
  StartupSettings settings;
  int32_t protocol_version = pgwire::kProtocol30;
  // Protocol options (`_pq_.*`) are forwarded untouched: the server answers
  // them with NegotiateProtocolVersion, which pgwarden passes back.
  StartupSettings protocol_options;
};

// Refusals carry the SQLSTATE the client should see.
struct StartupRefusal {
  std::string sqlstate;
  std::string message;
};

std::variant<ClientStartup, StartupRefusal> vet_startup(const pgwire::StartupMessage& msg);

// The settings inside a startup `options` value, read as the server reads
// them: split into words like pg_split_opts (blanks separate, a backslash
// makes the next character literal, a trailing backslash is dropped), then
// each word is a server switch of which only "-c name=value" (also
// "-cname=value") and "--name=value" set something; '-' in a name reads as
// '_'. Any other switch, or a setting without "=value", is an error:
// pgwarden passes on nothing it cannot name.
Result<StartupSettings> split_startup_options(std::string_view options);

// One setting, from a startup parameter or from `options`: nullopt passes
// it on. The allow-list holds settings that only shape how results are
// presented to this client (application_name, client_encoding UTF8 or
// SQL_ASCII, DateStyle, TimeZone, IntervalStyle, extra_float_digits,
// lc_messages, lc_monetary, bytea_output); names are matched
// case-insensitively, as the server matches them.
std::optional<StartupRefusal> judge_startup_setting(std::string_view name, std::string_view value);

}  // namespace pgw::engine
