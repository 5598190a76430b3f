// `pgwarden run --config FILE`: the foreground daemon.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/admin_api.h"
#include "admin/console_tokens.h"
#include "admin/http_server.h"
#include "approval/approval_webhooks.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "kernel/interceptor.h"
#include "engine/logging.h"
#include "kernel/capabilities.h"
#include "policy/config.h"

namespace pgw::cli {

namespace {

// admin_socket_group: the approvers' group may use the admin socket too.
Status share_admin_socket(const policy::Config& config) {
  if (config.admin_socket_group.empty()) return ok_status();
  group gr{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  if (getgrnam_r(config.admin_socket_group.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return make_error("admin_socket_group: no group named \"" + config.admin_socket_group + "\"");
  }
  if (::chown(config.admin_socket.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0 ||
      ::chmod(config.admin_socket.c_str(), 0660) != 0) {
    return make_error("admin_socket_group: cannot give " + config.admin_socket + " to group " +
                      config.admin_socket_group + ": " + std::strerror(errno));
  }
  return ok_status();
}

nlohmann::json webhook_status(const approval::ApprovalWebhooks& webhooks) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& h : webhooks.health()) {
    nlohmann::json j = {{"url", h.url},
                        {"queued", h.queued},
                        {"delivered", h.delivered},
                        {"failed_attempts", h.failed_attempts},
                        {"dropped", h.dropped()},
                        {"last_error", h.last_error}};
    if (h.last_success) {
      j["last_success_age_s"] =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *h.last_success).count();
    }
    list.push_back(std::move(j));
  }
  return list;
}

void webhook_metrics(const approval::ApprovalWebhooks& webhooks, admin::PrometheusText& out) {
  const auto health = webhooks.health();
  out.family("pgwarden_webhook_deliveries_total", admin::MetricType::counter,
             "Approval webhook payloads delivered (2xx), by redacted URL.");
  for (const auto& h : health) out.sample({{"url", h.url}}, static_cast<double>(h.delivered));
  out.family("pgwarden_webhook_failed_attempts_total", admin::MetricType::counter,
             "Approval webhook attempts that failed (to be retried), by redacted URL.");
  for (const auto& h : health) out.sample({{"url", h.url}}, static_cast<double>(h.failed_attempts));
  out.family("pgwarden_webhook_queued", admin::MetricType::gauge,
             "Approval webhook payloads waiting for delivery, by redacted URL.");
  for (const auto& h : health) out.sample({{"url", h.url}}, static_cast<double>(h.queued));
}

int run_daemon(const std::string& config_path, bool stay_after_handover) {
  auto config = policy::load_config_file(config_path);
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  // Before anything is opened or loaded: a container or unit granting too
  // few capabilities gets one line naming the missing one, not a libbpf EPERM.
  if (config->intercept.enabled) {
    if (auto st = kernel::check_intercept_capabilities(); !st) {
      std::fprintf(stderr, "pgwarden: %s\n", st.error().c_str());
      return 1;
    }
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
  const auto settings = engine.state().config();
  admin::ConsoleTokens tokens(std::filesystem::path(settings->state_dir) / "console");
  approval::ApprovalWebhooks webhooks(*engine.state().approvals());
  admin::AdminContext context{engine.state(),
                              admin::DaemonFacts{engine::worker_count_for(*settings), config_path},
                              tokens,
                              [&webhooks] { return webhook_status(webhooks); },
                              [&webhooks](admin::PrometheusText& out) { webhook_metrics(webhooks, out); }};
  // The admin socket first: a second pgwarden with the same config fails
  // here, before it could touch the listeners or the eBPF pins, unless the
  // first one serves from the pins (a handover: this one takes its place,
  // the admin socket included; see docs/operations.md).
  admin::HttpServerOptions admin_options;
  admin_options.replace_live =
      settings->intercept.enabled && kernel::Interceptor::serving_engine(settings->intercept.bpffs).has_value();
  admin::HttpServer admin_http(admin::HttpListen::unix_socket(settings->admin_socket), admin_options);
  admin::add_admin_routes(admin_http, context);
  std::optional<admin::HttpServer> console_http, metrics_http;
  if (settings->console_listen) {
    admin::HttpServerOptions options;
    options.default_headers = admin::console_headers();
    console_http.emplace(admin::HttpListen::tcp_address(*settings->console_listen), options);
    admin::add_console_routes(*console_http, context);
  }
  if (settings->metrics_listen) {
    metrics_http.emplace(admin::HttpListen::tcp_address(*settings->metrics_listen));
    admin::add_metrics_routes(*metrics_http, context);
  }
  auto failed = [](const std::string& why) {
    spdlog::error("{}", why);
    std::fprintf(stderr, "pgwarden: %s\n", why.c_str());
    return 1;
  };
  if (auto st = admin_http.start(); !st) return failed(st.error());
  if (auto st = share_admin_socket(*settings); !st) return failed(st.error());
  for (auto* http : {console_http ? &*console_http : nullptr, metrics_http ? &*metrics_http : nullptr}) {
    if (http == nullptr) continue;
    if (auto st = http->start(); !st) return failed(st.error());
    spdlog::info("serving {} over HTTP", http->listen().to_string());
  }
  if (auto st = engine.start(); !st) return failed(st.error());
  const int rc = engine.wait_for_signals();
  if (console_http) console_http->stop();
  if (metrics_http) metrics_http->stop();
  admin_http.stop();
  if (stay_after_handover && engine.handed_over()) {
    // Under a supervisor that restarts what exits (a DaemonSet's pod), an
    // exit would start an engine that takes the pins back from the successor.
    spdlog::info("handed over; idle until SIGTERM (--stay-after-handover)");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
  }
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
  auto stay = std::make_shared<bool>(false);
  run->add_flag("--stay-after-handover", *stay,
                "after a new engine took over (an upgrade), stay idle until SIGTERM instead of exiting,\n"
                "so a supervisor that restarts exited processes does not take the pins back");
  run->callback([&chosen, config_path, stay] {
    chosen = [config_path, stay] { return run_daemon(*config_path, *stay); };
  });
}

}  // namespace pgw::cli
