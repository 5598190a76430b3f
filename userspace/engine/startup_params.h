// Which startup settings a client may pass on to the database.
//
// A client's startup packet can change how the server parses SQL or who it
// runs as (client_encoding, search_path, role, session_authorization, and
// anything inside `options` as -c name=value). pgwarden forwards only
// settings on an allow-list of harmless ones and refuses the connection for
// anything else, naming the setting: a silent drop would leave the client
// believing a setting is in force when it is not.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "pgwire/startup.h"

namespace pgw::engine {

struct ClientStartup {
  std::string user;      // what the client claimed; logged, never trusted
  std::string database;  // passed upstream unless the upstream fixes one
  // Allowed settings, in the client's order, ready to forward.
  std::vector<std::pair<std::string, std::string>> settings;
  int32_t protocol_version = pgwire::kProtocol30;
  // Protocol options (`_pq_.*`) are forwarded untouched: the server answers
  // them with NegotiateProtocolVersion, which pgwarden passes back.
  std::vector<std::pair<std::string, std::string>> protocol_options;
};

// Refusals carry the SQLSTATE the client should see.
struct StartupRefusal {
  std::string sqlstate;
  std::string message;
};

std::variant<ClientStartup, StartupRefusal> vet_startup(const pgwire::StartupMessage& msg);

}  // namespace pgw::engine
