// Target `admin_http`: the admin API's routing and handlers, without
// sockets (libmicrohttpd parses HTTP; what reaches pgwarden is a request of
// method, path, query, headers, body and the peer). Byte 0 picks the
// listener (admin socket, console, metrics), the method and whether the
// unix peer is root; then the path, the query ("k=v&..."), header lines and
// an empty line, and the body. Every answer must be a well-formed response;
// a 500 means a handler threw (bad input must be a 4xx), so it aborts.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "admin/admin_api.h"
#include "admin/console_tokens.h"
#include "admin/http_server.h"
#include "approval/approval_queue.h"
#include "engine/engine_state.h"
#include "fuzz_input.h"
#include "policy/config.h"

using namespace pgw;

namespace {

struct Daemon {
  std::filesystem::path dir;
  std::unique_ptr<engine::EngineState> state;
  approval::ApprovalQueue approvals{"fuzz"};
  std::unique_ptr<admin::ConsoleTokens> tokens;
  std::unique_ptr<admin::AdminContext> context;
  admin::HttpServer admin_server{admin::HttpListen::unix_socket("/nonexistent/admin.sock")};
  admin::HttpServer console_server{admin::HttpListen::unix_socket("/nonexistent/console.sock")};
  admin::HttpServer metrics_server{admin::HttpListen::unix_socket("/nonexistent/metrics.sock")};
  unsigned long requests = 0;

  Daemon() {
    char templ[] = "/tmp/pgwarden-fuzz-admin-XXXXXX";
    if (mkdtemp(templ) == nullptr) std::abort();
    dir = templ;
    auto config = policy::load_config_string(
        "upstreams:\n  - name: app\n    match: [\"127.0.0.1:5432\"]\n    address: 127.0.0.1:5432\n"
        "    user: app_owner\nidentities:\n  - name: agent\n    match: { uid: [1000] }\n"
        "policies:\n  - identity: agent\n    upstream: app\n    allow: [select]\n",
        "fuzz.yaml", "");
    if (!config.ok()) std::abort();
    state = std::make_unique<engine::EngineState>(std::make_shared<const policy::Config>(std::move(config.value())));
    state->set_approvals(&approvals);
    tokens = std::make_unique<admin::ConsoleTokens>(dir / "console");
    context.reset(new admin::AdminContext{*state, admin::DaemonFacts{2, "fuzz.yaml"}, *tokens, {}, {}});
    admin::add_admin_routes(admin_server, *context);
    admin::add_console_routes(console_server, *context);
    admin::add_metrics_routes(metrics_server, *context);
  }
  ~Daemon() { std::filesystem::remove_all(dir); }
  // Tokens root asks for are files: keep their number bounded.
  void tidy() {
    if (++requests % 1024 == 0) std::filesystem::remove_all(dir / "console");
  }
};

constexpr const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "get", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Daemon daemon;
  daemon.tidy();
  fuzz::FuzzInput input(data, size);
  const uint8_t mode = input.byte();
  admin::HttpRequest request;
  request.method = kMethods[(mode >> 2) % std::size(kMethods)];
  request.path = std::string(input.until('\n'));
  const std::string_view query = input.until('\n');
  for (size_t begin = 0; begin <= query.size();) {
    size_t end = query.find('&', begin);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(begin, end - begin);
    const size_t eq = pair.find('=');
    if (!pair.empty()) request.query[std::string(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    begin = end + 1;
  }
  for (std::string_view line = input.until('\n'); !line.empty(); line = input.until('\n')) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    request.headers[std::string(line.substr(0, colon))] = std::string(value);
  }
  request.body = std::string(input.rest());
  const admin::HttpServer* server = &daemon.admin_server;
  switch (mode % 3) {
    case 0:
      request.peer_credentials = admin::PeerCredentials{(mode & 0x80) ? 0u : 1000u, 1000u, 42};
      break;
    case 1:
      server = &daemon.console_server;
      request.peer_address = policy::NetAddress::parse("127.0.0.1:50000").value();
      break;
    default:
      server = &daemon.metrics_server;
      request.peer_address = policy::NetAddress::parse("127.0.0.1:50001").value();
      break;
  }
  const admin::HttpResponse response = server->dispatch(request);
  if (response.status == 500 || response.status < 200 || response.status > 599) {
    std::fprintf(stderr, "admin_http: %s %s answered %d: %s\n", request.method.c_str(), request.path.c_str(),
                 response.status, response.body.c_str());
    std::abort();
  }
  return 0;
}
