#include "kernel/interceptor.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>

#include "kernel/cgroup_v2.h"
#include "kernel/unix_peer.h"
#include "pgw.skel.h"
#include "pgw_shared.h"

namespace pgw::kernel {
namespace fs = std::filesystem;

namespace {

// ---- libbpf's messages -----------------------------------------------------
// libbpf explains its failures (verifier log, pin mismatch) through its print
// callback. Keep the last warnings so an error we return can quote them
// instead of printing them to a stderr the daemon may not have.

std::mutex g_log_mu;
std::deque<std::string> g_log;

int keep_libbpf_message(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buffer[2048];
  const int n = std::vsnprintf(buffer, sizeof(buffer), format, args);
  if (n <= 0) return 0;
  std::string line(buffer, std::min<size_t>(static_cast<size_t>(n), sizeof(buffer) - 1));
  while (!line.empty() && line.back() == '\n') line.pop_back();
  std::lock_guard lock(g_log_mu);
  g_log.push_back(std::move(line));
  while (g_log.size() > 24) g_log.pop_front();
  return 0;
}

void install_libbpf_logger() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(keep_libbpf_message); });
}

void clear_libbpf_log() {
  std::lock_guard lock(g_log_mu);
  g_log.clear();
}

std::string libbpf_said() {
  std::lock_guard lock(g_log_mu);
  if (g_log.empty()) return "";
  std::string out = " (libbpf: ";
  for (const auto& line : g_log) out += line + "; ";
  out.resize(out.size() - 2);
  g_log.clear();
  constexpr size_t kMax = 3000;
  if (out.size() > kMax) out = " (libbpf: ..." + out.substr(out.size() - kMax);
  return out + ")";
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock bpf_ktime_get_ns reads
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// One cgroup attachment the interceptor keeps, pinned as pin_dir/<pin_name>.
struct LinkSpec {
  std::string pin_name;
  bpf_program* prog;
  std::string cgroup;  // normalized cgroup path
};

bool is_pgw_link_pin(const std::string& name) { return name.rfind("link_", 0) == 0; }
bool is_pgw_map_pin(const std::string& name) { return name.rfind("pgw_", 0) == 0; }

Result<bpf_link_info> link_info(int fd) {
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return make_error(errno_text(errno));
  return info;
}

// Run count and time, as `bpftool prog show` prints them: the kernel keeps
// them only while kernel.bpf_stats_enabled is 1 (it costs every run).
void add_run_stats(int prog_fd, ProgramStatus& p) {
  std::ifstream enabled("/proc/sys/kernel/bpf_stats_enabled");
  int on = 0;
  if (!(enabled >> on) || on == 0) return;
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return;
  p.run_count = info.run_cnt;
  p.run_time_ns = info.run_time_ns;
}

// 16-byte v4-mapped form, as in struct pgw_tuple.
void tuple_addr(const sockaddr_storage& ss, __u8 out[16], __u16* port) {
  std::memset(out, 0, 16);
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out + 12, &in.sin_addr, 4);
    *port = ntohs(in.sin_port);
  } else {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    std::memcpy(out, &in6.sin6_addr, 16);
    *port = ntohs(in6.sin6_port);
  }
}

std::optional<pgw_tuple> tuple_of_fd(int fd) {
  sockaddr_storage local{}, remote{};
  socklen_t len = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return std::nullopt;
  len = sizeof(remote);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &len) != 0) return std::nullopt;
  pgw_tuple t{};
  tuple_addr(local, t.local_addr, &t.local_port);
  tuple_addr(remote, t.remote_addr, &t.remote_port);
  return t;
}

}  // namespace

sockaddr_storage ConnectionRecord::destination() const {
  if (original_dst.ss_family != AF_INET6) return original_dst;
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(original_dst);
  if (!IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) return original_dst;
  sockaddr_storage out{};
  auto& in = reinterpret_cast<sockaddr_in&>(out);
  in.sin_family = AF_INET;
  in.sin_port = in6.sin6_port;
  std::memcpy(&in.sin_addr, in6.sin6_addr.s6_addr + 12, 4);
  return out;
}

// ---- Impl ---------------------------------------------------------------------

struct Interceptor::Impl {
  pgw_bpf* skel = nullptr;
  bool took_over = false;
  bool detached = false;
  bool unix_on = false;           // the unix programs are loaded and attached
  std::string unix_state = "off";  // for status()
  // Held links, by pin name; each also pinned as pin_dir/<pin name>.
  std::vector<std::pair<LinkSpec, bpf_link*>> links;

  int map_fd(bpf_map* m) const { return bpf_map__fd(m); }

  ~Impl() {
    for (auto& [spec, link] : links) bpf_link__destroy(link);  // closes the fd; the pin keeps it
    links.clear();
    if (skel) pgw_bpf__destroy(skel);
  }
};

Interceptor::Interceptor(InterceptSettings settings)
    : settings_(std::move(settings)), impl_(std::make_unique<Impl>()) {}

Interceptor::~Interceptor() = default;

namespace {

Status validate(const InterceptSettings& s) {
  if (s.ports.empty()) return make_error("intercept.ports is empty: nothing to intercept");
  if (std::find(s.ports.begin(), s.ports.end(), 0) != s.ports.end()) {
    return make_error("intercept.ports must not contain port 0");
  }
  if (s.ports.size() > PGW_MAX_PORTS) {
    return make_error("intercept.ports has more than " + std::to_string(PGW_MAX_PORTS) + " ports");
  }
  if (s.listen4.sin_family != AF_INET || s.listen4.sin_addr.s_addr == htonl(INADDR_ANY) ||
      s.listen4.sin_port == 0) {
    return make_error("the listen address must be a concrete IPv4 address and port");
  }
  if (s.listen6 && (s.listen6->sin6_family != AF_INET6 || s.listen6->sin6_port == 0 ||
                    IN6_IS_ADDR_UNSPECIFIED(&s.listen6->sin6_addr))) {
    return make_error("the IPv6 listen address must be a concrete IPv6 address and port");
  }
  if (s.heartbeat_timeout.count() <= 0) return make_error("heartbeat_timeout must be positive");
  if (s.unix_paths.size() > PGW_MAX_UNIX_PATHS) {
    return make_error("intercept.unix_paths has more than " + std::to_string(PGW_MAX_UNIX_PATHS) + " paths");
  }
  for (const auto& path : s.unix_paths) {
    if (path.empty() || path.front() != '/' || path.size() >= PGW_UNIX_PATH_LEN) {
      return make_error("intercept.unix_paths: " + path + " is not an absolute path shorter than " +
                        std::to_string(PGW_UNIX_PATH_LEN) + " bytes");
    }
  }
  if (!s.unix_paths.empty() && (s.unix_target.empty() || s.unix_target.size() >= PGW_UNIX_PATH_LEN)) {
    return make_error("the engine's unix socket for intercepted connects must be a path shorter than " +
                      std::to_string(PGW_UNIX_PATH_LEN) + " bytes");
  }
  return ok_status();
}

// The cgroup connect_unix / getpeername_unix hooks came with the kfunc that
// rewrites a unix address (Linux 6.7): the kernel's BTF naming the kfunc is
// the test.
bool kernel_has_unix_hooks() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) return false;
  const bool found = btf__find_by_name_kind(vmlinux, "bpf_sock_addr_set_sun_path", BTF_KIND_FUNC) >= 0;
  btf__free(vmlinux);
  return found;
}

// Attach types libbpf 1.1 has no names for (linux/bpf.h of 6.7).
constexpr auto kUnixConnect = static_cast<bpf_attach_type>(49);      // BPF_CGROUP_UNIX_CONNECT
constexpr auto kUnixGetpeername = static_cast<bpf_attach_type>(52);  // BPF_CGROUP_UNIX_GETPEERNAME

pgw_unix_path unix_path_key(const std::string& path) {
  pgw_unix_path key{};
  std::memcpy(key.path, path.data(), std::min(path.size(), sizeof(key.path)));
  return key;
}

pgw_unix_config unix_config_value(const InterceptSettings& s, bool on) {
  pgw_unix_config c{};
  if (!on) return c;
  c.target = unix_path_key(s.unix_target);
  c.target_len = static_cast<__u32>(s.unix_target.size());
  return c;
}

// Makes the unix paths map hold exactly `wanted` (none while off), adding
// before removing like sync_ports.
Status sync_unix_paths(int fd, const std::vector<std::string>& wanted) {
  const __u8 one = 1;
  std::set<std::string> keep;
  for (const auto& path : wanted) {
    const pgw_unix_path key = unix_path_key(path);
    if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) != 0) {
      return make_error("cannot add unix path " + path + ": " + errno_text(errno));
    }
    keep.insert(std::string(key.path, strnlen(key.path, sizeof(key.path))));
  }
  std::vector<pgw_unix_path> stale;
  pgw_unix_path key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (!keep.count(std::string(next.path, strnlen(next.path, sizeof(next.path))))) stale.push_back(next);
    key = next;
    prev = &key;
  }
  for (const auto& k : stale) bpf_map_delete_elem(fd, &k);
  return ok_status();
}

pgw_config config_value(const InterceptSettings& s) {
  pgw_config c{};
  c.listen4_addr = s.listen4.sin_addr.s_addr;
  c.engine_tgid = static_cast<__u32>(::getpid());
  c.listen4_port = s.listen4.sin_port;
  if (s.listen6) {
    c.has_listen6 = 1;
    std::memcpy(c.listen6_addr, &s.listen6->sin6_addr, 16);
    c.listen6_port = s.listen6->sin6_port;
  }
  c.fast_path = s.fast_path ? 1 : 0;
  return c;
}

pgw_state state_value(const InterceptSettings& s, uint64_t heartbeat_ns) {
  pgw_state st{};
  st.heartbeat_ns = heartbeat_ns;
  st.heartbeat_timeout_ns = static_cast<uint64_t>(s.heartbeat_timeout.count()) * 1'000'000ull;
  st.fail_mode = s.fail_closed ? PGW_FAIL_CLOSED : PGW_FAIL_OPEN;
  return st;
}

// Makes the ports map hold exactly `wanted`, without a moment where a port
// that stays wanted is missing.
Status sync_ports(int fd, const std::vector<uint16_t>& wanted) {
  const __u8 one = 1;
  for (uint16_t port : wanted) {
    const __u16 key = port;
    if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) != 0) {
      return make_error("cannot add port " + std::to_string(port) + ": " + errno_text(errno));
    }
  }
  std::vector<__u16> stale;
  __u16 key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (std::find(wanted.begin(), wanted.end(), next) == wanted.end()) stale.push_back(next);
    key = next;
    prev = &key;
  }
  for (__u16 port : stale) bpf_map_delete_elem(fd, &port);
  return ok_status();
}

// Attaches `spec` where it belongs, reusing a pinned link of a previous
// engine: same cgroup and hook -> swap the program in place (no gap);
// elsewhere -> attach the new link first, then drop the old one.
Result<bpf_link*> ensure_link(const std::string& pin_dir, const LinkSpec& spec, const Cgroup2& cg) {
  const std::string pin = pin_dir + "/" + spec.pin_name;
  auto cgroup_id = cg.id_of(spec.cgroup);
  if (!cgroup_id.ok()) return make_error(cgroup_id.error());
  const auto attach_type = bpf_program__expected_attach_type(spec.prog);

  bpf_link* old = nullptr;
  if (fs::exists(pin)) {
    old = bpf_link__open(pin.c_str());
    if (!old) return make_error("cannot open pinned link " + pin + ": " + errno_text(errno) + libbpf_said());
    auto info = link_info(bpf_link__fd(old));
    if (info.ok() && info->type == BPF_LINK_TYPE_CGROUP && info->cgroup.cgroup_id == *cgroup_id &&
        info->cgroup.attach_type == static_cast<__u32>(attach_type)) {
      if (const int err = bpf_link__update_program(old, spec.prog); err != 0) {
        bpf_link__destroy(old);
        return make_error("cannot update pinned link " + pin + ": " + errno_text(err) + libbpf_said());
      }
      return old;
    }
  }

  auto dir_fd = cg.open_dir(spec.cgroup);
  if (!dir_fd.ok()) {
    if (old) bpf_link__destroy(old);
    return make_error(dir_fd.error());
  }
  bpf_link* link = bpf_program__attach_cgroup(spec.prog, *dir_fd);
  const int attach_errno = errno;
  ::close(*dir_fd);
  if (!link) {
    if (old) bpf_link__destroy(old);
    return make_error("cannot attach " + std::string(bpf_program__name(spec.prog)) + " to cgroup " +
                      spec.cgroup + ": " + errno_text(attach_errno) + libbpf_said());
  }
  if (old) {
    ::unlink(pin.c_str());
    bpf_link_detach(bpf_link__fd(old));
    bpf_link__destroy(old);
  }
  if (const int err = bpf_link__pin(link, pin.c_str()); err != 0) {
    bpf_link__destroy(link);  // not pinned: closing detaches it
    return make_error("cannot pin link at " + pin + ": " + errno_text(err) + libbpf_said());
  }
  return link;
}

// Where the programs go, given the intercepted subtree and the engine's cgroup.
std::vector<LinkSpec> link_plan(pgw_bpf* skel, const std::string& scope, const std::string& engine, bool unix_on) {
  std::vector<LinkSpec> plan = {
      {"link_connect4", skel->progs.pgw_connect4, scope},
      {"link_connect6", skel->progs.pgw_connect6, scope},
      {"link_peername4", skel->progs.pgw_peername4, scope},
      {"link_peername6", skel->progs.pgw_peername6, scope},
  };
  if (unix_on) {
    plan.push_back({"link_connect_unix", skel->progs.pgw_connect_unix, scope});
    plan.push_back({"link_peername_unix", skel->progs.pgw_peername_unix, scope});
  }
  if (cgroup_contains(engine, scope)) {
    plan.push_back({"link_sockops", skel->progs.pgw_sockops, engine});
  } else {
    plan.push_back({"link_sockops", skel->progs.pgw_sockops, scope});
    if (!cgroup_contains(scope, engine)) {
      plan.push_back({"link_sockops_engine", skel->progs.pgw_sockops, engine});
    }
  }
  return plan;
}

std::string attach_type_name(bpf_attach_type type) {
  if (type == kUnixConnect) return "cgroup_unix_connect";
  if (type == kUnixGetpeername) return "cgroup_unix_getpeername";
  const char* name = libbpf_bpf_attach_type_str(type);
  return name ? name : std::to_string(static_cast<int>(type));
}

std::optional<uint64_t> count_entries(int fd, const bpf_map_info& info) {
  switch (info.type) {
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return info.max_entries;
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_SOCKHASH: {
      std::vector<unsigned char> key(info.key_size), next(info.key_size);
      const void* prev = nullptr;
      uint64_t n = 0;
      while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
        ++n;
        key.swap(next);
        prev = key.data();
      }
      return n;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

Result<std::unique_ptr<Interceptor>> Interceptor::attach(const InterceptSettings& settings_in) {
  install_libbpf_logger();
  clear_libbpf_log();
  if (auto st = validate(settings_in); !st.ok()) return make_error(st.error());

  InterceptSettings settings = settings_in;
  auto scope = normalize_cgroup_path(settings.cgroup);
  if (!scope.ok()) return make_error(scope.error());
  settings.cgroup = *scope;
  auto cg = Cgroup2::discover();
  if (!cg.ok()) return make_error(cg.error());
  if (auto id = cg->id_of(settings.cgroup); !id.ok()) return make_error(id.error());
  std::string engine_cgroup;
  if (settings.engine_cgroup) {
    auto e = normalize_cgroup_path(*settings.engine_cgroup);
    if (!e.ok()) return make_error(e.error());
    engine_cgroup = *e;
  } else {
    auto e = Cgroup2::cgroup_of_pid(::getpid());
    if (!e.ok()) return make_error(e.error());
    engine_cgroup = *e;
  }
  settings.engine_cgroup = engine_cgroup;

  settings.pin_dir = fs::path(settings.pin_dir).lexically_normal().string();
  while (settings.pin_dir.size() > 1 && settings.pin_dir.back() == '/') settings.pin_dir.pop_back();
  if (auto st = ensure_pin_dir(settings.pin_dir); !st.ok()) return make_error(st.error());

  std::unique_ptr<Interceptor> self(new Interceptor(settings));
  Impl& impl = *self->impl_;
  impl.took_over = fs::exists(settings.pin_dir + "/link_connect4");

  // Maps pinned by name under pin_dir are reused by libbpf at load: a
  // restarted engine continues with the same ports, records and SOCKHASH.
  bpf_object_open_opts opts{};
  opts.sz = sizeof(opts);
  opts.pin_root_path = settings.pin_dir.c_str();
  impl.skel = pgw_bpf__open_opts(&opts);
  if (!impl.skel) return make_error("cannot open the eBPF object: " + errno_text(errno) + libbpf_said());

  // The unix programs load only where the kernel has their hooks; elsewhere
  // the rest works and status() says unix sockets are not intercepted.
  if (!settings.unix_paths.empty()) {
    if (kernel_has_unix_hooks()) {
      impl.unix_on = true;
      impl.unix_state = "on";
    } else {
      impl.unix_state = "not intercepted: this kernel has no cgroup connect_unix hook (Linux 6.7 or newer has it)";
    }
  }
  if (impl.unix_on) {
    bpf_program__set_expected_attach_type(impl.skel->progs.pgw_connect_unix, kUnixConnect);
    bpf_program__set_expected_attach_type(impl.skel->progs.pgw_peername_unix, kUnixGetpeername);
  } else {
    bpf_program__set_autoload(impl.skel->progs.pgw_connect_unix, false);
    bpf_program__set_autoload(impl.skel->progs.pgw_peername_unix, false);
  }

  // A failed first attach leaves nothing behind; a failed takeover leaves the
  // previous engine's attachments in place (still redirecting, fail closed).
  auto fail = [&](const std::string& what) -> Result<std::unique_ptr<Interceptor>> {
    const std::string message = what + libbpf_said();
    if (!impl.took_over) (void)self->detach_and_unpin();
    return make_error(message);
  };

  if (const int err = pgw_bpf__load(impl.skel); err != 0) {
    return fail("cannot load the eBPF programs: " + errno_text(err));
  }

  const __u32 zero = 0;
  const pgw_config cfg = config_value(settings);
  if (bpf_map_update_elem(impl.map_fd(impl.skel->maps.pgw_config), &zero, &cfg, BPF_ANY) != 0) {
    return fail("cannot write pgw_config: " + errno_text(errno));
  }
  // Alive from the start: the engine is expected to be listening already.
  const pgw_state st = state_value(settings, monotonic_ns());
  if (bpf_map_update_elem(impl.map_fd(impl.skel->maps.pgw_state), &zero, &st, BPF_ANY) != 0) {
    return fail("cannot write pgw_state: " + errno_text(errno));
  }
  if (auto s = sync_ports(impl.map_fd(impl.skel->maps.pgw_ports), settings.ports); !s.ok()) {
    return fail(s.error());
  }
  const pgw_unix_config ucfg = unix_config_value(settings, impl.unix_on);
  if (bpf_map_update_elem(impl.map_fd(impl.skel->maps.pgw_unix_config), &zero, &ucfg, BPF_ANY) != 0) {
    return fail("cannot write pgw_unix_config: " + errno_text(errno));
  }
  if (auto s = sync_unix_paths(impl.map_fd(impl.skel->maps.pgw_unix_paths),
                               impl.unix_on ? settings.unix_paths : std::vector<std::string>{});
      !s.ok()) {
    return fail(s.error());
  }

  // sk_msg hangs off the SOCKHASH (not a link): attaching replaces the
  // previous engine's program atomically.
  if (bpf_prog_attach(bpf_program__fd(impl.skel->progs.pgw_sk_msg),
                      impl.map_fd(impl.skel->maps.pgw_sockhash), BPF_SK_MSG_VERDICT, 0) != 0) {
    return fail("cannot attach pgw_sk_msg to pgw_sockhash: " + errno_text(errno));
  }

  std::set<std::string> planned;
  for (const LinkSpec& spec : link_plan(impl.skel, settings.cgroup, engine_cgroup, impl.unix_on)) {
    auto link = ensure_link(settings.pin_dir, spec, *cg);
    if (!link.ok()) return fail(link.error());
    impl.links.emplace_back(spec, *link);
    planned.insert(spec.pin_name);
  }
  // A previous engine's link this plan has no place for (its sockops attach
  // point moved): drop it now that the new ones are in.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(settings.pin_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_pgw_link_pin(name) || planned.count(name)) continue;
    const int fd = bpf_obj_get(entry.path().c_str());
    if (fd >= 0) {
      bpf_link_detach(fd);
      ::close(fd);
    }
    ::unlink(entry.path().c_str());
  }

  self->heartbeat();
  clear_libbpf_log();
  return self;
}

std::optional<ConnectionRecord> Interceptor::record_for_accepted(int fd) const {
  if (impl_->detached) return std::nullopt;
  pgw_origin o{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.pgw_origin), &fd, &o) != 0) return std::nullopt;
  if (o.role != PGW_ROLE_ACCEPTED) return std::nullopt;
  ConnectionRecord r;
  if (o.family == AF_INET) {
    auto& in = reinterpret_cast<sockaddr_in&>(r.original_dst);
    in.sin_family = AF_INET;
    in.sin_port = o.dst_port;
    std::memcpy(&in.sin_addr, o.dst_addr, 4);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(r.original_dst);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = o.dst_port;
    std::memcpy(&in6.sin6_addr, o.dst_addr, 16);
  }
  r.cgroup_id = o.cgroup_id;
  r.pid = o.tgid;
  r.uid = o.uid;
  r.gid = o.gid;
  r.comm.assign(o.comm, strnlen(o.comm, sizeof(o.comm)));
  r.fast_path = (o.flags & PGW_F_IN_SOCKHASH) != 0;
  return r;
}

std::optional<UnixConnectionRecord> Interceptor::record_for_accepted_unix(int fd) const {
  if (impl_->detached || !impl_->unix_on) return std::nullopt;
  auto peer = unix_peer_inode(fd);
  if (!peer.ok()) return std::nullopt;
  const __u64 key = *peer;
  pgw_unix_origin o{};
  const int pending = bpf_map__fd(impl_->skel->maps.pgw_unix_pend);
  // Left in the map: the client's getpeername() reads it for as long as the
  // connection lives (the map is an LRU).
  if (bpf_map_lookup_elem(pending, &key, &o) != 0) return std::nullopt;
  if (o.role != PGW_ROLE_CLIENT) return std::nullopt;
  UnixConnectionRecord r;
  r.original_path.assign(o.original.path, strnlen(o.original.path, sizeof(o.original.path)));
  r.cgroup_id = o.cgroup_id;
  r.pid = o.tgid;
  r.uid = o.uid;
  r.gid = o.gid;
  r.comm.assign(o.comm, strnlen(o.comm, sizeof(o.comm)));
  return r;
}

bool Interceptor::intercepts_unix() const { return !impl_->detached && impl_->unix_on; }

std::optional<uint32_t> Interceptor::taken_over_by() const {
  if (impl_->detached) return std::nullopt;
  const __u32 zero = 0;
  pgw_config cfg{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.pgw_config), &zero, &cfg) != 0) return std::nullopt;
  if (cfg.engine_tgid == 0 || cfg.engine_tgid == static_cast<__u32>(::getpid())) return std::nullopt;
  return cfg.engine_tgid;
}

std::optional<FastPathState> Interceptor::fast_path_state(int accepted_fd) const {
  if (impl_->detached) return std::nullopt;
  pgw_origin o{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.pgw_origin), &accepted_fd, &o) != 0 ||
      o.role != PGW_ROLE_ACCEPTED) {
    return std::nullopt;
  }
  auto key = tuple_of_fd(accepted_fd);
  if (!key) return std::nullopt;
  const int sockhash = bpf_map__fd(impl_->skel->maps.pgw_sockhash);
  FastPathState state;
  uint64_t cookie = 0, own_cookie = 0;
  socklen_t len = sizeof(own_cookie);
  state.engine_end_in_sockhash = bpf_map_lookup_elem(sockhash, &*key, &cookie) == 0 &&
                                 ::getsockopt(accepted_fd, SOL_SOCKET, SO_COOKIE, &own_cookie, &len) == 0 &&
                                 cookie == own_cookie;
  pgw_tuple peer{};
  std::memcpy(peer.local_addr, key->remote_addr, 16);
  std::memcpy(peer.remote_addr, key->local_addr, 16);
  peer.local_port = key->remote_port;
  peer.remote_port = key->local_port;
  state.client_end_in_sockhash = bpf_map_lookup_elem(sockhash, &peer, &cookie) == 0;
  state.engine_to_client = o.tx_path == PGW_TX_FAST  ? TxPath::kFast
                           : o.tx_path == PGW_TX_TCP ? TxPath::kTcp
                                                     : TxPath::kUndecided;
  return state;
}

Status Interceptor::exclude_own_socket(int fd) {
  if (impl_->detached) return make_error("the interceptor is detached");
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) {
    return make_error(std::string("SO_COOKIE: ") + std::strerror(errno));
  }
  const __u8 one = 1;
  if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.pgw_own_socks), &cookie, &one, BPF_ANY) != 0) {
    return make_error(std::string("cannot register own socket: ") + std::strerror(errno));
  }
  return ok_status();
}

void Interceptor::forget_own_socket(int fd) {
  if (impl_->detached) return;
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return;
  bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.pgw_own_socks), &cookie);
}

void Interceptor::heartbeat() {
  if (impl_->detached) return;
  const __u32 zero = 0;
  const pgw_state st = state_value(settings_, monotonic_ns());
  bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.pgw_state), &zero, &st, BPF_ANY);
}

Status Interceptor::detach_and_unpin() {
  Impl& impl = *impl_;
  if (impl.detached) return ok_status();
  impl.detached = true;
  std::string problems;
  // Connect hooks first: no new redirect while the rest goes.
  for (auto& [spec, link] : impl.links) {
    if (bpf_link_detach(bpf_link__fd(link)) != 0 && errno != ENOLINK) {
      problems += "detach " + spec.pin_name + ": " + errno_text(errno) + "; ";
    }
    bpf_link__unpin(link);
    bpf_link__destroy(link);
  }
  impl.links.clear();
  if (impl.skel) {
    if (impl.skel->progs.pgw_sk_msg && bpf_program__fd(impl.skel->progs.pgw_sk_msg) >= 0) {
      bpf_prog_detach2(bpf_program__fd(impl.skel->progs.pgw_sk_msg),
                       bpf_map__fd(impl.skel->maps.pgw_sockhash), BPF_SK_MSG_VERDICT);
    }
    bpf_object__unpin_maps(impl.skel->obj, nullptr);
    pgw_bpf__destroy(impl.skel);
    impl.skel = nullptr;
  }
  if (auto st = remove_pinned(settings_.pin_dir); !st.ok()) problems += st.error();
  if (!problems.empty()) return make_error("detach incomplete: " + problems);
  return ok_status();
}

Status Interceptor::remove_pinned(const std::string& pin_dir) {
  std::error_code ec;
  if (!fs::exists(pin_dir, ec)) return ok_status();
  std::vector<fs::path> links, maps;
  for (const auto& entry : fs::directory_iterator(pin_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (is_pgw_link_pin(name)) links.push_back(entry.path());
    if (is_pgw_map_pin(name)) maps.push_back(entry.path());
  }
  if (ec) return make_error("cannot list " + pin_dir + ": " + ec.message());
  std::string problems;
  for (const auto& path : links) {
    const int fd = bpf_obj_get(path.c_str());
    if (fd >= 0) {
      if (bpf_link_detach(fd) != 0 && errno != ENOLINK) {
        problems += "detach " + path.string() + ": " + errno_text(errno) + "; ";
      }
      ::close(fd);
    }
    if (::unlink(path.c_str()) != 0) problems += "unlink " + path.string() + ": " + errno_text(errno) + "; ";
  }
  // The SOCKHASH drops its sk_msg program when its last pin and fd go.
  for (const auto& path : maps) {
    if (::unlink(path.c_str()) != 0) problems += "unlink " + path.string() + ": " + errno_text(errno) + "; ";
  }
  if (::rmdir(pin_dir.c_str()) != 0) problems += "rmdir " + pin_dir + ": " + errno_text(errno) + "; ";
  if (!problems.empty()) return make_error(problems);
  return ok_status();
}

std::optional<uint32_t> Interceptor::serving_engine(const std::string& pin_dir) {
  const int config_fd = bpf_obj_get((pin_dir + "/pgw_config").c_str());
  const int state_fd = bpf_obj_get((pin_dir + "/pgw_state").c_str());
  std::optional<uint32_t> serving;
  const __u32 zero = 0;
  pgw_config cfg{};
  pgw_state st{};
  if (config_fd >= 0 && state_fd >= 0 && bpf_map_lookup_elem(config_fd, &zero, &cfg) == 0 &&
      bpf_map_lookup_elem(state_fd, &zero, &st) == 0) {
    const uint64_t now = monotonic_ns();
    const bool fresh = st.heartbeat_ns != 0 && (now <= st.heartbeat_ns || now - st.heartbeat_ns <= st.heartbeat_timeout_ns);
    const bool other = cfg.engine_tgid != 0 && cfg.engine_tgid != static_cast<__u32>(::getpid());
    if (fresh && other && ::kill(static_cast<pid_t>(cfg.engine_tgid), 0) == 0) serving = cfg.engine_tgid;
  }
  if (config_fd >= 0) ::close(config_fd);
  if (state_fd >= 0) ::close(state_fd);
  return serving;
}

Result<InterceptorStatus> Interceptor::status() const {
  const Impl& impl = *impl_;
  if (impl.detached || !impl.skel) return make_error("the interceptor is detached");
  InterceptorStatus out;
  out.pin_dir = settings_.pin_dir;
  out.cgroup = settings_.cgroup;
  out.took_over = impl.took_over;
  out.fail_closed = settings_.fail_closed;
  out.fast_path = settings_.fast_path;
  out.unix_sockets = impl.unix_state;
  out.unix_paths = settings_.unix_paths;
  if (impl.unix_on) out.unix_target = settings_.unix_target;

  for (const auto& [spec, link] : impl.links) {
    ProgramStatus p;
    p.name = bpf_program__name(spec.prog);
    p.attach_type = attach_type_name(bpf_program__expected_attach_type(spec.prog));
    p.attach_point = spec.cgroup;
    p.pin = settings_.pin_dir + "/" + spec.pin_name;
    if (auto info = link_info(bpf_link__fd(link)); info.ok()) {
      p.link_id = info->id;
      p.prog_id = info->prog_id;
    }
    add_run_stats(bpf_program__fd(spec.prog), p);
    out.programs.push_back(std::move(p));
  }
  {
    ProgramStatus p;
    p.name = bpf_program__name(impl.skel->progs.pgw_sk_msg);
    p.attach_type = attach_type_name(BPF_SK_MSG_VERDICT);
    p.attach_point = bpf_map__name(impl.skel->maps.pgw_sockhash);
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(impl.skel->progs.pgw_sk_msg), &info, &len) == 0) {
      p.prog_id = info.id;
    }
    add_run_stats(bpf_program__fd(impl.skel->progs.pgw_sk_msg), p);
    out.programs.push_back(std::move(p));
  }

  bpf_map* m = nullptr;
  bpf_object__for_each_map(m, impl.skel->obj) {
    MapStatus ms;
    ms.name = bpf_map__name(m);
    if (const char* pin = bpf_map__pin_path(m)) ms.pin = pin;
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len) == 0) {
      ms.id = info.id;
      ms.max_entries = info.max_entries;
      if (const char* t = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(info.type))) ms.type = t;
      ms.entries = count_entries(bpf_map__fd(m), info);
    }
    out.maps.push_back(std::move(ms));
  }

  const __u32 zero = 0;
  pgw_state st{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl.skel->maps.pgw_state), &zero, &st) == 0) {
    const uint64_t now = monotonic_ns();
    const uint64_t age = now > st.heartbeat_ns ? now - st.heartbeat_ns : 0;
    out.heartbeat_age = std::chrono::milliseconds(age / 1'000'000);
    out.engine_alive = st.heartbeat_ns != 0 && age <= st.heartbeat_timeout_ns;
  }

  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus > 0) {
    std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpus));
    uint64_t totals[PGW_STAT_COUNT] = {};
    for (__u32 i = 0; i < PGW_STAT_COUNT; ++i) {
      if (bpf_map_lookup_elem(bpf_map__fd(impl.skel->maps.pgw_stats), &i, per_cpu.data()) != 0) continue;
      for (uint64_t v : per_cpu) totals[i] += v;
    }
    auto& c = out.counters;
    c.connect_redirected = totals[PGW_STAT_CONNECT_REDIRECTED];
    c.connect_refused = totals[PGW_STAT_CONNECT_REFUSED];
    c.connect_passed_open = totals[PGW_STAT_CONNECT_PASSED_OPEN];
    c.connect_own_socket = totals[PGW_STAT_CONNECT_OWN_SOCKET];
    c.accept_matched = totals[PGW_STAT_ACCEPT_MATCHED];
    c.sockhash_added = totals[PGW_STAT_SOCKHASH_ADDED];
    c.fast_bytes = totals[PGW_STAT_FAST_BYTES];
    c.tcp_bytes = totals[PGW_STAT_TCP_BYTES];
  }
  return out;
}

}  // namespace pgw::kernel
