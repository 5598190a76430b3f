#include "engine/listeners.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pgw::engine {

namespace {
Error sys_error(const std::string& what) { return make_error(what + ": " + strerror(errno)); }
}  // namespace

Result<int> open_tcp_listener(const policy::NetAddress& address) {
  sockaddr_storage addr{};
  socklen_t len = address.to_sockaddr(addr);
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  int one = 1;
  // No SO_REUSEPORT: a second pgwarden (or anything else) on the same
  // address must be an error, not a silent share of the connections.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    Error e = sys_error("cannot listen on " + address.to_string());
    ::close(fd);
    return e;
  }
  if (::listen(fd, 4096) != 0) {
    Error e = sys_error("listen on " + address.to_string());
    ::close(fd);
    return e;
  }
  return fd;
}

Result<int> open_unix_listener(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return make_error("unix_socket path is too long: " + path);
  std::error_code ec;
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) return make_error("cannot create " + p.parent_path().string() + ": " + ec.message());

  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A socket file left by an engine that did not stop cleanly: if nothing
  // answers on it, it is stale and can go.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return sys_error("socket");
  const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(probe);
  if (live) return make_error("another process is already listening on " + path);
  ::unlink(path.c_str());

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Error e = sys_error("cannot listen on " + path);
    ::close(fd);
    return e;
  }
  ::chmod(path.c_str(), 0666);
  if (::listen(fd, 4096) != 0) {
    Error e = sys_error("listen on " + path);
    ::close(fd);
    return e;
  }
  return fd;
}

}  // namespace pgw::engine
