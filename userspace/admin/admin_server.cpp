#include "admin/admin_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pgw::admin {

namespace {

constexpr size_t kMaxRequest = 64 * 1024;

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return make_error("admin_socket path is too long: " + path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until a newline or EOF, with a deadline so a stuck peer cannot hold
// the admin thread.
Result<std::string> read_line(int fd, int timeout_ms) {
  std::string in;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r == 0) return make_error("timed out");
    if (r < 0) {
      if (errno == EINTR) continue;
      return make_error(strerror(errno));
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(strerror(errno));
    if (n == 0) return in;
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > kMaxRequest) return make_error("message too large");
    if (auto nl = in.find('\n'); nl != std::string::npos) return in.substr(0, nl);
  }
}

}  // namespace

AdminServer::~AdminServer() { stop(); }

Status AdminServer::start() {
  auto addr = unix_address(path_);
  if (!addr) return make_error(addr.error());
  std::error_code ec;
  std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) == 0;
  if (probe >= 0) ::close(probe);
  if (live) return make_error("another pgwarden is already serving " + path_);
  ::unlink(path_.c_str());

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return make_error(std::string("admin socket: ") + strerror(errno));
  // Created 0600 from the start: no window in which others could connect.
  mode_t old = ::umask(0177);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&*addr), sizeof *addr);
  ::umask(old);
  if (rc != 0 || ::listen(listen_fd_, 16) != 0) {
    std::string e = "cannot listen on admin socket " + path_ + ": " + strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return make_error(e);
  }
  thread_ = std::thread([this] { serve(); });
  return ok_status();
}

void AdminServer::stop() {
  if (listen_fd_ < 0) return;
  // Wakes the blocking accept() with an error.
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(path_.c_str());
}

void AdminServer::serve() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    handle(fd);
    ::close(fd);
  }
}

void AdminServer::handle(int fd) {
  nlohmann::json response;
  auto line = read_line(fd, 2000);
  if (!line) {
    response = {{"ok", false}, {"error", "bad request: " + line.error()}};
  } else {
    auto request = nlohmann::json::parse(*line, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      response = {{"ok", false}, {"error", "bad request: not a JSON object"}};
    } else {
      try {
        response = handler_(request);
      } catch (const std::exception& e) {
        response = {{"ok", false}, {"error", std::string("internal error: ") + e.what()}};
      }
    }
  }
  write_all(fd, response.dump() + "\n");
}

Result<nlohmann::json> admin_request(const std::string& path, const nlohmann::json& request) {
  auto addr = unix_address(path);
  if (!addr) return make_error(addr.error());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(std::string("socket: ") + strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0) {
    std::string e = "cannot reach the pgwarden daemon at " + path + ": " + strerror(errno);
    ::close(fd);
    return make_error(e);
  }
  if (!write_all(fd, request.dump() + "\n")) {
    ::close(fd);
    return make_error("cannot send to the daemon: " + std::string(strerror(errno)));
  }
  auto line = read_line(fd, 10000);
  ::close(fd);
  if (!line) return make_error("no answer from the daemon: " + line.error());
  auto response = nlohmann::json::parse(*line, nullptr, false);
  if (response.is_discarded()) return make_error("the daemon's answer is not JSON");
  return response;
}

}  // namespace pgw::admin
