// Real tests of the eBPF interception: a throwaway cgroup, a stand-in engine
// listening on 127.0.0.1, clients in a child process moved into the cgroup
// connecting to 127.0.0.3:<test port>, where nothing listens unless a test
// says so. Needs root and BPF: skipped with the reason otherwise, failed
// under PGWARDEN_REQUIRE_BPF=1.
#include "kernel/interceptor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <thread>

#include "kernel/cgroup_v2.h"
#include "kernel_test_support.h"

namespace pgw::kernel {
namespace {

using namespace std::chrono_literals;
using namespace pgw::kernel::testing;

std::string errno_name(int err) { return std::strerror(err); }

sockaddr_in v4(const std::string& ip, uint16_t port) {
  const sockaddr_storage ss = make_addr(ip, port);
  return reinterpret_cast<const sockaddr_in&>(ss);
}

sockaddr_in6 v6(const std::string& ip, uint16_t port) {
  const sockaddr_storage ss = make_addr(ip, port);
  return reinterpret_cast<const sockaddr_in6&>(ss);
}

std::optional<uint64_t> map_entries(const InterceptorStatus& st, const std::string& name) {
  for (const auto& m : st.maps) {
    if (m.name == name) return m.entries;
  }
  return std::nullopt;
}

// The byte at offset i of an echo test's stream. No short period, so a
// chunk missing or delivered twice shows as bad bytes, not only as a count.
char echo_byte_at(size_t i) { return static_cast<char>((i * 2654435761u) >> 13); }

// A client of the echo test (run it in the test cgroup): one thread writes
// `bytes` in 64 KiB writes, then half-closes; the other reads to the end of
// the stream and checks every byte. "got=N bad=M", followed by how the
// reading or writing failed, if it did.
std::string echo_client(uint16_t port, size_t bytes, Blocking blocking) {
  const int fd = connect_to(AF_INET, "127.0.0.3", port, blocking);
  if (fd < 0) return "connect: " + errno_name(-fd);
  std::string write_error;
  std::thread writer([&] {
    std::vector<char> chunk(64 * 1024);
    for (size_t off = 0; off < bytes;) {
      const size_t n = std::min(chunk.size(), bytes - off);
      for (size_t i = 0; i < n; ++i) chunk[i] = echo_byte_at(off + i);
      const ssize_t w = write_as_client(fd, chunk.data(), n);
      if (w <= 0) {
        write_error = " write: " + errno_name(errno);
        return;
      }
      off += static_cast<size_t>(w);
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::vector<char> buf(256 * 1024);
  size_t got = 0, bad = 0;
  std::string read_error;
  for (;;) {
    const ssize_t n = read_as_client(fd, buf.data(), buf.size());
    if (n < 0) read_error = " read: " + errno_name(errno);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) bad += buf[static_cast<size_t>(i)] != echo_byte_at(got + static_cast<size_t>(i));
    got += static_cast<size_t>(n);
  }
  writer.join();
  ::close(fd);
  return "got=" + std::to_string(got) + " bad=" + std::to_string(bad) + read_error + write_error;
}

// The engine's side of the echo: sends back what it reads until the
// client's end of stream. It waits like the engine's io_uring loop does
// (readiness, never a blocking read). Returns the bytes echoed, or the error.
std::string echo_until_eof(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::vector<char> buf(256 * 1024);
  size_t echoed = 0;
  for (;;) {
    const ssize_t n = read_as_client(fd, buf.data(), buf.size());
    if (n < 0) return "engine read: " + errno_name(errno);
    if (n == 0) return "echoed=" + std::to_string(echoed);
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = write_as_client(fd, buf.data() + off, static_cast<size_t>(n - off));
      if (w <= 0) return "engine write: " + errno_name(errno) + " after " + std::to_string(echoed);
      off += w;
    }
    echoed += static_cast<size_t>(n);
  }
}

// The engine's heartbeat timer. Tests run it like the engine would, so a
// slow, loaded machine does not make the engine look dead.
//
// The constructor returns once the thread runs its loop, which never
// allocates: tests fork clients (Child) right after, and a thread still
// starting up is inside the allocator (under ASan its stack setup frees and
// allocates). fork() copies a lock held at that moment into the child, held
// forever; clang 14's ASan takes no allocator lock around fork, so the
// child's own first thread then hung for good (about one sanitized echo test
// in seven, with the client never writing a byte).
class HeartbeatTimer {
 public:
  explicit HeartbeatTimer(Interceptor* icpt)
      : thread_([this, icpt] {
          std::unique_lock lock(mu_);
          running_ = true;
          cv_.notify_all();
          while (!cv_.wait_for(lock, 50ms, [this] { return stop_; })) icpt->heartbeat();
        }) {
    icpt->heartbeat();  // alive from the moment the timer starts
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return running_; });
  }
  ~HeartbeatTimer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  bool stop_ = false;
  std::thread thread_;
};

class InterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PGW_REQUIRE_PRIVILEGES(true);
    auto cg = Cgroup2::discover();
    ASSERT_TRUE(cg.ok()) << cg.error();
    cg_.emplace(*cg);
    cgroup_ = std::make_unique<ScopedCgroup>(*cg_, "/" + unique_name("pgw-test"));
    ASSERT_TRUE(cgroup_->created()) << "cannot create " << cgroup_->path();
    engine_fd_ = listen_on("127.0.0.1", 0, &engine_port_);
    ASSERT_GE(engine_fd_, 0);
    origin_fd_ = reserve_port("127.0.0.3", &test_port_);
    ASSERT_GE(origin_fd_, 0);
    pin_dir_ = std::string(kBpffsMountPoint) + "/" + unique_name("pgwarden-test");
  }

  void TearDown() override {
    heartbeats_.clear();
    for (auto& i : interceptors_) {
      if (i) (void)i->detach_and_unpin();
    }
    interceptors_.clear();
    if (!pin_dir_.empty()) {
      EXPECT_TRUE(Interceptor::remove_pinned(pin_dir_).ok());
    }
    if (cgroup_) {
      EXPECT_TRUE(cgroup_->remove().ok());
    }
    for (int fd : {engine_fd_, origin_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  InterceptSettings settings() const {
    InterceptSettings s;
    s.cgroup = cgroup_->path();
    s.ports = {test_port_};
    s.listen4 = v4("127.0.0.1", engine_port_);
    s.pin_dir = pin_dir_;
    return s;
  }

  // Attaches, with the engine's heartbeat timer running unless the test
  // wants to control liveness itself.
  Interceptor* attach(const InterceptSettings& s, bool heartbeat = true) {
    auto r = Interceptor::attach(s);
    EXPECT_TRUE(r.ok()) << r.error();
    if (!r.ok()) return nullptr;
    interceptors_.push_back(std::move(r).value());
    Interceptor* icpt = interceptors_.back().get();
    if (heartbeat) heartbeats_[icpt] = std::make_unique<HeartbeatTimer>(icpt);
    return icpt;
  }

  void stop_heartbeat(Interceptor* icpt) { heartbeats_.erase(icpt); }
  void start_heartbeat(Interceptor* icpt) { heartbeats_[icpt] = std::make_unique<HeartbeatTimer>(icpt); }

  // The engine process dies: no more heartbeats, no cleanup.
  void crash(Interceptor* icpt) {
    heartbeats_.erase(icpt);
    for (auto& i : interceptors_) {
      if (i.get() == icpt) i.reset();
    }
  }

  // In a child inside the test cgroup: connect, then report getpeername and
  // the byte the server sent ("127.0.0.3:P E"), or the connect error.
  std::string connect_from_cgroup(int family, const std::string& ip, Blocking blocking = Blocking::kYes) {
    const uint16_t port = test_port_;
    Child child(*cg_, cgroup_->path(), [family, ip, port, blocking] {
      const int fd = connect_to(family, ip, port, blocking);
      if (fd < 0) return "connect: " + errno_name(-fd);
      std::string out = peer_of(fd) + " " + std::string(1, read_byte(fd));
      ::close(fd);
      return out;
    });
    return child.wait();
  }

  std::string test_dst(const std::string& ip) const { return ip + ":" + std::to_string(test_port_); }

  std::optional<Cgroup2> cg_;
  std::unique_ptr<ScopedCgroup> cgroup_;
  int engine_fd_ = -1;
  int origin_fd_ = -1;
  uint16_t engine_port_ = 0;
  uint16_t test_port_ = 0;
  std::string pin_dir_;
  std::vector<std::unique_ptr<Interceptor>> interceptors_;
  std::map<Interceptor*, std::unique_ptr<HeartbeatTimer>> heartbeats_;
};

TEST_F(InterceptorTest, RedirectsAndHandsTheIdentityToTheAcceptedSocket) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  const uint16_t port = test_port_;
  Child child(*cg_, cgroup_->path(), [port] {
    ::prctl(PR_SET_NAME, "pgw-cli-v4");
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return std::string("setuid failed");
    const int fd = connect_to(AF_INET, "127.0.0.3", port);
    if (fd < 0) return "connect: " + errno_name(-fd);
    return peer_of(fd) + " " + std::string(1, read_byte(fd));
  });

  const int fd = accept_within(engine_fd_, 5s);
  ASSERT_GE(fd, 0) << "the connect did not land at the engine";
  auto rec = icpt->record_for_accepted(fd);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->pid, static_cast<uint32_t>(child.pid()));
  EXPECT_EQ(rec->uid, 65534u);
  EXPECT_EQ(rec->gid, 65534u);
  EXPECT_EQ(rec->comm, "pgw-cli-v4");
  EXPECT_EQ(rec->cgroup_id, *cg_->id_of(cgroup_->path()));
  EXPECT_EQ(addr_to_string(rec->original_dst), test_dst("127.0.0.3"));
  EXPECT_EQ(addr_to_string(rec->destination()), test_dst("127.0.0.3"));
  auto path = cg_->path_of(rec->cgroup_id);
  ASSERT_TRUE(path.ok()) << path.error();
  EXPECT_EQ(*path, cgroup_->path());
  // The engine sees the real peer; only the client's view is rewritten.
  EXPECT_EQ(peer_of(fd).rfind("127.0.0.1:", 0), 0u) << peer_of(fd);

  ASSERT_EQ(::write(fd, "E", 1), 1);
  EXPECT_EQ(child.wait(), test_dst("127.0.0.3") + " E");
  ::close(fd);

  // A socket that did not come through the redirect has no record.
  const int plain = connect_to(AF_INET, "127.0.0.1", engine_port_);
  ASSERT_GE(plain, 0);
  const int accepted = accept_within(engine_fd_, 5s);
  ASSERT_GE(accepted, 0);
  EXPECT_FALSE(icpt->record_for_accepted(accepted).has_value());
  ::close(plain);
  ::close(accepted);
}

TEST_F(InterceptorTest, ProcessOutsideTheCgroupIsNotRedirected) {
  ASSERT_NE(attach(settings()), nullptr);
  const int fd = connect_to(AF_INET, "127.0.0.3", test_port_);
  EXPECT_EQ(fd, -ECONNREFUSED) << "this process is outside the intercepted cgroup";
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(accept_within(engine_fd_, 100ms), -1);
}

TEST_F(InterceptorTest, OtherPortsAreNotRedirected) {
  ASSERT_NE(attach(settings()), nullptr);
  uint16_t other_port = 0;
  const int other = reserve_port("127.0.0.3", &other_port);
  ASSERT_GE(other, 0);
  const uint16_t port = other_port;
  Child child(*cg_, cgroup_->path(), [port] {
    const int fd = connect_to(AF_INET, "127.0.0.3", port);
    return fd < 0 ? "connect: " + errno_name(-fd) : std::string("connected");
  });
  EXPECT_EQ(child.wait(), "connect: " + errno_name(ECONNREFUSED));
  ::close(other);
}

TEST_F(InterceptorTest, RedirectsIPv6Loopback) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  ByteServer server({{engine_fd_, 'E'}}, [&](int, int fd) {
    auto rec = icpt->record_for_accepted(fd);
    EXPECT_TRUE(rec.has_value());
    if (rec) {
      EXPECT_EQ(addr_to_string(rec->destination()), "[::1]:" + std::to_string(test_port_));
    }
  });
  EXPECT_EQ(connect_from_cgroup(AF_INET6, "::1"), test_dst("[::1]") + " E");
}

TEST_F(InterceptorTest, RedirectsV4MappedDestinationsOfIPv6Sockets) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  ByteServer server({{engine_fd_, 'E'}}, [&](int, int fd) {
    auto rec = icpt->record_for_accepted(fd);
    EXPECT_TRUE(rec.has_value());
    if (!rec) return;
    EXPECT_EQ(addr_to_string(rec->original_dst), test_dst("[::ffff:127.0.0.3]"));
    EXPECT_EQ(addr_to_string(rec->destination()), test_dst("127.0.0.3"));  // for upstream matching
  });
  EXPECT_EQ(connect_from_cgroup(AF_INET6, "::ffff:127.0.0.3"), test_dst("[::ffff:127.0.0.3]") + " E");
}

TEST_F(InterceptorTest, NativeIPv6GoesToListen6WhenConfigured) {
  uint16_t engine6_port = 0;
  const int engine6 = listen_on("::1", 0, &engine6_port);
  ASSERT_GE(engine6, 0);
  InterceptSettings s = settings();
  s.listen6 = v6("::1", engine6_port);
  ASSERT_NE(attach(s), nullptr);
  {
    ByteServer server({{engine_fd_, '4'}, {engine6, '6'}});
    EXPECT_EQ(connect_from_cgroup(AF_INET6, "::1"), test_dst("[::1]") + " 6");
    EXPECT_EQ(connect_from_cgroup(AF_INET6, "::ffff:127.0.0.3"), test_dst("[::ffff:127.0.0.3]") + " 4");
  }
  ::close(engine6);
}

TEST_F(InterceptorTest, EngineOwnSocketIsNotRedirectedEvenInsideTheCgroup) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  ASSERT_EQ(::listen(origin_fd_, 16), 0);
  ByteServer server({{engine_fd_, 'E'}, {origin_fd_, 'O'}});
  const uint16_t port = test_port_;
  // The child stands for an engine running inside the intercepted cgroup: it
  // uses the (inherited) interceptor to register its upstream socket.
  Child child(*cg_, cgroup_->path(), [icpt, port] {
    const int own = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (auto st = icpt->exclude_own_socket(own); !st.ok()) return st.error();
    const sockaddr_storage dst = make_addr("127.0.0.3", port);
    if (::connect(own, reinterpret_cast<const sockaddr*>(&dst), sizeof(sockaddr_in)) != 0) {
      return "own connect: " + errno_name(errno);
    }
    icpt->forget_own_socket(own);
    std::string out(1, read_byte(own));
    ::close(own);
    const int other = connect_to(AF_INET, "127.0.0.3", port);
    if (other < 0) return "other connect: " + errno_name(-other);
    out += read_byte(other);
    ::close(other);
    return out;
  });
  EXPECT_EQ(child.wait(), "OE") << "own socket must reach the origin, the other the engine";
  auto st = icpt->status();
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(st->counters.connect_own_socket, 1u);
  EXPECT_EQ(map_entries(*st, "pgw_own_socks"), 0u);
}

// A non-blocking client (libpq's kind) takes the fast path: both ends in the
// SOCKHASH, 50 MB each way without the loopback TCP stack, every byte in
// order, while the client writes and reads at once and half-closes.
TEST_F(InterceptorTest, FastPathHoldsBothEndsAndEchoes50MBIntact) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  constexpr size_t kBytes = 50u << 20;
  const uint16_t port = test_port_;
  Child child(*cg_, cgroup_->path(), [port] { return echo_client(port, kBytes, Blocking::kNo); });

  const int fd = accept_within(engine_fd_, 5s);
  ASSERT_GE(fd, 0);
  auto rec = icpt->record_for_accepted(fd);
  ASSERT_TRUE(rec.has_value());
  EXPECT_TRUE(rec->fast_path);
  auto fp = icpt->fast_path_state(fd);
  ASSERT_TRUE(fp.has_value());
  EXPECT_TRUE(fp->engine_end_in_sockhash);
  EXPECT_TRUE(fp->client_end_in_sockhash);
  EXPECT_EQ(map_entries(*icpt->status(), "pgw_sockhash"), 2u);
  EXPECT_EQ(map_entries(*icpt->status(), "pgw_pending"), 0u) << "the accepted end took its record";

  EXPECT_EQ(echo_until_eof(fd), "echoed=" + std::to_string(kBytes));
  fp = icpt->fast_path_state(fd);
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->engine_to_client, TxPath::kFast);
  ::close(fd);
  EXPECT_EQ(child.wait(), "got=" + std::to_string(kBytes) + " bad=0");

  auto st = icpt->status();
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->counters.fast_bytes, 2 * kBytes) << "both directions skip the TCP stack";
  EXPECT_EQ(st->counters.tcp_bytes, 0u);
  // Closed sockets leave the SOCKHASH by themselves.
  for (int i = 0; i < 200 && map_entries(*icpt->status(), "pgw_sockhash") != 0u; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(map_entries(*icpt->status(), "pgw_sockhash"), 0u);
}

// A blocking client keeps the TCP path. In a SOCKHASH its reads would go
// through tcp_bpf_recvmsg, which returns EAGAIN from a blocking read woken
// without data instead of waiting on; the ACK of the client's own FIN is
// such a wake-up. Here a thread blocks in read() while another half-closes
// the socket, and the engine answers only later: the read must wait for
// that byte (with the client in the SOCKHASH it failed with EAGAIN, every
// time; it is how the echo test used to lose its last 64 KiB).
TEST_F(InterceptorTest, BlockingClientKeepsTcpSoItsReadWaitsAcrossItsOwnHalfClose) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  const uint16_t port = test_port_;
  Child child(*cg_, cgroup_->path(), [port] {
    const int fd = connect_to(AF_INET, "127.0.0.3", port, Blocking::kYes);
    if (fd < 0) return "connect: " + errno_name(-fd);
    std::string result;
    std::thread reader([fd, &result] {
      char c = 0;
      const ssize_t n = ::read(fd, &c, 1);
      result = n == 1 ? "byte " + std::string(1, c) : n == 0 ? "eof" : "read: " + errno_name(errno);
    });
    std::this_thread::sleep_for(100ms);  // the reader sleeps in read() by now
    ::shutdown(fd, SHUT_WR);
    reader.join();
    ::close(fd);
    return result;
  });

  const int fd = accept_within(engine_fd_, 5s);
  ASSERT_GE(fd, 0);
  auto rec = icpt->record_for_accepted(fd);
  ASSERT_TRUE(rec.has_value());
  EXPECT_FALSE(rec->fast_path);
  auto fp = icpt->fast_path_state(fd);
  ASSERT_TRUE(fp.has_value());
  EXPECT_FALSE(fp->engine_end_in_sockhash);
  EXPECT_FALSE(fp->client_end_in_sockhash);
  char c = 0;
  EXPECT_EQ(::read(fd, &c, 1), 0) << "the client's FIN";
  std::this_thread::sleep_for(200ms);  // its FIN is long acknowledged
  ASSERT_EQ(::write(fd, "E", 1), 1);
  EXPECT_EQ(child.wait(), "byte E");
  ::close(fd);
  EXPECT_EQ(map_entries(*icpt->status(), "pgw_sockhash"), 0u);
  EXPECT_EQ(icpt->status()->counters.fast_bytes, 0u);
}

// Clients of both kinds at once, each writing and reading in two threads
// and half-closing: every byte arrives in order; the non-blocking ones take
// the fast path, the blocking ones TCP. (With every client in the SOCKHASH,
// a blocking reader here was woken by its own writer's progress and got
// EAGAIN mid-stream within a few rounds.)
TEST_F(InterceptorTest, ConcurrentEchoesOfBothKindsOfClientArriveIntact) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  constexpr size_t kBytes = 8u << 20;
  constexpr int kRounds = 5;
  constexpr int kClients = 4;  // even: non-blocking, odd: blocking
  const uint16_t port = test_port_;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::unique_ptr<Child>> clients;
    std::map<pid_t, Blocking> kind_of;
    for (int i = 0; i < kClients; ++i) {
      const Blocking kind = i % 2 == 0 ? Blocking::kNo : Blocking::kYes;
      clients.push_back(std::make_unique<Child>(*cg_, cgroup_->path(),
                                                [port, kind] { return echo_client(port, kBytes, kind); }));
      kind_of[clients.back()->pid()] = kind;
    }
    std::vector<std::thread> engines;
    std::vector<std::string> engine_results(kClients);
    for (int i = 0; i < kClients; ++i) {
      const int fd = accept_within(engine_fd_, 5s);
      ASSERT_GE(fd, 0);
      auto rec = icpt->record_for_accepted(fd);
      ASSERT_TRUE(rec.has_value());
      ASSERT_EQ(kind_of.count(static_cast<pid_t>(rec->pid)), 1u);
      EXPECT_EQ(rec->fast_path, kind_of[static_cast<pid_t>(rec->pid)] == Blocking::kNo) << "pid " << rec->pid;
      engines.emplace_back([fd, &result = engine_results[static_cast<size_t>(i)]] {
        result = echo_until_eof(fd);
        ::close(fd);
      });
    }
    for (auto& t : engines) t.join();
    for (const auto& r : engine_results) EXPECT_EQ(r, "echoed=" + std::to_string(kBytes)) << "round " << round;
    for (auto& c : clients) {
      EXPECT_EQ(c->wait(60s), "got=" + std::to_string(kBytes) + " bad=0") << "round " << round;
    }
  }
  auto st = icpt->status();
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->counters.fast_bytes, uint64_t{kRounds} * (kClients / 2) * 2 * kBytes);
  EXPECT_EQ(st->counters.sockhash_added, uint64_t{kRounds} * (kClients / 2) * 2);
}

TEST_F(InterceptorTest, FastPathOffLeavesTheSockhashAlone) {
  InterceptSettings s = settings();
  s.fast_path = false;
  Interceptor* icpt = attach(s);
  ASSERT_NE(icpt, nullptr);
  ByteServer server({{engine_fd_, 'E'}}, [&](int, int fd) {
    auto rec = icpt->record_for_accepted(fd);
    EXPECT_TRUE(rec.has_value());
    if (rec) {
      EXPECT_FALSE(rec->fast_path);
    }
    EXPECT_EQ(map_entries(*icpt->status(), "pgw_sockhash"), 0u);
  });
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " E");
  EXPECT_EQ(icpt->status()->counters.fast_bytes, 0u);
}

TEST_F(InterceptorTest, StaleHeartbeatFailsClosedWithEperm) {
  InterceptSettings s = settings();
  s.heartbeat_timeout = 200ms;
  Interceptor* icpt = attach(s);
  ASSERT_NE(icpt, nullptr);
  ByteServer server({{engine_fd_, 'E'}});
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " E");
  stop_heartbeat(icpt);
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(icpt->status()->engine_alive);
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), "connect: " + errno_name(EPERM));
  EXPECT_EQ(connect_from_cgroup(AF_INET6, "::ffff:127.0.0.3"), "connect: " + errno_name(EPERM));
  start_heartbeat(icpt);
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " E");
  // The server counts an accept after answering it: wait for the count.
  EXPECT_TRUE(server.wait_accepted(engine_fd_, 2, 5s));
  EXPECT_EQ(server.accepted(engine_fd_), 2u);
  EXPECT_EQ(icpt->status()->counters.connect_refused, 2u);
}

TEST_F(InterceptorTest, StaleHeartbeatFailsOpenToTheOriginalDestination) {
  InterceptSettings s = settings();
  s.heartbeat_timeout = 200ms;
  s.fail_closed = false;
  Interceptor* icpt = attach(s);
  ASSERT_NE(icpt, nullptr);
  ASSERT_EQ(::listen(origin_fd_, 16), 0);
  ByteServer server({{engine_fd_, 'E'}, {origin_fd_, 'O'}});
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " E");
  stop_heartbeat(icpt);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " O");
  start_heartbeat(icpt);
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " E");
  EXPECT_EQ(icpt->status()->counters.connect_passed_open, 1u);
}

TEST_F(InterceptorTest, RestartedEngineTakesOverPinnedLinksWithoutAGap) {
  Interceptor* first = attach(settings());
  ASSERT_NE(first, nullptr);
  const InterceptorStatus before = *first->status();
  EXPECT_FALSE(before.took_over);

  ByteServer server({{engine_fd_, 'E'}});
  int stop[2];
  ASSERT_EQ(::pipe(stop), 0);
  const uint16_t port = test_port_;
  // Connects back to back until told to stop, across the takeover.
  Child child(*cg_, cgroup_->path(), [port, stop_fd = stop[0]] {
    int n = 0, failures = 0;
    std::string first_failure;
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    pollfd p{stop_fd, POLLIN, 0};
    while (::poll(&p, 1, 0) == 0 && std::chrono::steady_clock::now() < give_up) {
      const int fd = connect_to(AF_INET, "127.0.0.3", port);
      const char byte = fd >= 0 ? read_byte(fd) : '\0';
      if (byte != 'E') {
        ++failures;
        if (first_failure.empty()) {
          first_failure = fd < 0 ? errno_name(-fd) : "read " + std::string(1, byte);
        }
      }
      if (fd >= 0) ::close(fd);
      ++n;
    }
    return "failures=" + std::to_string(failures) + " n=" + std::to_string(n) + " " + first_failure;
  });
  ASSERT_TRUE(server.wait_accepted(engine_fd_, 50, 5s));

  // The previous engine goes away without a clean stop; the new one attaches.
  crash(first);
  InterceptSettings s = settings();
  s.fail_closed = false;
  Interceptor* second = attach(s);
  ASSERT_NE(second, nullptr);
  const uint64_t at_takeover = server.accepted(engine_fd_);
  EXPECT_TRUE(server.wait_accepted(engine_fd_, at_takeover + 50, 5s)) << "connections go on after the takeover";
  ASSERT_EQ(::write(stop[1], "s", 1), 1);
  const std::string result = child.wait();
  ::close(stop[0]);
  ::close(stop[1]);
  EXPECT_EQ(result.rfind("failures=0 ", 0), 0u) << result;

  const InterceptorStatus after = *second->status();
  EXPECT_TRUE(after.took_over);
  EXPECT_FALSE(after.fail_closed);
  ASSERT_EQ(after.programs.size(), before.programs.size());
  for (size_t i = 0; i < after.programs.size(); ++i) {
    EXPECT_EQ(after.programs[i].name, before.programs[i].name);
    EXPECT_EQ(after.programs[i].link_id, before.programs[i].link_id) << after.programs[i].name;
    EXPECT_NE(after.programs[i].prog_id, before.programs[i].prog_id) << after.programs[i].name;
  }
  ASSERT_EQ(after.maps.size(), before.maps.size());
  for (size_t i = 0; i < after.maps.size(); ++i) {
    EXPECT_EQ(after.maps[i].id, before.maps[i].id) << after.maps[i].name;
  }
  EXPECT_GT(after.counters.connect_redirected, before.counters.connect_redirected)
      << "counters live in the reused maps";
}

TEST_F(InterceptorTest, EngineInItsOwnCgroupGetsItsEndSeenBySockops) {
  // The engine's accepted sockets belong to the cgroup its listening socket
  // was created in; put that in a sibling of the intercepted cgroup.
  ScopedCgroup engine_cgroup(*cg_, "/" + unique_name("pgw-test-engine"));
  ASSERT_TRUE(engine_cgroup.created());
  auto home = Cgroup2::cgroup_of_pid(::getpid());
  ASSERT_TRUE(home.ok()) << home.error();
  ASSERT_TRUE(cg_->move_pid(engine_cgroup.path(), ::getpid()).ok());
  uint16_t port = 0;
  const int listener = listen_on("127.0.0.1", 0, &port);
  ASSERT_TRUE(cg_->move_pid(*home, ::getpid()).ok());
  ASSERT_GE(listener, 0);

  InterceptSettings s = settings();
  s.listen4 = v4("127.0.0.1", port);
  s.engine_cgroup = engine_cgroup.path();
  Interceptor* icpt = attach(s);
  ASSERT_NE(icpt, nullptr);
  const auto status = icpt->status();
  ASSERT_TRUE(status.ok()) << status.error();
  std::vector<std::string> sockops_points;
  for (const auto& p : status->programs) {
    if (p.name == "pgw_sockops") sockops_points.push_back(p.attach_point);
  }
  EXPECT_EQ(sockops_points, (std::vector<std::string>{cgroup_->path(), engine_cgroup.path()}));
  {
    ByteServer server({{listener, 'E'}}, [&](int, int fd) {
      auto rec = icpt->record_for_accepted(fd);
      EXPECT_TRUE(rec.has_value()) << "PASSIVE_ESTABLISHED must be seen in the engine's cgroup";
      auto fp = icpt->fast_path_state(fd);
      EXPECT_TRUE(fp && fp->engine_end_in_sockhash && fp->client_end_in_sockhash);
    });
    EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3", Blocking::kNo), test_dst("127.0.0.3") + " E");
  }
  ::close(listener);
}

TEST_F(InterceptorTest, KilledEngineLeavesTheRedirectFailingClosedUntilARestart) {
  InterceptSettings s = settings();
  s.heartbeat_timeout = 200ms;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  // An engine process (inside the intercepted cgroup, which is allowed)
  // attaches, then dies by SIGKILL without any cleanup.
  Child engine(*cg_, cgroup_->path(), [s, ready_fd = ready[1]] {
    auto icpt = Interceptor::attach(s);
    if (!icpt.ok()) return icpt.error();
    (void)!::write(ready_fd, "r", 1);
    ::pause();
    return std::string("not killed");
  });
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << engine.wait(1s);
  ::kill(engine.pid(), SIGKILL);
  EXPECT_EQ(engine.wait().rfind("child failed", 0), 0u);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_TRUE(std::filesystem::exists(pin_dir_ + "/link_connect4"));

  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), "connect: " + errno_name(EPERM));

  // The restarted engine runs in another cgroup: its sockops link moves.
  Interceptor* icpt = attach(s);
  ASSERT_NE(icpt, nullptr);
  EXPECT_TRUE(icpt->status()->took_over);
  ByteServer server({{engine_fd_, 'E'}}, [&](int, int fd) {
    EXPECT_TRUE(icpt->record_for_accepted(fd).has_value());
  });
  EXPECT_EQ(connect_from_cgroup(AF_INET, "127.0.0.3"), test_dst("127.0.0.3") + " E");
}

// A client in a network namespace of its own (a pod): its loopback is its
// own, so the engine listens on the host end of a veth pair.
TEST_F(InterceptorTest, ClientInItsOwnNetworkNamespaceIsServed) {
  std::string ip_tool;
  for (const char* candidate : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(candidate, X_OK) == 0) {
      ip_tool = candidate;
      break;
    }
  }
  if (ip_tool.empty()) GTEST_SKIP() << "iproute2's ip is not installed";
  const std::string suffix = std::to_string(::getpid() % 100000);
  const std::string host_if = "pgwh" + suffix, ns_if = "pgwn" + suffix;
  const std::string subnet = "169.254." + std::to_string(100 + ::getpid() % 100) + ".";
  const std::string host_ip = subnet + "1", ns_ip = subnet + "2";
  struct VethGuard {
    std::string cmd;
    ~VethGuard() { (void)!std::system(cmd.c_str()); }
  } veth_guard{ip_tool + " link del " + host_if + " 2>/dev/null"};

  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const uint16_t port = test_port_;
  Child client(*cg_, cgroup_->path(), [=] {
    // Already in the cgroup; now into a network namespace of its own.
    if (::unshare(CLONE_NEWNET) != 0) return "unshare: " + errno_name(errno);
    (void)!::write(to_parent[1], "n", 1);
    char c = 0;
    if (::read(to_child[0], &c, 1) != 1 || c != 'c') return std::string("host side not configured");
    const std::string setup = ip_tool + " addr add " + ns_ip + "/30 dev " + ns_if + " && " + ip_tool +
                              " link set " + ns_if + " up && " + ip_tool + " link set lo up";
    if (std::system(setup.c_str()) != 0) return "failed: " + setup;
    const int fd = connect_to(AF_INET, "127.0.0.3", port, Blocking::kNo);
    if (fd < 0) return "connect: " + errno_name(-fd);
    return peer_of(fd) + " " + std::string(1, read_byte(fd));
  });
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1) << client.wait(1s);
  const std::string host_setup = ip_tool + " link add " + host_if + " type veth peer name " + ns_if +
                                 " netns " + std::to_string(client.pid()) + " && " + ip_tool + " addr add " +
                                 host_ip + "/30 dev " + host_if + " && " + ip_tool + " link set " + host_if +
                                 " up";
  ASSERT_EQ(std::system(host_setup.c_str()), 0) << host_setup;
  uint16_t engine_port = 0;
  const int listener = listen_on(host_ip, 0, &engine_port);
  ASSERT_GE(listener, 0);
  InterceptSettings s = settings();
  s.listen4 = v4(host_ip, engine_port);
  Interceptor* icpt = attach(s);
  ASSERT_NE(icpt, nullptr);
  ASSERT_EQ(::write(to_child[1], "c", 1), 1);

  const int fd = accept_within(listener, 5s);
  ASSERT_GE(fd, 0) << client.wait(1s);
  auto rec = icpt->record_for_accepted(fd);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->pid, static_cast<uint32_t>(client.pid()));
  EXPECT_EQ(addr_to_string(rec->original_dst), test_dst("127.0.0.3"));
  EXPECT_EQ(peer_of(fd).rfind(ns_ip + ":", 0), 0u) << peer_of(fd);
  auto fp = icpt->fast_path_state(fd);
  EXPECT_TRUE(fp && fp->engine_end_in_sockhash && fp->client_end_in_sockhash);
  ASSERT_EQ(::write(fd, "E", 1), 1);
  EXPECT_EQ(client.wait(), test_dst("127.0.0.3") + " E");
  ::close(fd);
  ::close(listener);
  for (int p : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(p);
}

TEST_F(InterceptorTest, DetachAndUnpinLeavesNothing) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  const InterceptorStatus st = *icpt->status();
  ASSERT_GE(st.programs.size(), 6u);
  ASSERT_EQ(st.maps.size(), 11u);  // 8, plus pgw_unix_paths, pgw_unix_config, pgw_unix_pend
  for (const auto& p : st.programs) {
    EXPECT_EQ(p.name.rfind("pgw_", 0), 0u);
    if (!p.pin.empty()) {
      EXPECT_TRUE(std::filesystem::exists(p.pin)) << p.pin;
    }
  }
  for (const auto& m : st.maps) EXPECT_EQ(m.name.rfind("pgw_", 0), 0u);

  ASSERT_TRUE(icpt->detach_and_unpin().ok());
  EXPECT_FALSE(std::filesystem::exists(pin_dir_));
  EXPECT_FALSE(icpt->status().ok());

  // The kernel frees programs and maps after an RCU grace period.
  auto gone = [&] {
    for (const auto& p : st.programs) {
      const int fd = bpf_prog_get_fd_by_id(p.prog_id);
      if (fd >= 0) return ::close(fd), false;
      if (p.link_id) {
        const int lfd = bpf_link_get_fd_by_id(p.link_id);
        if (lfd >= 0) return ::close(lfd), false;
      }
    }
    for (const auto& m : st.maps) {
      const int fd = bpf_map_get_fd_by_id(m.id);
      if (fd >= 0) return ::close(fd), false;
    }
    return true;
  };
  for (int i = 0; i < 300 && !gone(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(gone()) << "a pgw_ program, link or map outlived detach_and_unpin";

  auto dir = cg_->open_dir(cgroup_->path());
  ASSERT_TRUE(dir.ok());
  for (auto type : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_INET4_GETPEERNAME,
                    BPF_CGROUP_INET6_GETPEERNAME, BPF_CGROUP_SOCK_OPS}) {
    __u32 ids[8] = {}, count = 8, flags = 0;
    ASSERT_EQ(bpf_prog_query(*dir, type, 0, &flags, ids, &count), 0);
    EXPECT_EQ(count, 0u) << "attach type " << type;
  }
  ::close(*dir);
  ASSERT_TRUE(cgroup_->remove().ok());
  EXPECT_FALSE(std::filesystem::exists(cg_->absolute(cgroup_->path())));
}

TEST_F(InterceptorTest, TenThousandShortConnectionsLeaveTheMapsAtBaseline) {
  Interceptor* icpt = attach(settings());
  ASSERT_NE(icpt, nullptr);
  const InterceptorStatus base = *icpt->status();
  ByteServer server({{engine_fd_, 'E'}});
  constexpr int kConnections = 10000;
  const uint16_t port = test_port_;
  Child child(*cg_, cgroup_->path(), [port] {
    int failures = 0;
    for (int i = 0; i < kConnections; ++i) {
      // Both kinds of client: half of them take the fast path.
      const int fd = connect_to(AF_INET, "127.0.0.3", port, i % 2 == 0 ? Blocking::kNo : Blocking::kYes);
      failures += fd < 0 || read_byte(fd) != 'E';
      if (fd >= 0) ::close(fd);
    }
    return "failures=" + std::to_string(failures);
  });
  EXPECT_EQ(child.wait(60s), "failures=0");
  EXPECT_TRUE(server.wait_accepted(engine_fd_, kConnections, 5s));

  auto at_baseline = [&] {
    const InterceptorStatus now = *icpt->status();
    for (const char* name : {"pgw_sockhash", "pgw_pending", "pgw_own_socks"}) {
      if (map_entries(now, name) != map_entries(base, name)) return false;
    }
    return true;
  };
  for (int i = 0; i < 300 && !at_baseline(); ++i) std::this_thread::sleep_for(10ms);
  const InterceptorStatus now = *icpt->status();
  for (const char* name : {"pgw_sockhash", "pgw_pending", "pgw_own_socks"}) {
    EXPECT_EQ(map_entries(now, name), map_entries(base, name)) << name;
  }
  EXPECT_EQ(now.counters.connect_redirected, static_cast<uint64_t>(kConnections));
  EXPECT_EQ(now.counters.accept_matched, static_cast<uint64_t>(kConnections));
  EXPECT_EQ(now.counters.sockhash_added, static_cast<uint64_t>(kConnections)) << "two ends per non-blocking client";
}

}  // namespace
}  // namespace pgw::kernel
