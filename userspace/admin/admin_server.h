// The admin socket: every CLI command but `run` talks to the daemon here.
//
// A unix socket, mode 0600 (only the daemon's user, normally root, may
// inspect sessions or approve statements). One request per connection: a
// line of JSON in, one JSON document out. Admin traffic is rare and small,
// so it has a thread of its own with plain blocking calls, away from the
// loop threads.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace pgw::admin {

using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

class AdminServer {
 public:
  AdminServer(std::string path, Handler handler) : path_(std::move(path)), handler_(std::move(handler)) {}
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  Status start();
  void stop();

 private:
  void serve();
  void handle(int fd);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  std::thread thread_;
};

// Client side, for the CLI: sends one request, returns the response.
Result<nlohmann::json> admin_request(const std::string& path, const nlohmann::json& request);

}  // namespace pgw::admin
