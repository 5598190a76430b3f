// `pgwarden status` and `pgwarden sessions list`: what the daemon is doing,
// read over its admin socket. Plain text by default, like bpftool; -j for
// JSON, -p for indented JSON.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/admin_client.h"
#include "cli/commands.h"
#include "policy/config.h"

namespace pgw::cli {

namespace {

std::string format_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

void print_sessions_text(const nlohmann::json& list) {
  if (list.empty()) {
    std::printf("  (none)\n");
    return;
  }
  for (const auto& s : list) {
    std::printf("  %s: identity %s  upstream %s  user %s  database %s  age %llds\n",
                s.value("id", "").c_str(), s.value("identity", "").c_str(),
                s.value("upstream", "").c_str(), s.value("user", "").c_str(), s.value("database", "").c_str(),
                static_cast<long long>(s.value("age_s", 0ll)));
    std::printf("\tworkload %s  from client %s  to client %s\n", s.value("workload", "").c_str(),
                format_bytes(s.value("bytes_from_client", 0ull)).c_str(),
                format_bytes(s.value("bytes_to_client", 0ull)).c_str());
  }
}

unsigned long long count(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<unsigned long long>() : 0ull;
}

// The approval queue's counters and each approval webhook's delivery state.
void print_approvals_text(const nlohmann::json& a, const nlohmann::json& webhooks) {
  std::printf("approvals: %llu pending  %llu requested  %llu approved  %llu denied  %llu timed out  %llu withdrawn  "
              "%llu aborted  %llu standing grant uses\n",
              count(a, "pending"), count(a, "requested"), count(a, "approved"), count(a, "denied"),
              count(a, "timed_out"), count(a, "withdrawn"), count(a, "aborted"), count(a, "standing_grant_uses"));
  if (!webhooks.is_array() || webhooks.empty()) {
    std::printf("webhooks: (none used yet)\n");
    return;
  }
  std::printf("webhooks:\n");
  for (const auto& h : webhooks) {
    std::printf("  %s: %llu delivered  %llu queued  %llu failed attempts  %llu dropped", h.value("url", "").c_str(),
                count(h, "delivered"), count(h, "queued"), count(h, "failed_attempts"), count(h, "dropped"));
    if (h.contains("last_success_age_s") && h["last_success_age_s"].is_number()) {
      std::printf("  last delivery %llds ago", h["last_success_age_s"].get<long long>());
    }
    if (const std::string e = h.value("last_error", ""); !e.empty()) std::printf("  last error: %s", e.c_str());
    std::printf("\n");
  }
}

void print_recording_text(const nlohmann::json& rec) {
  if (!rec.value("enabled", false)) {
    std::printf("recording: off\n");
    return;
  }
  const std::string error = rec.value("last_error", "");
  std::printf("recording: %s%s  %llu sessions  %llu open  %llu records  %llu failures%s%s\n",
              rec.value("dir", "").c_str(), rec.value("required", false) ? " (required)" : "",
              static_cast<unsigned long long>(rec.value("sessions", 0ull)),
              static_cast<unsigned long long>(rec.value("open", 0ull)),
              static_cast<unsigned long long>(rec.value("records", 0ull)),
              static_cast<unsigned long long>(rec.value("failures", 0ull)),
              error.empty() ? "" : ("  last error: " + error).c_str(),
              rec.value("refusing", false) ? "  REFUSING new sessions" : "");
  const nlohmann::json ret = rec.value("retention", nlohmann::json::object());
  if (count(ret, "max_bytes") != 0 || count(ret, "max_age_s") != 0) {
    std::printf("  retention: max_bytes %s  max_age %llds  recordings take %s  removed %llu files (%s)\n",
                count(ret, "max_bytes") != 0 ? format_bytes(count(ret, "max_bytes")).c_str() : "-",
                static_cast<long long>(ret.value("max_age_s", 0ll)), format_bytes(count(ret, "dir_bytes")).c_str(),
                count(ret, "removed_files"), format_bytes(count(ret, "removed_bytes")).c_str());
  }
  if (rec.contains("index")) {
    const auto& i = rec["index"];
    const std::string error = i.value("last_error", "");
    std::printf("  session index: %s  %llu rows written  %llu queued  %llu dropped  %llu failures%s\n",
                i.value("up", false) ? "up" : "DOWN", count(i, "written"), count(i, "queued"), count(i, "dropped"),
                count(i, "failures"), error.empty() ? "" : ("  last error: " + error).c_str());
  }
}

// Shown only when pods are resolved through the API server.
void print_kubernetes_text(const nlohmann::json& k) {
  if (!k.value("enabled", false)) return;
  const std::string error = k.value("last_error", "");
  std::printf("kubernetes: %s  node %s  %s  %llu pods  %llu lists  %llu events  %llu errors%s\n",
              k.value("api_server", "").c_str(), k.value("node", "").c_str(),
              k.value("connected", false) ? "connected" : "NOT CONNECTED",
              static_cast<unsigned long long>(k.value("pods", 0ull)),
              static_cast<unsigned long long>(k.value("lists", 0ull)),
              static_cast<unsigned long long>(k.value("events", 0ull)),
              static_cast<unsigned long long>(k.value("errors", 0ull)),
              error.empty() ? "" : ("  last error: " + error).c_str());
}

void print_status_text(const nlohmann::json& st) {
  const auto& d = st["daemon"];
  std::printf("daemon: pid %d  uptime %llds  workers %u  config %s\n", d.value("pid", 0),
              static_cast<long long>(d.value("uptime_s", 0ll)), d.value("workers", 0u),
              d.value("config", "").c_str());
  if (const std::string hash = d.value("policy_hash", ""); !hash.empty()) {
    std::printf("policy: %s  generation %llu\n", hash.c_str(),
                static_cast<unsigned long long>(d.value("config_generation", 0ull)));
  }
  if (const auto r = d.value("last_reload", nlohmann::json()); r.is_object() && !r.value("ok", true)) {
    // A refused SIGHUP: the daemon runs the previous config, and says why.
    std::printf("reload: FAILED, running the previous config: %s\n", r.value("error", "").c_str());
  }
  const auto& l = st["listeners"];
  std::printf("listen: %s  unix_socket %s  admin_socket %s\n", l.value("listen", "").c_str(),
              l.value("unix_socket", "").c_str(), l.value("admin_socket", "").c_str());
  const nlohmann::json icpt = st.value("intercept", nlohmann::json::object());
  if (!icpt.value("enabled", false)) {
    std::printf("intercept: off (explicit mode only)\n");
  } else if (icpt.contains("error")) {
    std::printf("intercept: on, status unavailable: %s\n", icpt.value("error", "").c_str());
  } else {
    std::printf("intercept: cgroup %s  fail %s  fast_path %s  engine %s (heartbeat %lldms ago)  pins %s\n",
                icpt.value("cgroup", "").c_str(), icpt.value("fail", "").c_str(),
                icpt.value("fast_path", false) ? "on" : "off", icpt.value("engine_alive", false) ? "alive" : "STALE",
                static_cast<long long>(icpt.value("heartbeat_age_ms", 0ll)), icpt.value("pin_dir", "").c_str());
    if (const auto paths = icpt.value("unix_paths", nlohmann::json::array()); !paths.empty()) {
      std::string listed;
      for (const auto& path : paths) listed += (listed.empty() ? "" : ", ") + path.get<std::string>();
      std::printf("  unix sockets: %s  (%s)", icpt.value("unix_sockets", "").c_str(), listed.c_str());
      if (const auto target = icpt.value("unix_target", ""); !target.empty()) std::printf("  -> %s", target.c_str());
      std::printf("\n");
    }
    for (const auto& p : icpt["programs"]) {
      std::printf("  prog %u: %s  %s  %s", p.value("id", 0u), p.value("name", "").c_str(),
                  p.value("attach_type", "").c_str(), p.value("attach_point", "").c_str());
      if (p.value("link_id", 0u) != 0) std::printf("  link %u", p.value("link_id", 0u));
      // As bpftool prints them, while kernel.bpf_stats_enabled is on.
      if (p.contains("run_cnt")) {
        std::printf("  run_time_ns %llu  run_cnt %llu",
                    static_cast<unsigned long long>(p.value("run_time_ns", 0ull)),
                    static_cast<unsigned long long>(p.value("run_cnt", 0ull)));
      }
      std::printf("\n");
    }
    for (const auto& m : icpt["maps"]) {
      std::printf("  map %u: %s  %s  max_entries %u", m.value("id", 0u), m.value("name", "").c_str(),
                  m.value("type", "").c_str(), m.value("max_entries", 0u));
      if (m.contains("entries")) std::printf("  entries %llu", static_cast<unsigned long long>(m.value("entries", 0ull)));
      std::printf("\n");
    }
    const auto& c = icpt["counters"];
    std::printf("  connects: %llu redirected, %llu refused (engine down), %llu passed (fail open), %llu own\n",
                static_cast<unsigned long long>(c.value("connect_redirected", 0ull)),
                static_cast<unsigned long long>(c.value("connect_refused", 0ull)),
                static_cast<unsigned long long>(c.value("connect_passed_open", 0ull)),
                static_cast<unsigned long long>(c.value("connect_own_socket", 0ull)));
    std::printf("  fast path: %s moved by sk_msg, %s over TCP\n", format_bytes(c.value("fast_bytes", 0ull)).c_str(),
                format_bytes(c.value("tcp_bytes", 0ull)).c_str());
  }
  std::printf("upstreams:\n");
  for (const auto& u : st["upstreams"]) {
    std::string match;
    for (const auto& m : u["match"]) match += (match.empty() ? "" : ", ") + m.get<std::string>();
    std::printf("  %s: %s  user %s  tls %s  password %s  match [%s]\n", u.value("name", "").c_str(),
                u.value("address", "").c_str(), u.value("user", "").c_str(), u.value("tls", "").c_str(),
                u.value("password", "").c_str(), match.c_str());
  }
  const auto& s = st["sessions"];
  std::printf("sessions: %llu open, %llu since start; TLS: %llu open, %llu since start\n",
              static_cast<unsigned long long>(s.value("open", 0ull)),
              static_cast<unsigned long long>(s.value("total", 0ull)),
              static_cast<unsigned long long>(s.value("tls_open", 0ull)),
              static_cast<unsigned long long>(s.value("tls_total", 0ull)));
  print_sessions_text(s["list"]);
  print_approvals_text(st.value("approvals", nlohmann::json::object()),
                       st.value("webhooks", nlohmann::json::array()));
  print_recording_text(st.value("recording", nlohmann::json::object()));
  print_kubernetes_text(st.value("kubernetes", nlohmann::json::object()));
}

int status(const AdminOptions& options) {
  nlohmann::json response;
  if (int rc = admin_call(options, "GET", "/v1/status", nullptr, response); rc != 0) return rc;
  if (options.output.wants_json()) {
    print_json(response, options.output);
  } else {
    print_status_text(response);
  }
  return 0;
}

// A command that asks the daemon over its admin socket: the output flags and
// the two ways to name the socket, then `body` once the command line parsed.
void add_admin_command(CLI::App& parent, const std::string& name, const std::string& description,
                       int (*body)(const AdminOptions&), Action& chosen) {
  auto options = std::make_shared<AdminOptions>();
  CLI::App* command = parent.add_subcommand(name, description);
  add_admin_options(*command, *options);
  command->callback([&chosen, options, body] { chosen = [options, body] { return body(*options); }; });
}

}  // namespace

void add_status_commands(CLI::App& app, Action& chosen) {
  add_admin_command(app, "status", "what the daemon is doing (listeners, eBPF programs, sessions)", status,
                    chosen);
  CLI::App* sessions =
      app.add_subcommand("sessions", "the daemon's live sessions (sessions list), their recordings (sessions verify, replay, export)");
  sessions->require_subcommand(1);
  add_sessions_list_command(*sessions, chosen);
  add_sessions_verify_command(*sessions, chosen);
  add_sessions_replay_commands(*sessions, chosen);
}

}  // namespace pgw::cli
