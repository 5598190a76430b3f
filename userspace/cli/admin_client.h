// How every command but `run` reaches the daemon: HTTP over its admin
// socket (--admin-socket, else --config's admin_socket, else the default).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/output_flags.h"

namespace CLI {
class App;
}

namespace pgw::cli {

struct AdminOptions {
  OutputFlags output;
  std::optional<std::string> config_path;   // --config: use its admin_socket
  std::optional<std::string> admin_socket;  // --admin-socket: wins over --config
};

// Adds -j/-p, --config and --admin-socket to `command`.
void add_admin_options(CLI::App& command, AdminOptions& options);

// One request; the JSON answer in `response`. Returns the exit code: 0, 1
// when the daemon cannot be reached or refuses (its error on stderr), 2
// when --config cannot be read.
int admin_call(const AdminOptions& options, std::string_view method, std::string_view path,
               const nlohmann::json* body, nlohmann::json& response);

void print_json(const nlohmann::json& j, const OutputFlags& f);

}  // namespace pgw::cli
