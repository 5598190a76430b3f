#include "admin/http_server.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace pgw::admin {

namespace {

// A chunked body (no Content-Length) can only be judged while it arrives: past
// the limit it is read and thrown away so that the client still gets its 413,
// but only this much more; a peer that keeps sending after that is cut off.
constexpr size_t kMaxDiscard = 1024 * 1024;

std::string errno_text() { return std::strerror(errno); }

// "/a/{id}/b" -> {"a", "{id}", "b"}; "/" -> {""}. Nothing for a path that is
// not absolute (MHD passes "*" for "OPTIONS *").
std::optional<std::vector<std::string>> split_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::vector<std::string> out;
  path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           std::map<std::string, std::string, std::less<>>& params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (is_param(pattern[i])) {
      if (path[i].empty()) return false;
      params[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

bool has_header(const HeaderList& headers, std::string_view name) {
  CaseInsensitiveLess less;
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return !less(h.first, name) && !less(name, h.first); });
}

MHD_Result collect_query(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string, std::less<>>*>(cls);
  // `?flag` has no value; the first of repeated keys wins.
  query->emplace(key, value ? value : "");
  return MHD_YES;
}

MHD_Result collect_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::map<std::string, std::string, CaseInsensitiveLess>*>(cls);
  auto [it, inserted] = headers->emplace(key, value ? value : "");
  // Repeated headers are one comma-separated list (RFC 9110 5.3).
  if (!inserted) it->second += std::string(", ") + (value ? value : "");
  return MHD_YES;
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  int c = ::strncasecmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

const std::string* HttpRequest::header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

std::string_view HttpRequest::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string_view() : std::string_view(it->second);
}

HttpResponse HttpResponse::json(int status, const nlohmann::json& body) {
  // `replace`: a handler's stray invalid UTF-8 must not turn into a 500.
  return {status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
          {}};
}

HttpResponse HttpResponse::text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}};
}

HttpResponse HttpResponse::error(int status, std::string_view message) {
  return json(status, {{"error", message}});
}

std::string HttpListen::to_string() const { return tcp ? tcp->to_string() : unix_path; }

struct HttpServer::Callbacks {
  // Per request: the body as it arrives. MHD keeps the pointer for us between
  // calls of request() and hands it to completed(), which frees it.
  struct RequestState {
    std::string body;
    bool too_large = false;
    size_t discarded = 0;
  };

  static MHD_Result request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                            const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                            void** con_cls) {
    auto* server = static_cast<HttpServer*>(cls);
    // Nothing may throw into MHD's C frames.
    try {
      auto* state = static_cast<RequestState*>(*con_cls);
      if (state == nullptr) {
        // First call: only the headers are in. A declared length over the
        // limit is refused now, before MHD reads (or asks for, with
        // `Expect: 100-continue`) any of the body.
        *con_cls = state = new RequestState;
        const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t declared = 0;
        if (length != nullptr) {
          std::from_chars(length, length + std::strlen(length), declared);
          if (declared > server->options_.max_body) return queue(*server, connection, too_large(*server));
        }
        return MHD_YES;
      }
      if (*upload_data_size != 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!state->too_large && state->body.size() + n > server->options_.max_body) {
          state->too_large = true;
          state->body = std::string();  // give the memory back
        }
        if (state->too_large) {
          state->discarded += n;
          return state->discarded > kMaxDiscard ? MHD_NO : MHD_YES;
        }
        state->body.append(upload_data, n);
        return MHD_YES;
      }
      if (state->too_large) return queue(*server, connection, too_large(*server));

      HttpRequest request;
      request.method = method;
      request.path = url;
      request.body = std::move(state->body);
      MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &collect_query, &request.query);
      MHD_get_connection_values(connection, MHD_HEADER_KIND, &collect_header, &request.headers);
      if (server->listen_.tcp) {
        const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (info != nullptr && info->client_addr != nullptr) {
          const sockaddr* sa = info->client_addr;
          socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
          request.peer_address = policy::NetAddress::from_sockaddr(sa, len);
        }
      } else {
        const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        ucred cred{};
        socklen_t len = sizeof cred;
        if (info != nullptr && ::getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
          request.peer_credentials = PeerCredentials{cred.uid, cred.gid, cred.pid};
        }
      }
      return queue(*server, connection, server->dispatch(request));
    } catch (const std::exception& e) {
      spdlog::error("http {}: {} {}: {}", server->listen_.to_string(), method, url, e.what());
      return MHD_NO;  // MHD closes the connection
    }
  }

  static HttpResponse too_large(const HttpServer& server) {
    return HttpResponse::error(413, "request body larger than " + std::to_string(server.options_.max_body) + " bytes");
  }

  static MHD_Result queue(const HttpServer& server, MHD_Connection* connection, const HttpResponse& response) {
    MHD_Response* r = MHD_create_response_from_buffer(response.body.size(), const_cast<char*>(response.body.data()),
                                                      MHD_RESPMEM_MUST_COPY);
    if (r == nullptr) return MHD_NO;
    auto add = [&](const std::string& name, const std::string& value) {
      // MHD refuses names and values that would split the header (CR, LF).
      if (MHD_add_response_header(r, name.c_str(), value.c_str()) != MHD_YES) {
        spdlog::warn("http {}: response header {} not sent: invalid characters", server.listen_.to_string(), name);
      }
    };
    add(MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type);
    for (const auto& [name, value] : response.headers) add(name, value);
    static const HeaderList kAlways = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
    for (const HeaderList* defaults : {&kAlways, &server.options_.default_headers}) {
      for (const auto& [name, value] : *defaults) {
        if (!has_header(response.headers, name)) add(name, value);
      }
    }
    MHD_Result ret = MHD_queue_response(connection, static_cast<unsigned>(response.status), r);
    MHD_destroy_response(r);
    return ret;
  }

  static void completed(void* /*cls*/, MHD_Connection* /*connection*/, void** con_cls,
                        MHD_RequestTerminationCode /*code*/) {
    delete static_cast<RequestState*>(*con_cls);
    *con_cls = nullptr;
  }

  // MHD's own messages (a peer that sent garbage, the connection limit
  // reached). Debug level: a remote peer must not be able to flood the log.
  static void log(void* cls, const char* format, va_list args) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, format, args);
    std::string_view text(buf);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    spdlog::debug("http {}: libmicrohttpd: {}", static_cast<HttpServer*>(cls)->listen_.to_string(), text);
  }
};

HttpServer::HttpServer(HttpListen listen, HttpServerOptions options)
    : listen_(std::move(listen)), options_(std::move(options)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add(std::string method, std::string_view pattern, HttpHandler handler) {
  auto segments = split_path(pattern);
  if (!segments) throw std::invalid_argument("HTTP route pattern must start with '/': " + std::string(pattern));
  routes_.push_back({std::move(method), std::move(*segments), std::move(handler)});
}

HttpResponse HttpServer::dispatch(HttpRequest& request) const {
  auto path = split_path(request.path);
  std::vector<std::string> allowed;
  if (path) {
    // In the order added: a literal route added before a {name} one wins.
    for (const auto& route : routes_) {
      std::map<std::string, std::string, std::less<>> params;
      if (!match(route.segments, *path, params)) continue;
      if (route.method != request.method) {
        allowed.push_back(route.method);
        continue;
      }
      request.params = std::move(params);
      try {
        return route.handler(request);
      } catch (const std::exception& e) {
        spdlog::error("http {}: {} {} failed: {}", listen_.to_string(), request.method, request.path, e.what());
        return HttpResponse::error(500, std::string("internal error: ") + e.what());
      } catch (...) {
        spdlog::error("http {}: {} {} failed", listen_.to_string(), request.method, request.path);
        return HttpResponse::error(500, "internal error");
      }
    }
  }
  if (allowed.empty()) return HttpResponse::error(404, "not found");
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  auto response = HttpResponse::error(405, "method " + request.method + " not allowed; allowed: " + allow);
  response.headers.emplace_back("Allow", allow);
  return response;
}

Result<int> HttpServer::bind_unix() {
  const std::string& path = listen_.unix_path;
  sockaddr_un addr{};
  if (path.empty()) return make_error("HTTP unix socket path is empty");
  if (path.size() >= sizeof addr.sun_path) return make_error("unix socket path is too long: " + path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return make_error("cannot create " + p.parent_path().string() + ": " + ec.message());
  }
  bool replacing = false;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    // Only ever remove a socket: a typo in the config must not delete a file.
    if (!S_ISSOCK(st.st_mode)) return make_error(path + " exists and is not a socket");
    // A socket someone answers on belongs to a live process: leave it be.
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) ::close(probe);
    if (live && !options_.replace_live) return make_error("another process is already serving " + path);
    if (!live) ::unlink(path.c_str());  // stale: left by a process that died
    replacing = live;
  }

  // A live socket being replaced (a handover) is replaced by renaming a new
  // one over it, so that the path is never empty.
  const std::string temporary = replacing ? path + ".new-" + std::to_string(::getpid()) : path;
  if (temporary.size() >= sizeof addr.sun_path) return make_error("unix socket path is too long: " + path);
  std::memcpy(addr.sun_path, temporary.c_str(), temporary.size() + 1);
  if (replacing) ::unlink(temporary.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error("socket: " + errno_text());
  // Created 0600 from the start: there is no moment in which another user
  // could connect. umask is process-wide, but this runs at startup only.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 64) != 0 || (replacing && ::rename(temporary.c_str(), path.c_str()) != 0)) {
    std::string e = "cannot listen on " + path + ": " + errno_text();
    if (replacing) ::unlink(temporary.c_str());
    ::close(fd);
    return make_error(e);
  }
  if (::lstat(path.c_str(), &st) == 0) bound_inode_ = st.st_ino;
  unlink_on_stop_ = true;
  return fd;
}

void HttpServer::unlink_own_socket() {
  struct stat st {};
  if (unlink_on_stop_ && ::lstat(listen_.unix_path.c_str(), &st) == 0 && st.st_ino == bound_inode_) {
    ::unlink(listen_.unix_path.c_str());
  }
  unlink_on_stop_ = false;
}

Result<int> HttpServer::bind_tcp() {
  sockaddr_storage ss{};
  socklen_t len = listen_.tcp->to_sockaddr(ss);
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error("socket: " + errno_text());
  int one = 1;
  // A restart must not wait for the old connections' TIME_WAIT.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // [::] means IPv6 only, whatever the sysctl says: listen on 0.0.0.0 too if
  // both are wanted.
  if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0) {
    std::string e = "cannot listen on " + listen_.tcp->to_string() + ": " + errno_text();
    ::close(fd);
    return make_error(e);
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0) {
    bound_ = policy::NetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len);
  }
  return fd;
}

Status HttpServer::start() {
  if (daemon_ != nullptr) return make_error("HTTP server on " + listen_.to_string() + " is already running");
  if (listen_.unix_path.empty() == !listen_.tcp) {
    return make_error("HTTP server needs exactly one of a unix socket path and a TCP address");
  }
  auto fd = listen_.tcp ? bind_tcp() : bind_unix();
  if (!fd) return make_error(fd.error());

  // We bind ourselves (mode 0600, the live-socket check, unix or TCP alike)
  // and hand MHD the listening socket; MHD closes it in MHD_stop_daemon.
  const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  // MHD warns about a pool of one: ask for a pool only when it is one.
  MHD_OptionItem pool[] = {
      {options_.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, options_.threads, nullptr},
      {MHD_OPTION_END, 0, nullptr}};
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Callbacks::request, this,
                             MHD_OPTION_EXTERNAL_LOGGER, &Callbacks::log, this,
                             MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(*fd),
                             MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::completed, this,
                             // A peer that stops sending (or never finishes its
                             // headers) is cut off; the limit bounds how many
                             // peers can hold a connection at once.
                             MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(options_.connection_timeout.count()),
                             MHD_OPTION_CONNECTION_LIMIT, options_.max_connections,
                             // Refuse what RFC 9112 forbids (an HTTP/1.1 request
                             // without Host, whitespace before a header's colon)
                             // instead of guessing what the peer meant.
                             MHD_OPTION_STRICT_FOR_CLIENT, 1,
                             MHD_OPTION_ARRAY, pool,
                             MHD_OPTION_END);
  if (daemon_ == nullptr) {
    ::close(*fd);
    unlink_own_socket();
    return make_error("cannot start the HTTP server on " + listen_.to_string() + " (libmicrohttpd refused)");
  }
  return ok_status();
}

void HttpServer::stop() {
  if (daemon_ == nullptr) return;
  // Joins MHD's threads: no handler runs after this returns.
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  unlink_own_socket();
}

}  // namespace pgw::admin
