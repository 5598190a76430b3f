#include "kernel_test_support.h"

#include <csignal>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef PGWARDEN_HAVE_BPF
#include <bpf/bpf.h>
#endif

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace pgw::kernel::testing {

namespace {
// A peer that closes early must fail an assertion, not kill the test
// process with SIGPIPE: a killed process skips TearDown and would leave its
// programs attached and its cgroup and pins behind.
const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace


std::optional<std::string> privileges_missing(bool need_bpf) {
  if (::geteuid() != 0) return "needs root (cgroup writes, CAP_BPF/CAP_NET_ADMIN); run as root";
  auto cg = Cgroup2::discover();
  if (!cg.ok()) return cg.error();
  if (::access(cg->absolute("/").c_str(), W_OK) != 0) return "cgroup2 mount " + cg->mount_point() + " is not writable";
  if (need_bpf) {
#ifdef PGWARDEN_HAVE_BPF
    const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pgw_probe", 4, 4, 1, nullptr);
    if (fd < 0) return std::string("the bpf() syscall is refused here: ") + std::strerror(errno);
    ::close(fd);
#else
    return "built with -DPGWARDEN_BPF=OFF";
#endif
  }
  return std::nullopt;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// ---- ScopedCgroup ------------------------------------------------------------

ScopedCgroup::ScopedCgroup(Cgroup2 cg, std::string path) : cg_(std::move(cg)), path_(std::move(path)) {
  created_ = cg_.create(path_).ok();
}

ScopedCgroup::~ScopedCgroup() { (void)remove(); }

Status ScopedCgroup::remove() {
  if (!created_) return ok_status();
  const std::string dir = cg_.absolute(path_);
  // cgroup.kill (5.14+) kills everything inside at once; older kernels: by pid.
  if (std::ofstream kill(dir + "/cgroup.kill"); kill) {
    kill << "1";
  } else {
    std::ifstream procs(dir + "/cgroup.procs");
    for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
  }
  Status last = ok_status();
  for (int i = 0; i < 200; ++i) {
    last = cg_.remove(path_);
    if (last.ok()) {
      created_ = false;
      return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return last;
}

// ---- Child -------------------------------------------------------------------

Child::Child(const Cgroup2& cg, const std::string& cgroup, std::function<std::string()> body) {
  int go[2], out[2];
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(go[1]);
    ::close(out[0]);
    char c;
    std::string result = "child: not moved into the cgroup";
    if (::read(go[0], &c, 1) == 1 && c == 'g') result = body();
    size_t off = 0;
    while (off < result.size()) {
      const ssize_t n = ::write(out[1], result.data() + off, result.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(out[1]);
  out_fd_ = out[0];
  if (pid_ > 0) {
    const bool moved = cg.move_pid(cgroup, pid_).ok();
    const char c = moved ? 'g' : 'x';
    (void)!::write(go[1], &c, 1);
  }
  ::close(go[1]);
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::string Child::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return "child failed: fork";
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "child failed: timeout; output so far: " + output;
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed: status " + std::to_string(status);
  return output;
}

// ---- sockets -----------------------------------------------------------------

sockaddr_storage make_addr(const std::string& ip, uint16_t port) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &in.sin_addr);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip.c_str(), &in6.sin6_addr);
  }
  return ss;
}

std::string addr_to_string(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "family " + std::to_string(ss.ss_family);
}

namespace {
socklen_t addr_len(const sockaddr_storage& ss) {
  return ss.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

int bound_socket(const std::string& ip, uint16_t port, uint16_t* port_out) {
  const sockaddr_storage addr = make_addr(ip, port);
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  *port_out = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                               : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  return fd;
}
}  // namespace

int listen_on(const std::string& ip, uint16_t port, uint16_t* port_out) {
  const int fd = bound_socket(ip, port, port_out);
  if (fd >= 0 && ::listen(fd, SOMAXCONN) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int reserve_port(const std::string& ip, uint16_t* port_out) { return bound_socket(ip, 0, port_out); }

int connect_to(int family, const std::string& ip, uint16_t port, Blocking blocking) {
  const sockaddr_storage addr = make_addr(ip, port);
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | (blocking == Blocking::kNo ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -errno;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len(addr)) != 0) {
    int err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      socklen_t len = sizeof(err);
      err = ::poll(&p, 1, 5000) != 1 ? ETIMEDOUT
            : ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ? errno
                                                                       : err;
    }
    if (err != 0) {
      ::close(fd);
      return -err;
    }
  }
  return fd;
}

namespace {
// One read() or write() through `io`; on a non-blocking socket, EAGAIN waits
// for `event` and tries again.
template <typename Io>
ssize_t as_client(int fd, short event, Io io) {
  const bool nonblocking = (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
  for (;;) {
    const ssize_t n = io();
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!nonblocking || (errno != EAGAIN && errno != EWOULDBLOCK)) return n;
    pollfd p{fd, event, 0};
    if (::poll(&p, 1, 10000) == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
  }
}
}  // namespace

ssize_t read_as_client(int fd, void* buf, size_t n) {
  return as_client(fd, POLLIN, [&] { return ::read(fd, buf, n); });
}

ssize_t write_as_client(int fd, const void* buf, size_t n) {
  return as_client(fd, POLLOUT, [&] { return ::write(fd, buf, n); });
}

std::string peer_of(int fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return std::strerror(errno);
  return addr_to_string(peer);
}

char read_byte(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return '\0';
  char c = '\0';
  return ::read(fd, &c, 1) == 1 ? c : '\0';
}

int accept_within(int listen_fd, std::chrono::milliseconds timeout) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
  return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

// ---- ByteServer ----------------------------------------------------------------

ByteServer::ByteServer(std::map<int, char> listeners, OnAccept on_accept)
    : listeners_(std::move(listeners)), on_accept_(std::move(on_accept)) {
  for (const auto& [fd, byte] : listeners_) counts_[fd] = 0;
  (void)!::pipe2(wake_, O_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

ByteServer::~ByteServer() {
  stop_ = true;
  (void)!::write(wake_[1], "x", 1);
  thread_.join();
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void ByteServer::run() {
  std::vector<pollfd> fds;
  for (const auto& [fd, byte] : listeners_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({wake_[0], POLLIN, 0});
  while (!stop_) {
    if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      const int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      if (on_accept_) on_accept_(fds[i].fd, fd);
      const char byte = listeners_[fds[i].fd];
      (void)!::write(fd, &byte, 1);
      ::close(fd);
      ++counts_[fds[i].fd];
    }
  }
}

uint64_t ByteServer::accepted(int listen_fd) const { return counts_.at(listen_fd).load(); }

bool ByteServer::wait_accepted(int listen_fd, uint64_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (accepted(listen_fd) < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace pgw::kernel::testing
