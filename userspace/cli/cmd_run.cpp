// `pgwarden run --config FILE`: the foreground daemon.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <string>

#include "admin/admin_server.h"
#include "admin/status_report.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "engine/logging.h"
#include "policy/config.h"

namespace pgw::cli {

namespace {

int run_daemon(const std::string& config_path) {
  auto config = policy::load_config_file(config_path);
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  // Every session holds two descriptors: take the hard limit, not the soft
  // 1024 most systems start processes with.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  engine::init_logging();
  engine::apply_log_level(config->log_level);
  engine::block_engine_signals();

  engine::Engine engine(config_path, std::make_shared<const policy::Config>(std::move(config).value()));
  // The admin socket first: a second pgwarden with the same config fails
  // here, before it could touch the listeners or the eBPF pins.
  const admin::DaemonFacts facts{engine::worker_count_for(*engine.state().config()), config_path};
  admin::AdminServer admin_server(engine.state().config()->admin_socket, [&](const nlohmann::json& request) {
    return admin::handle_request(request, engine.state(), facts);
  });
  if (auto st = admin_server.start(); !st) {
    spdlog::error("{}", st.error());
    std::fprintf(stderr, "pgwarden: %s\n", st.error().c_str());
    return 1;
  }
  if (auto st = engine.start(); !st) {
    spdlog::error("{}", st.error());
    std::fprintf(stderr, "pgwarden: %s\n", st.error().c_str());
    return 1;
  }
  const int rc = engine.wait_for_signals();
  admin_server.stop();
  return rc;
}

}  // namespace

void add_run_command(CLI::App& app, Action& chosen) {
  auto config_path = std::make_shared<std::string>();
  CLI::App* run = app.add_subcommand("run", "run the engine in the foreground");
  run->add_option("-c,--config", *config_path,
                  "the config file (YAML): listeners, upstreams, identities, policies;\n"
                  "SIGHUP reloads it, SIGTERM or SIGINT drain the sessions and stop")
      ->required()
      ->type_name("FILE");
  run->callback([&chosen, config_path] { chosen = [config_path] { return run_daemon(*config_path); }; });
}

}  // namespace pgw::cli
