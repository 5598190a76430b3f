// Helpers for the HTTP tests: a private temporary directory for unix sockets
// and a raw client that sends exact bytes (malformed requests, partial
// requests) and reads the exact answer, which libcurl would not let us do.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "policy/net_address.h"

namespace pgw::admin::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgw-http-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A connected socket, closed on destruction.
class RawConnection {
 public:
  static std::optional<RawConnection> unix_socket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    return RawConnection(fd);
  }
  static std::optional<RawConnection> tcp(const policy::NetAddress& address) {
    sockaddr_storage ss{};
    socklen_t len = address.to_sockaddr(ss);
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    return RawConnection(fd);
  }

  RawConnection(RawConnection&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Everything the server sends until it closes, or until `timeout` passes
  // without a byte (then `closed` stays false).
  std::string read_until_close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string out;
    char buf[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return out;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }

  bool closed = false;

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  int fd_;
};

// "HTTP/1.1 404 Not Found\r\n..." -> 404; 0 when there is no status line.
inline int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

// The value of a header in a raw response (case-insensitive name), or nothing.
inline std::optional<std::string> header_of(const std::string& response, std::string_view name) {
  size_t end = response.find("\r\n\r\n");
  size_t pos = response.find("\r\n");
  while (pos != std::string::npos && pos < end) {
    size_t next = response.find("\r\n", pos + 2);
    std::string line = response.substr(pos + 2, next - pos - 2);
    size_t colon = line.find(':');
    if (colon == name.size() && ::strncasecmp(line.c_str(), name.data(), name.size()) == 0) {
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      return line.substr(v);
    }
    pos = next;
  }
  return std::nullopt;
}

inline std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

}  // namespace pgw::admin::test
