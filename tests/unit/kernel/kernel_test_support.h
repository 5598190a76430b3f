// Helpers for the kernel tests: the privilege gate, a throwaway cgroup, a
// child process placed in it, small socket helpers and a one-byte server
// standing in for the engine.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kernel/cgroup_v2.h"

namespace pgw::kernel::testing {

// Why these tests cannot run here (nullopt: they can). `need_bpf` adds a
// probe of the bpf() syscall to the root/cgroup2 checks.
std::optional<std::string> privileges_missing(bool need_bpf);

// Skips the test with the reason, or fails it when PGWARDEN_REQUIRE_BPF=1.
#define PGW_REQUIRE_PRIVILEGES(need_bpf)                                                      \
  do {                                                                                        \
    if (auto why = ::pgw::kernel::testing::privileges_missing(need_bpf)) {                    \
      const char* require = std::getenv("PGWARDEN_REQUIRE_BPF");                              \
      if (require && std::string(require) == "1") FAIL() << "PGWARDEN_REQUIRE_BPF=1: " << *why; \
      GTEST_SKIP() << *why;                                                                   \
    }                                                                                         \
  } while (0)

// A unique name for this process and call ("pgw-test-<pid>-<n>").
std::string unique_name(const std::string& prefix);

// A cgroup created for one test and removed (its processes killed first)
// when it goes out of scope, also when the test failed.
class ScopedCgroup {
 public:
  ScopedCgroup(Cgroup2 cg, std::string path);
  ~ScopedCgroup();
  const std::string& path() const { return path_; }
  bool created() const { return created_; }
  // Kills what is left inside and removes the directory; idempotent.
  Status remove();

 private:
  Cgroup2 cg_;
  std::string path_;
  bool created_ = false;
};

// A forked child that runs `body` only after it has been moved into a cgroup;
// what `body` returns comes back from wait(). Killed and reaped if the test
// leaves without waiting. Create one only while no other thread of the test
// can be inside malloc (a thread still starting up is): fork() copies the
// lock it holds into the child, where no one releases it, and the sanitized
// build's allocator has no fork handler to prevent that.
class Child {
 public:
  Child(const Cgroup2& cg, const std::string& cgroup, std::function<std::string()> body);
  ~Child();
  pid_t pid() const { return pid_; }
  // The child's output, or "child failed: ..." when it died or timed out.
  std::string wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

sockaddr_storage make_addr(const std::string& ip, uint16_t port);
std::string addr_to_string(const sockaddr_storage& addr);

// A listening TCP socket on ip:port (port 0: any). Returns the fd; *port_out
// gets the bound port.
int listen_on(const std::string& ip, uint16_t port, uint16_t* port_out);
// A bound, not listening, socket: keeps `ip:port` free of listeners so a
// connect there that is not redirected is refused.
int reserve_port(const std::string& ip, uint16_t* port_out);

// How a socket waits for bytes: a blocking one sleeps in read(); a
// non-blocking one (libpq's, JDBC's, any event loop's) gets EAGAIN and polls.
// The interception treats them differently (see client_is_nonblocking in
// bpf/pgw.bpf.c), so tests say which kind of client they are.
enum class Blocking { kYes, kNo };

// Connects a new socket of `family` to ip:port. Returns the fd or -errno.
// Blocking::kNo makes the socket non-blocking before connect(), as libpq
// does, and leaves it so.
int connect_to(int family, const std::string& ip, uint16_t port, Blocking blocking = Blocking::kYes);
// read()/write() as a client of that kind does them: on a non-blocking
// socket, EAGAIN means "poll, then try again" (up to 10 s without progress);
// on a blocking one the call's result stands, EAGAIN included.
ssize_t read_as_client(int fd, void* buf, size_t n);
ssize_t write_as_client(int fd, const void* buf, size_t n);
// getpeername() as a string, e.g. "127.0.0.3:5432" or "[::1]:5432".
std::string peer_of(int fd);
// Reads exactly one byte (or returns '\0' on EOF, error or 5 s timeout).
char read_byte(int fd);
// Accepts one connection on `listen_fd` within `timeout`; -1 when none came.
int accept_within(int listen_fd, std::chrono::milliseconds timeout);

// Accepts connections on its listeners in a thread; each gets the listener's
// byte, then is closed. `on_accept` (optional) sees every accepted fd first.
class ByteServer {
 public:
  using OnAccept = std::function<void(int listen_fd, int fd)>;
  explicit ByteServer(std::map<int, char> listeners, OnAccept on_accept = {});
  ~ByteServer();
  uint64_t accepted(int listen_fd) const;
  // Waits until `listen_fd` accepted at least n connections.
  bool wait_accepted(int listen_fd, uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  void run();
  std::map<int, char> listeners_;
  OnAccept on_accept_;
  std::map<int, std::atomic<uint64_t>> counts_;
  std::atomic<bool> stop_{false};
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace pgw::kernel::testing
