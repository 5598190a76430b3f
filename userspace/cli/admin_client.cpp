#include "cli/admin_client.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "admin/http_client.h"
#include "policy/config.h"

namespace pgw::cli {

void add_admin_options(CLI::App& command, AdminOptions& options) {
  add_output_flags(command, options.output);
  command
      .add_option_function<std::string>(
          "-c,--config", [&options](const std::string& path) { options.config_path = path; },
          "reach the daemon at the admin_socket of this config file")
      ->type_name("FILE");
  command
      .add_option_function<std::string>(
          "--admin-socket", [&options](const std::string& path) { options.admin_socket = path; },
          "the daemon's admin socket, whatever --config says\n(default: --config's admin_socket, else " +
              policy::Config{}.admin_socket + ")")
      ->type_name("PATH");
}

int admin_call(const AdminOptions& options, std::string_view method, std::string_view path,
               const nlohmann::json* body, nlohmann::json& response) {
  std::string socket_path = policy::Config{}.admin_socket;
  if (options.config_path) {
    auto config = policy::load_config_file(*options.config_path);
    if (!config) {
      std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
      return 2;
    }
    socket_path = config->admin_socket;
  }
  if (options.admin_socket) socket_path = *options.admin_socket;
  admin::HttpHeaders headers;
  std::string payload;
  if (body != nullptr) {
    payload = body->dump();
    headers.emplace_back("Content-Type", "application/json");
  }
  auto reply = admin::http_request(admin::HttpTarget::unix_path(socket_path), method, path, payload, headers);
  if (!reply) {
    std::fprintf(stderr, "pgwarden: %s\n", reply.error().c_str());
    return 1;
  }
  auto j = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status / 100 != 2) {
    const std::string why = !j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string()
                                ? j["error"].get<std::string>()
                                : "HTTP " + std::to_string(reply->status);
    std::fprintf(stderr, "pgwarden: %s\n", why.c_str());
    return 1;
  }
  if (j.is_discarded()) {
    std::fprintf(stderr, "pgwarden: the daemon's answer is not JSON\n");
    return 1;
  }
  response = std::move(j);
  return 0;
}

void print_json(const nlohmann::json& j, const OutputFlags& f) {
  std::printf("%s\n", j.dump(f.pretty ? 2 : -1).c_str());
}

}  // namespace pgw::cli
