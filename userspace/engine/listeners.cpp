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

Result<int> open_tcp_listener(const policy::NetAddress& address, bool share_port) {
  sockaddr_storage addr{};
  socklen_t len = address.to_sockaddr(addr);
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  int one = 1;
  // SO_REUSEPORT only for the handover between two intercepting engines
  // (the same uid only, by the kernel's rule); otherwise a second pgwarden
  // (or anything else) on the same address must be an error, not a silent
  // share of the connections.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (share_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
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

Result<int> open_unix_listener(const std::string& path, bool replace_live) {
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
  if (live && !replace_live) return make_error("another process is already listening on " + path);

  // A live socket (a handover) is replaced by renaming a new one over it, so
  // a client never finds no socket there (its getpeername() then shows the
  // temporary name); otherwise the socket is bound at `path` itself.
  const std::string temporary = live ? path + ".new-" + std::to_string(::getpid()) : path;
  if (temporary.size() >= sizeof addr.sun_path) return make_error("unix_socket path is too long: " + path);
  sockaddr_un bind_addr{};
  bind_addr.sun_family = AF_UNIX;
  std::memcpy(bind_addr.sun_path, temporary.c_str(), temporary.size() + 1);
  ::unlink(temporary.c_str());

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof bind_addr) != 0) {
    Error e = sys_error("cannot listen on " + path);
    ::close(fd);
    return e;
  }
  ::chmod(temporary.c_str(), 0666);
  if (::listen(fd, 4096) != 0 || (temporary != path && ::rename(temporary.c_str(), path.c_str()) != 0)) {
    Error e = sys_error("listen on " + path);
    ::unlink(temporary.c_str());
    ::close(fd);
    return e;
  }
  return fd;
}

uint64_t socket_file_inode(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return st.st_ino;
}

void unlink_own_socket_file(const std::string& path, uint64_t bound_inode) {
  if (bound_inode != 0 && socket_file_inode(path) == bound_inode) ::unlink(path.c_str());
}

}  // namespace pgw::engine
