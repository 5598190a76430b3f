// `pgwarden status` and `pgwarden sessions list`: what the daemon is doing,
// read over its admin socket. Plain text by default, like bpftool; -j for
// JSON, -p for indented JSON.
#include <cstdio>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/admin_server.h"
#include "cli/commands.h"
#include "policy/config.h"

namespace pgw::cli {

namespace {

struct OutputFlags {
  bool json = false;
  bool pretty = false;
};

// Takes -j/--json and -p/--pretty out of args.
OutputFlags take_output_flags(Args& args) {
  OutputFlags f;
  for (auto it = args.begin(); it != args.end();) {
    if (*it == "-j" || *it == "--json") {
      f.json = true;
      it = args.erase(it);
    } else if (*it == "-p" || *it == "--pretty") {
      f.json = f.pretty = true;
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  return f;
}

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
    std::printf("  %llu: identity %s  upstream %s  user %s  database %s  age %llds\n",
                static_cast<unsigned long long>(s.value("id", 0ull)), s.value("identity", "").c_str(),
                s.value("upstream", "").c_str(), s.value("user", "").c_str(), s.value("database", "").c_str(),
                static_cast<long long>(s.value("age_s", 0ll)));
    std::printf("\tworkload %s  from client %s  to client %s\n", s.value("workload", "").c_str(),
                format_bytes(s.value("bytes_from_client", 0ull)).c_str(),
                format_bytes(s.value("bytes_to_client", 0ull)).c_str());
  }
}

void print_status_text(const nlohmann::json& st) {
  const auto& d = st["daemon"];
  std::printf("daemon: pid %d  uptime %llds  workers %u  config %s\n", d.value("pid", 0),
              static_cast<long long>(d.value("uptime_s", 0ll)), d.value("workers", 0u),
              d.value("config", "").c_str());
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
    for (const auto& p : icpt["programs"]) {
      std::printf("  prog %u: %s  %s  %s", p.value("id", 0u), p.value("name", "").c_str(),
                  p.value("attach_type", "").c_str(), p.value("attach_point", "").c_str());
      if (p.value("link_id", 0u) != 0) std::printf("  link %u", p.value("link_id", 0u));
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
  std::printf("sessions: %llu open, %llu since start\n", static_cast<unsigned long long>(s.value("open", 0ull)),
              static_cast<unsigned long long>(s.value("total", 0ull)));
  print_sessions_text(s["list"]);
}

// Resolves the admin socket: --admin-socket, else the config's (when
// --config is given), else the default.
int admin_call(Args& args, const nlohmann::json& request, nlohmann::json& response) {
  std::string socket_path = policy::Config{}.admin_socket;
  std::string value;
  bool missing = false;
  if (take_option(args, "--config", "-c", value, missing)) {
    if (missing) {
      std::fputs("pgwarden: --config needs a FILE\n", stderr);
      return 2;
    }
    auto config = policy::load_config_file(value);
    if (!config) {
      std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
      return 2;
    }
    socket_path = config->admin_socket;
  }
  if (take_option(args, "--admin-socket", "", value, missing)) {
    if (missing) {
      std::fputs("pgwarden: --admin-socket needs a PATH\n", stderr);
      return 2;
    }
    socket_path = value;
  }
  if (!args.empty()) {
    std::fprintf(stderr, "pgwarden: unexpected argument \"%.*s\"\n", static_cast<int>(args[0].size()),
                 args[0].data());
    return 2;
  }
  auto answer = admin::admin_request(socket_path, request);
  if (!answer) {
    std::fprintf(stderr, "pgwarden: %s\n", answer.error().c_str());
    return 1;
  }
  if (!answer->value("ok", false)) {
    std::fprintf(stderr, "pgwarden: %s\n", answer->value("error", "the daemon refused the request").c_str());
    return 1;
  }
  response = std::move(answer).value();
  return 0;
}

void print_json(const nlohmann::json& j, const OutputFlags& f) {
  std::printf("%s\n", j.dump(f.pretty ? 2 : -1).c_str());
}

}  // namespace

int cmd_status(Args args) {
  OutputFlags flags = take_output_flags(args);
  nlohmann::json response;
  if (int rc = admin_call(args, {{"command", "status"}}, response); rc != 0) return rc;
  response.erase("ok");
  if (flags.json) {
    print_json(response, flags);
  } else {
    print_status_text(response);
  }
  return 0;
}

int cmd_sessions(Args args) {
  if (args.empty() || args[0] != "list") {
    std::fputs("usage: pgwarden sessions list [-j|-p] [--admin-socket PATH | --config FILE]\n", stderr);
    return 2;
  }
  args.erase(args.begin());
  OutputFlags flags = take_output_flags(args);
  nlohmann::json response;
  if (int rc = admin_call(args, {{"command", "sessions.list"}}, response); rc != 0) return rc;
  if (flags.json) {
    print_json(response["sessions"], flags);
  } else {
    print_sessions_text(response["sessions"]);
  }
  return 0;
}

}  // namespace pgw::cli
