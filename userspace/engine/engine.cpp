#include "engine/engine.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

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

Engine::Engine(std::string config_path, std::shared_ptr<const policy::Config> config)
    : config_path_(std::move(config_path)), state_(std::move(config)) {}

Engine::~Engine() {
  workers_.clear();
  if (!unix_socket_path_.empty()) ::unlink(unix_socket_path_.c_str());
}

Status Engine::start() {
  auto config = state_.config();
  unsigned count = config->workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());

  int unix_fd = -1;
  if (!config->unix_socket.empty()) {
    auto fd = open_unix_listener(config->unix_socket);
    if (!fd) return make_error(fd.error());
    unix_fd = *fd;
    unix_socket_path_ = config->unix_socket;
  }
  for (unsigned i = 0; i < count; ++i) {
    std::vector<ListenSocket> listeners;
    auto tcp = open_tcp_listener(config->listen);
    if (!tcp) return make_error(tcp.error());
    listeners.push_back({*tcp, false});
    if (unix_fd >= 0) listeners.push_back({i == 0 ? unix_fd : ::dup(unix_fd), true});
    auto worker = std::make_unique<Worker>(state_, i, std::move(listeners));
    if (auto st = worker->start(); !st) return make_error("loop thread " + std::to_string(i) + ": " + st.error());
    workers_.push_back(std::move(worker));
  }
  spdlog::info("pgwarden serving: listen={} unix_socket={} workers={} upstreams={}", config->listen.to_string(),
               config->unix_socket.empty() ? "-" : config->unix_socket, count, config->upstreams.size());
  for (const auto& w : config->warnings) spdlog::warn("config: {}", w);
  warn_unenforced(*config);
  return ok_status();
}

// Policies are validated but this version does not enforce them yet; an
// operator must not believe a deny rule protects anything.
void Engine::warn_unenforced(const policy::Config& config) {
  if (!config.policies.empty()) {
    spdlog::warn("config: {} policies are validated but NOT enforced by this version: statements are not checked "
                 "and results are not masked",
                 config.policies.size());
  }
}

void Engine::reload() {
  auto loaded = policy::load_config_file(config_path_);
  if (!loaded) {
    spdlog::error("reload refused, keeping the running config: {}", loaded.error());
    return;
  }
  auto current = state_.config();
  if (!(loaded->listen == current->listen) || loaded->unix_socket != current->unix_socket ||
      loaded->workers != current->workers) {
    spdlog::warn("reload: listen, unix_socket and workers changes take effect only after a restart");
  }
  apply_log_level(loaded->log_level);
  for (const auto& w : loaded->warnings) spdlog::warn("config: {}", w);
  warn_unenforced(*loaded);
  state_.replace_config(std::make_shared<const policy::Config>(std::move(loaded).value()));
  spdlog::info("config reloaded from {}; new sessions use it", config_path_);
}

void Engine::stop() {
  const auto grace = state_.config()->shutdown_grace;
  spdlog::info("stopping: no new connections; sessions get {} ms to finish", grace.count());
  for (auto& w : workers_) w->begin_drain(grace);
  for (auto& w : workers_) w->join();
  spdlog::info("stopped");
}

int Engine::wait_for_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  for (;;) {
    timespec timeout{0, 200'000'000};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGHUP) {
      reload();
    } else if (sig == SIGTERM || sig == SIGINT) {
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
