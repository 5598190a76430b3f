#include "engine/engine.h"
#include "policy/identity.h"
#include "engine/recording_service.h"

#include <signal.h>
#include <sys/socket.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "approval/approval_store.h"
#include "common/instance_name.h"
#include "engine/catalog_store.h"
#include "engine/cgroup_resolver.h"
#include "engine/kubernetes_watch.h"
#include "policy/config_keys.h"
#include "engine/listeners.h"
#include "engine/logging.h"

namespace pgw::engine {

void block_engine_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that vanishes must cost an error code, never the process.
  signal(SIGPIPE, SIG_IGN);
}

unsigned worker_count_for(const policy::Config& config) {
  return config.workers != 0 ? config.workers : std::max(1u, std::thread::hardware_concurrency());
}

namespace {

// Where redirected unix connects go: beside the admin socket, named after
// this process, so the next engine of a handover binds its own beside it.
std::string intercept_socket_path(const policy::Config& config) {
  const std::string dir = std::filesystem::path(config.admin_socket).parent_path().string();
  return (dir.empty() ? std::string("/run/pgwarden") : dir) + "/pgwarden-intercept-" + std::to_string(::getpid()) +
         ".sock";
}

// tls.cert_file/key_file into a new context for the sessions that start
// from now on (none: clients are answered 'N'). Sessions already running
// keep the context they took. The config loader read the same files a
// moment ago; they are read again here because they may have changed since.
Status load_client_tls(const policy::Config& config, EngineState& state) {
  if (config.tls.cert_file.empty()) {
    state.client_tls().replace(nullptr);
    return ok_status();
  }
  auto ctx = pgwire::TlsContext::server({config.tls.cert_file, config.tls.key_file});
  if (!ctx) return make_error("tls: " + ctx.error());
  spdlog::info("client TLS: {} ({}), tls.client: {}", config.tls.cert_file, (*ctx)->subject(),
               policy::to_string(config.tls.client));
  state.client_tls().replace(std::move(ctx).value());
  return ok_status();
}

}  // namespace

Engine::Engine(std::string config_path, std::shared_ptr<const policy::Config> config)
    : config_path_(std::move(config_path)),
      state_(std::move(config)),
      approvals_(std::make_unique<approval::ApprovalQueue>(node_name())) {
  state_.set_approvals(approvals_.get());
}

Engine::~Engine() {
  // Every held client is answered while its loop thread still runs.
  approvals_->abort_all("pgwarden is shutting down");
  // The catalog loader and the cgroup resolver post to loop threads: they
  // stop first.
  if (catalogs_) catalogs_->stop();
  if (cgroups_) cgroups_->stop();
  // After a failed start the loop threads still run: end them.
  for (auto& w : workers_) w->begin_drain(std::chrono::milliseconds(0));
  workers_.clear();
  unlink_own_socket_file(unix_socket_path_, unix_socket_inode_);
  unlink_own_socket_file(intercept_socket_path_, intercept_socket_inode_);
}

Status Engine::start() {
  // Upstream CA files: a broken one stops the start, as a broken config does.
  auto upstream_tls = UpstreamTlsContexts::build(*state_.config());
  if (!upstream_tls) return make_error(upstream_tls.error());
  state_.replace_upstream_tls(std::move(upstream_tls).value());
  if (const auto& rec = state_.config()->recording; !rec.dir.empty()) {
    auto service = RecordingService::start(rec);
    if (!service) return make_error(service.error());
    recordings_ = std::move(service).value();
    state_.set_recordings(recordings_.get());
    spdlog::info("recording sessions to {}{}", rec.dir, rec.required ? " (required)" : "");
  }
  auto config = state_.config();
  if (auto st = load_client_tls(*config, state_); !st) return st;
  const unsigned count = worker_count_for(*config);
  if (config->wants_kubernetes()) {
    auto watch = KubernetesWatch::start(config->kubernetes);
    if (!watch) return make_error(watch.error());
    kubernetes_ = std::move(watch).value();
    state_.set_kubernetes(kubernetes_.get());
  }
  // approval.store: one queue for every node. A store this pgwarden cannot
  // use stops the start; one that does not answer yet is waited for.
  if (config->approval.store_dsn_file) {
    auto store = approval::SharedApprovalStore::open_file(*config->approval.store_dsn_file);
    if (!store) return make_error(store.error());
    approvals_->use_store(std::move(store).value());
  }
  catalogs_ = std::make_unique<CatalogStore>();
  state_.set_catalogs(catalogs_.get());
  // Without masking nothing needs view definitions or function bodies: the
  // catalog connection then takes no lock on any user relation.
  catalogs_->set_definitions_wanted([this](const std::string& upstream) {
    auto config = state_.config();
    for (const auto& p : config->policies) {
      if ((!p.upstream || *p.upstream == upstream) && !p.mask.empty()) return true;
    }
    return false;
  });
  // Mask models are built with each snapshot, on the catalog thread, before
  // sessions see it.
  catalogs_->set_on_loaded([this](const std::string& upstream, std::shared_ptr<const policy::Catalog> catalog) {
    auto [config, generation] = state_.config_and_generation();
    state_.mask_model_store().build(*config, generation, upstream, std::move(catalog));
  });

  // A previous engine still serving from the pins: this start is a
  // handover. Both listen on the same address until it lets go.
  const bool intercepting = config->intercept.enabled;
  std::optional<uint32_t> predecessor;
  if (intercepting) predecessor = kernel::Interceptor::serving_engine(config->intercept.bpffs);
  if (predecessor) spdlog::info("taking over from pgwarden pid {} (its pins in {})", *predecessor, config->intercept.bpffs);
  auto tcp = open_tcp_listener(config->listen, intercepting);
  if (!tcp) return make_error(tcp.error());
  const int tcp_fd = *tcp;
  listen_fds_.push_back(tcp_fd);
  int unix_fd = -1;
  if (!config->unix_socket.empty()) {
    auto fd = open_unix_listener(config->unix_socket, predecessor.has_value());
    if (!fd) return make_error(fd.error());
    unix_fd = *fd;
    unix_socket_path_ = config->unix_socket;
    unix_socket_inode_ = socket_file_inode(unix_socket_path_);
    listen_fds_.push_back(unix_fd);
  }
  int intercept_unix_fd = -1;
  if (intercepting && !config->intercept.unix_paths.empty()) {
    auto fd = open_unix_listener(intercept_socket_path(*config));
    if (!fd) return make_error(fd.error());
    intercept_unix_fd = *fd;
    intercept_socket_path_ = intercept_socket_path(*config);
    intercept_socket_inode_ = socket_file_inode(intercept_socket_path_);
    listen_fds_.push_back(intercept_unix_fd);
  }
  // The listeners are open, so redirected connects queue in their backlog;
  // attach before any loop thread accepts, so that no redirected connection
  // is ever taken for an explicit one.
  if (config->intercept.enabled) {
    if (auto st = attach_interceptor(*config); !st) return st;
  }
  for (unsigned i = 0; i < count; ++i) {
    std::vector<ListenSocket> listeners;
    listeners.push_back({i == 0 ? tcp_fd : ::dup(tcp_fd), Transport::kTcp});
    if (unix_fd >= 0) listeners.push_back({i == 0 ? unix_fd : ::dup(unix_fd), Transport::kUnix});
    if (intercept_unix_fd >= 0) {
      listeners.push_back({i == 0 ? intercept_unix_fd : ::dup(intercept_unix_fd), Transport::kUnixIntercepted});
    }
    auto worker = std::make_unique<Worker>(state_, i, std::move(listeners));
    if (auto st = worker->start(); !st) {
      detach_after_failed_start();
      return make_error("loop thread " + std::to_string(i) + ": " + st.error());
    }
    workers_.push_back(std::move(worker));
  }
  spdlog::info("pgwarden serving: listen={} unix_socket={} workers={} upstreams={}", config->listen.to_string(),
               config->unix_socket.empty() ? "-" : config->unix_socket, count, config->upstreams.size());
  for (const auto& w : config->warnings) spdlog::warn("config: {}", w);
  return ok_status();
}

Status Engine::attach_interceptor(const policy::Config& config) {
  if (!config.listen.is_ipv4()) {
    return make_error("intercept: listen must be an IPv4 address when interception is on (it is where "
                      "redirected connects go), got " + config.listen.to_string());
  }
  kernel::InterceptSettings settings;
  settings.cgroup = config.intercept.cgroup;
  settings.ports = config.intercept.ports;
  sockaddr_storage listen{};
  config.listen.to_sockaddr(listen);
  settings.listen4 = *reinterpret_cast<const sockaddr_in*>(&listen);
  settings.fail_closed = config.intercept.fail == policy::FailMode::closed;
  settings.heartbeat_timeout = config.intercept.heartbeat_timeout;
  settings.fast_path = config.intercept.fast_path;
  settings.pin_dir = config.intercept.bpffs;
  // Every spelling of each path: a client writing /run/... for a configured
  // /var/run/... must not reach the socket around pgwarden.
  for (const std::string& path : config.intercept.unix_paths) {
    for (std::string& p : policy::unix_path_spellings(path)) {
      if (std::find(settings.unix_paths.begin(), settings.unix_paths.end(), p) == settings.unix_paths.end()) {
        settings.unix_paths.push_back(std::move(p));
      }
    }
  }
  settings.unix_target = intercept_socket_path_;
  auto cgroup2 = kernel::Cgroup2::discover();
  if (!cgroup2.ok()) return make_error("intercept: " + cgroup2.error());
  cgroups_ = std::make_unique<CgroupResolver>(*cgroup2);
  state_.set_cgroups(cgroups_.get());
  auto attached = kernel::Interceptor::attach(settings);
  if (!attached) return make_error("intercept: " + attached.error());
  interceptor_ = std::move(attached).value();
  interceptor_->heartbeat();
  state_.set_interceptor(interceptor_.get());
  spdlog::info("intercepting connects to ports {} from cgroup {} (fail {}, fast path {}), pinned under {}",
               fmt::join(config.intercept.ports, ","), config.intercept.cgroup,
               policy::to_string(config.intercept.fail), config.intercept.fast_path ? "on" : "off",
               config.intercept.bpffs);
  if (!config.intercept.unix_paths.empty()) {
    if (interceptor_->intercepts_unix()) {
      spdlog::info("intercepting unix connects to {} (to {})", fmt::join(config.intercept.unix_paths, ", "),
                   intercept_socket_path_);
    } else {
      spdlog::warn("intercept.unix_paths: unix sockets are not intercepted: this kernel has no cgroup "
                   "connect_unix hook (Linux 6.7 or newer has it)");
    }
  }
  return ok_status();
}

// Programs this engine attached itself go again when it cannot serve; pins
// taken over from a crashed engine stay, so the redirect keeps failing
// closed until an engine that works takes them over.
void Engine::detach_after_failed_start() {
  if (!interceptor_) return;
  auto st = interceptor_->status();
  state_.set_interceptor(nullptr);
  if (st && !st->took_over) {
    if (auto d = interceptor_->detach_and_unpin(); !d) spdlog::error("intercept: detaching failed: {}", d.error());
  }
  interceptor_.reset();
}

void Engine::reload() {
  auto loaded = policy::load_config_file(config_path_);
  if (!loaded) {
    spdlog::error("reload refused, keeping the running config: {}", loaded.error());
    state_.note_reload(false, loaded.error());
    return;
  }
  // The upstreams' CA files are read again: a new ca_file (or a renewed
  // CA in the same file) is in force for new sessions.
  auto upstream_tls = UpstreamTlsContexts::build(*loaded);
  if (!upstream_tls) {
    spdlog::error("reload refused, keeping the running config: {}", upstream_tls.error());
    return;
  }
  auto current = state_.config();
  if (auto restart = policy::restart_only_changes(*current, *loaded); !restart.empty()) {
    spdlog::warn("reload: changes of {} take effect only after a restart", fmt::join(restart, ", "));
  }
  if (loaded->wants_kubernetes() && !kubernetes_) {
    spdlog::warn("reload: k8s selectors need the Kubernetes resolver, which starts with pgwarden: until a restart, "
                 "pods are not resolved and no k8s selector matches");
  }
  // A certificate that no longer loads keeps the running one (and config).
  if (auto st = load_client_tls(*loaded, state_); !st) {
    spdlog::error("reload refused, keeping the running config and certificate: {}", st.error());
    return;
  }
  apply_log_level(loaded->log_level);
  for (const auto& w : loaded->warnings) spdlog::warn("config: {}", w);
  auto config = std::make_shared<const policy::Config>(std::move(loaded).value());
  // The new policies' mask models, for every snapshot sessions use now,
  // before any session sees the new config (reloads run on this thread
  // only, so the next generation is known).
  const uint64_t generation = state_.config_generation() + 1;
  if (catalogs_) {
    catalogs_->for_each_current([&](const std::string& upstream, std::shared_ptr<const policy::Catalog> catalog) {
      state_.mask_model_store().build(*config, generation, upstream, std::move(catalog));
    });
  }
  state_.replace_upstream_tls(std::move(upstream_tls).value());
  state_.replace_config(std::move(config));
  // The previous generation stays for sessions between two statements.
  state_.mask_model_store().forget_before(generation - 1);
  // Whether snapshots need view definitions may have changed with masking.
  if (catalogs_) catalogs_->refresh_all();
  state_.note_reload(true, "");
  spdlog::info("config reloaded from {}; new sessions use it", config_path_);
}

void Engine::stop() {
  const auto grace = state_.config()->shutdown_grace;
  spdlog::info("stopping: no new connections; sessions get {} ms to finish", grace.count());
  // Nothing held runs: each waiting client is told and its session ends.
  approvals_->abort_all("pgwarden is shutting down");
  for (auto& w : workers_) w->begin_drain(grace);
  for (auto& w : workers_) w->join();
  if (catalogs_) catalogs_->stop();
  if (cgroups_) cgroups_->stop();
  if (kubernetes_) kubernetes_->stop();
  if (interceptor_ && handed_over_) {
    // The programs, links and maps are the successor's now.
    state_.set_interceptor(nullptr);
    interceptor_.reset();
    spdlog::info("intercept: handed over, pins left to the successor");
  } else if (interceptor_) {
    // Only now: bytes still queued on the sockmap fast path would be lost
    // if the programs went away under a live session.
    state_.set_interceptor(nullptr);
    if (auto st = interceptor_->detach_and_unpin(); !st) {
      spdlog::error("intercept: detaching failed: {}", st.error());
    } else {
      spdlog::info("intercept: programs detached, pins removed");
    }
    interceptor_.reset();
  }
  spdlog::info("stopped");
}

// Why each step: the successor's attach() already sent new redirected
// connects (and the unix_paths redirect) its way, and its heartbeat keeps
// fail-closed from blinking, so this engine stops heartbeating at once (a
// successor that dies must not look alive). Connects the hooks sent here a
// moment ago are still on their way to this engine's sockets: they get a
// second. Shutting the TCP listener down takes it out of the SO_REUSEPORT
// group and, with net.ipv4.tcp_migrate_req, moves the connections queued on
// it to the successor's listener instead of resetting them. The unix
// listeners refuse new connects from then on and what they queued is
// accepted before the drain.
void Engine::hand_over(uint32_t successor) {
  handed_over_ = true;
  spdlog::info("pgwarden pid {} took over the pins: handing over", successor);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  {
    std::ofstream migrate("/proc/sys/net/ipv4/tcp_migrate_req");
    if (!(migrate << "1\n")) spdlog::warn("handover: cannot set net.ipv4.tcp_migrate_req; queued connections may be reset");
  }
  for (int fd : listen_fds_) ::shutdown(fd, SHUT_RDWR);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop();
}

int Engine::wait_for_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  for (;;) {
    timespec timeout{0, 200'000'000};
    if (interceptor_) {
      if (auto successor = interceptor_->taken_over_by()) {
        hand_over(*successor);
        return 0;
      }
      interceptor_->heartbeat();
    }
    siginfo_t info{};
    int sig = sigtimedwait(&set, &info, &timeout);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP from pid {}: reloading {}", info.si_pid, config_path_);
      reload();
    } else if (sig == SIGTERM || sig == SIGINT) {
      // Who asked is worth a line when a stop comes as a surprise.
      spdlog::info("{} from pid {}", sig == SIGTERM ? "SIGTERM" : "SIGINT", info.si_pid);
      stop();
      return 0;
    } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      spdlog::error("sigtimedwait: {}", strerror(errno));
      stop();
      return 1;
    }
  }
}

}  // namespace pgw::engine
