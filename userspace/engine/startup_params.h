// What a client's startup packet asks for, read as the server reads it.
//
// A startup packet can change how the server parses SQL or who it runs as
// (client_encoding, search_path, role, session_authorization, and anything
// inside `options` as -c name=value). pgwarden reads the settings as the
// server would (split_startup_options) and passes on only what it can name.
// Once the workload is identified, the identity's policy judges each
// setting like `SET name = value` (policy/startup_settings.h) and the
// connection is refused for the first it does not allow, naming it: a
// silent drop would leave the client believing a setting is in force when
// it is not.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"
#include "pgwire/startup.h"
#include "policy/startup_settings.h"

namespace pgw::engine {

using policy::StartupSettings;

struct ClientStartup {
  std::string user;      // what the client claimed; logged, never trusted
  std::string database;  // passed upstream unless the upstream fixes one
  // The settings, in the client's order, ready to forward once the policy
  // has judged them (those from `options` as separate parameters).
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


}  // namespace pgw::engine
