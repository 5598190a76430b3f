// Interceptor: the typed loader between the engine and pgwarden's eBPF
// programs (bpf/pgw.bpf.c). It loads the programs, attaches them to one
// cgroup v2 subtree, keeps their maps and links pinned under pgwarden's own
// bpffs directory, and gives the engine what it needs per connection.
//
// What the kernel side does, once attached:
//  - a connect() from a process in `cgroup` (or below) to a port in `ports`
//    goes to `listen4` (IPv6 sockets: see InterceptSettings::listen6); the
//    client's getpeername() still shows the address it asked for;
//  - the engine's accepted socket carries who connected and where to:
//    record_for_accepted(fd) right after accept();
//  - with `fast_path`, bytes between the two local ends skip the TCP stack
//    (sk_msg over a SOCKHASH) when the client's socket is non-blocking once
//    its connect completes (libpq, JDBC, Go, every event loop). A blocking
//    client keeps TCP, neither end in the SOCKHASH: a socket there is read by
//    the kernel's tcp_bpf_recvmsg, whose blocking read returns EAGAIN when
//    something wakes it without data (the ACK of the client's own FIN, write
//    space for another thread), where tcp_recvmsg waits on; a non-blocking
//    client expects EAGAIN, a blocking one would take it for an error or the
//    end of the stream. Each end decides at its first send, once and
//    for good, whether its bytes are redirected (its peer is in the SOCKHASH
//    then) or go the TCP way: a direction never switches mid-stream, and a
//    missing peer means TCP, never a drop. io_uring SEND_ZC is refused on
//    such sockets: use plain send/recv on accepted sockets, and never a
//    blocking read() (io_uring's poll-driven receive is fine).
//  - the engine's own upstream sockets are never redirected if it calls
//    exclude_own_socket(fd) before connect() (and forget_own_socket after):
//    this holds even when the engine runs inside the intercepted cgroup.
//  - unix sockets (kernel >= 6.7, cgroup connect_unix): a connect from
//    `cgroup` to one of `unix_paths` goes to `unix_target` (the engine's own
//    socket); the client's getpeername() shows the path it asked for; the
//    engine's accepted socket gives record_for_accepted_unix(fd). On older
//    kernels nothing is attached for them and status() says so.
//  - fail closed: the engine calls heartbeat() from a timer (e.g. every
//    200 ms). When the last heartbeat is older than `heartbeat_timeout`, a
//    connect that would be redirected fails with EPERM (fail_closed) or goes
//    to its original destination unchanged (fail open).
//
// Lifetime:
//  - attach() with an empty pin directory loads and attaches everything;
//    with the pins of a previous engine (restart, upgrade, crash) it reuses
//    the pinned maps and swaps the new programs into the pinned links
//    (bpf_link_update): no moment without redirect.
//  - destroying the Interceptor (or the process dying, even by SIGKILL) leaves
//    everything attached and pinned, so fail-closed keeps working.
//  - detach_and_unpin() is the clean stop: no program, link, pin or map left.
//
// Attach points: connect4/6 and getpeername4/6 at `cgroup` only. sockops at
// `cgroup` and at the engine's own cgroup (`engine_cgroup`, default: this
// process's), or once at whichever of the two contains the other: the
// engine's accepted sockets belong to the cgroup of the process that created
// its listening socket, and without sockops there the engine's end never
// gets its record nor enters the SOCKHASH. sk_msg is attached to the
// pgw_sockhash map (it sees only sockets in that map).
//
// Usage from the engine:
//   listen(...);                                   // first: connects arrive at once
//   auto icpt = Interceptor::attach(settings);     // or take over a previous engine
//   every 200 ms:   (*icpt)->heartbeat();
//   after accept(): auto rec = (*icpt)->record_for_accepted(fd);
//                   // who: rec->cgroup_id, uid, gid, comm, pid;
//                   // where: rec->destination() (v4-mapped folded to IPv4);
//                   // the record lives with the socket, until close(fd)
//   upstream:       (*icpt)->exclude_own_socket(s); connect(s, ...);
//                   (*icpt)->forget_own_socket(s);
//   SIGTERM:        drain, then (*icpt)->detach_and_unpin();
//
// Threads: after attach(), record_for_accepted, exclude_own_socket,
// forget_own_socket, heartbeat and status may be called from any thread
// concurrently (each is a bpf syscall on a map fd). attach/detach_and_unpin
// are not concurrent with anything. One engine per pin directory at a time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "kernel/bpffs.h"

namespace pgw::kernel {

struct InterceptSettings {
  // cgroup v2 subtree to intercept, relative to the cgroup2 mount ("/" = all).
  std::string cgroup = "/";
  // Destination ports whose connects are redirected (host byte order).
  std::vector<uint16_t> ports;
  // Where redirected connects go. Must be a concrete address reachable from
  // the workloads' network namespaces (their loopback is their own).
  sockaddr_in listen4{};
  // Native IPv6 destinations (e.g. [::1]:5432) from IPv6 sockets go here when
  // set. When unset they go to the v4-mapped form of listen4
  // (::ffff:a.b.c.d), which works for every dual-stack socket (the default)
  // but not for IPV6_V6ONLY sockets. v4-mapped destinations always go to the
  // v4-mapped listen4.
  std::optional<sockaddr_in6> listen6;
  bool fail_closed = true;
  std::chrono::milliseconds heartbeat_timeout{1000};
  // New connections of non-blocking clients take the sockmap fast path.
  // Switching it off (for benchmarks) affects only connections established
  // afterwards.
  bool fast_path = true;
  std::string pin_dir = kDefaultPinDir;
  // cgroup of the process that owns the engine's listening socket; default:
  // this process's cgroup.
  std::optional<std::string> engine_cgroup;
  // Unix socket paths (the database's, as clients name them) whose connects
  // go to `unix_target`, a socket the engine listens on. At most 16, each
  // shorter than sun_path.
  std::vector<std::string> unix_paths;
  std::string unix_target;
};

// Who connected and where to, as the kernel saw it at connect().
struct ConnectionRecord {
  // The destination as the client named it (what its getpeername() shows):
  // AF_INET, or AF_INET6 which may be v4-mapped (::ffff:a.b.c.d).
  sockaddr_storage original_dst{};
  // cgroup v2 id of the connecting task; its path (what /proc/PID/cgroup
  // shows, "/agents/a1") is Cgroup2::path_of(), a blocking lookup the engine
  // makes off its loop threads (engine/cgroup_resolver.h).
  uint64_t cgroup_id = 0;
  uint32_t pid = 0;        // tgid, in the initial pid namespace
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;        // task name (15 chars at most)
  bool fast_path = false;  // this connection's ends are in the SOCKHASH (a non-blocking client)

  // original_dst with v4-mapped IPv6 turned into AF_INET: what upstream
  // `match` rules ("127.0.0.3:5432") compare against.
  sockaddr_storage destination() const;
};

// Who connected to an intercepted unix socket path, and which one.
struct UnixConnectionRecord {
  std::string original_path;  // as the client named it (what its getpeername() shows)
  uint64_t cgroup_id = 0;
  uint32_t pid = 0;  // tgid, in the initial pid namespace
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;
};

enum class TxPath { kUndecided, kFast, kTcp };

// The fast-path state of one redirected connection, seen from the engine's
// accepted socket.
struct FastPathState {
  bool engine_end_in_sockhash = false;
  bool client_end_in_sockhash = false;
  TxPath engine_to_client = TxPath::kUndecided;  // decided at the engine's first send
};

struct ProgramStatus {
  std::string name;         // pgw_*
  uint32_t prog_id = 0;
  uint32_t link_id = 0;     // 0 for sk_msg (attached to a map, not a link)
  std::string attach_type;  // "cgroup_inet4_connect", ..., "sk_msg_verdict"
  std::string attach_point; // cgroup path, or the map name for sk_msg
  std::string pin;          // link pin path ("" for sk_msg)
  // With kernel.bpf_stats_enabled=1 only (bpftool's run_cnt, run_time_ns).
  std::optional<uint64_t> run_count, run_time_ns;
};

struct MapStatus {
  std::string name;  // pgw_*
  uint32_t id = 0;
  std::string type;  // "hash", "sockhash", ...
  uint32_t max_entries = 0;
  std::optional<uint64_t> entries;  // nullopt where the kernel cannot enumerate (sk_storage)
  std::string pin;
};

struct InterceptCounters {
  uint64_t connect_redirected = 0;
  uint64_t connect_refused = 0;      // fail closed while the engine was not alive
  uint64_t connect_passed_open = 0;  // fail open while the engine was not alive
  uint64_t connect_own_socket = 0;   // the engine's own sockets, left alone
  uint64_t accept_matched = 0;       // records handed to accepted sockets
  uint64_t sockhash_added = 0;
  uint64_t fast_bytes = 0;  // moved by sk_msg redirect
  uint64_t tcp_bytes = 0;   // sent by sockhash members the TCP way
};

struct InterceptorStatus {
  std::string pin_dir;
  std::string cgroup;
  bool took_over = false;  // attach() found a previous engine's pins
  bool fail_closed = true;
  bool fast_path = true;
  bool engine_alive = false;  // heartbeat younger than the timeout
  // Unix-socket interception: "on", "off" (no unix_paths) or why not
  // ("not supported by this kernel ...").
  std::string unix_sockets = "off";
  std::vector<std::string> unix_paths;
  std::string unix_target;
  std::chrono::milliseconds heartbeat_age{0};
  std::vector<ProgramStatus> programs;
  std::vector<MapStatus> maps;
  InterceptCounters counters;
};

class Interceptor {
 public:
  // Call once the engine's listening socket(s) are bound: redirected
  // connects start arriving as soon as this returns (on a takeover, they
  // never stopped).
  static Result<std::unique_ptr<Interceptor>> attach(const InterceptSettings& settings);

  // Removes what a previous engine left pinned in `pin_dir` (links detached,
  // maps unpinned, directory removed) without loading anything: for an
  // operator cleaning up after a crashed engine that will not come back.
  static Status remove_pinned(const std::string& pin_dir);

  // The pid of another engine serving from the pins in `pin_dir` (its
  // heartbeat is fresh and the process exists), or nullopt: a second engine
  // started while this is set is a handover, and may share the listen
  // address (SO_REUSEPORT) and replace the unix_socket file.
  static std::optional<uint32_t> serving_engine(const std::string& pin_dir);

  ~Interceptor();
  Interceptor(const Interceptor&) = delete;
  Interceptor& operator=(const Interceptor&) = delete;

  // The record of a connection the engine accepted; nullopt for a socket
  // that did not come through the redirect (e.g. an explicit TCP client).
  // One bpf syscall (plus a path resolution the first time a cgroup is seen).
  std::optional<ConnectionRecord> record_for_accepted(int fd) const;
  std::optional<FastPathState> fast_path_state(int accepted_fd) const;
  // The record of a unix connection accepted on `unix_target`; nullopt for
  // one that did not come through the redirect.
  std::optional<UnixConnectionRecord> record_for_accepted_unix(int fd) const;
  // Whether unix connects are redirected (the kernel has the hooks and
  // unix_paths is not empty).
  bool intercepts_unix() const;

  // The pid of another engine that took over the pins (its attach() wrote
  // its own pid into the shared config), or nullopt while this one owns them.
  std::optional<uint32_t> taken_over_by() const;

  // By socket cookie (SO_COOKIE): the kernel's own, unforgeable id.
  Status exclude_own_socket(int fd);
  void forget_own_socket(int fd);

  // Refreshes the engine's heartbeat (CLOCK_MONOTONIC).
  void heartbeat();

  // Clean stop. Afterwards the object only answers status() with an error.
  Status detach_and_unpin();

  Result<InterceptorStatus> status() const;
  const InterceptSettings& settings() const { return settings_; }

 private:
  struct Impl;
  explicit Interceptor(InterceptSettings settings);

  InterceptSettings settings_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgw::kernel
