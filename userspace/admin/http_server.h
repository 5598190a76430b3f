// A small HTTP server for the admin API, metrics and the web console: a thin
// wrapper over libmicrohttpd, which does all HTTP parsing.
//
// It listens on a unix socket (the admin API: mode 0600, the peer's uid, gid
// and pid known from the kernel) or on a TCP address (metrics, console). MHD
// runs its own polling thread(s), away from the engine's loop threads, so a
// handler may block briefly (read engine state under a lock, ask a queue) but
// it holds up the other requests of its thread while it does.
//
// Routes are (method, pattern) pairs; a pattern's `{name}` segment matches one
// path segment and is handed to the handler by name. Every response carries
// `Cache-Control: no-store` and `X-Content-Type-Options: nosniff` (admin
// answers must not be cached by a browser or proxy, nor sniffed as HTML), plus
// any server-wide default headers the caller adds (the console's CSP).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "policy/net_address.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace pgw::admin {

// Header names compare case-insensitively (RFC 9110 5.1).
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Who is on the other end of a unix-socket connection (SO_PEERCRED): taken
// from the kernel when the peer connected, so the peer cannot claim another.
struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

struct HttpRequest {
  std::string method;
  std::string path;  // without the query string, percent-decoded by MHD
  std::map<std::string, std::string, std::less<>> query;
  std::map<std::string, std::string, CaseInsensitiveLess> headers;
  std::map<std::string, std::string, std::less<>> params;  // the pattern's {name} segments
  std::string body;
  std::optional<PeerCredentials> peer_credentials;  // unix socket only
  std::optional<policy::NetAddress> peer_address;   // TCP only

  // nullptr when absent.
  const std::string* header(std::string_view name) const;
  // "" when absent: a route's {name} is always present when its handler runs.
  std::string_view param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  HeaderList headers;  // beyond Content-Type; win over the server's defaults

  static HttpResponse json(int status, const nlohmann::json& body);
  static HttpResponse text(int status, std::string body);
  // `{"error": message}`: every error pgwarden's HTTP endpoints give.
  static HttpResponse error(int status, std::string_view message);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Where to listen: a unix socket path or a TCP address.
struct HttpListen {
  std::string unix_path;                   // set for a unix socket
  std::optional<policy::NetAddress> tcp;   // set for TCP (port 0: any free port)

  static HttpListen unix_socket(std::string path) { return {std::move(path), std::nullopt}; }
  static HttpListen tcp_address(policy::NetAddress address) { return {{}, address}; }
  std::string to_string() const;
};

struct HttpServerOptions {
  size_t max_body = 64 * 1024;  // larger bodies get 413 and are not kept
  std::chrono::seconds connection_timeout{10};  // idle connections are closed
  unsigned max_connections = 32;  // beyond this MHD stops accepting
  unsigned threads = 1;           // MHD's polling threads (a pool when > 1)
  HeaderList default_headers;     // on every response this server builds
  // A unix socket another process answers on is replaced (renamed over)
  // instead of being an error: the next engine of a handover.
  bool replace_live = false;
};

class HttpServer {
 public:
  explicit HttpServer(HttpListen listen, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes are fixed once the server starts (they are read without a lock).
  // `pattern` is an absolute path; a segment `{name}` matches any one
  // non-empty segment.
  void add(std::string method, std::string_view pattern, HttpHandler handler);

  // Binds and starts serving. For a unix socket: refuses when another live
  // process serves the path, removes a stale socket file, creates the parent
  // directory, and creates the socket with mode 0600.
  Status start();
  // Stops serving and, for a unix socket, removes its file. Idempotent.
  void stop();

  // Answers a request as a connection's would be answered, without a
  // socket: the routing and the handlers (the admin API's fuzz target).
  HttpResponse dispatch(HttpRequest& request) const;

  // After start(): the TCP address actually bound (port 0 resolved).
  std::optional<policy::NetAddress> bound_address() const { return bound_; }
  const HttpListen& listen() const { return listen_; }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  // MHD's callbacks, with MHD's exact types (defined in the .cpp so that
  // microhttpd.h stays out of this header).
  struct Callbacks;
  friend struct Callbacks;

  Result<int> bind_unix();
  Result<int> bind_tcp();

  HttpListen listen_;
  HttpServerOptions options_;
  std::vector<Route> routes_;
  MHD_Daemon* daemon_ = nullptr;
  bool unlink_on_stop_ = false;
  uint64_t bound_inode_ = 0;  // the socket file this server made: after a handover it may be another's
  void unlink_own_socket();
  std::optional<policy::NetAddress> bound_;
};

}  // namespace pgw::admin
