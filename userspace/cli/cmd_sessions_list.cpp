// `pgwarden sessions list`: the daemon's live sessions, and with --all the
// ended ones too (from the session index, every node's, or from this node's
// recording directory), filtered by identity, upstream and time. With --dir
// it reads a recording directory itself, no daemon needed: each file's
// header and decision events, and whether the file verifies.
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "audit/recording_list.h"
#include "cli/admin_client.h"
#include "cli/command_line.h"
#include "cli/commands.h"

namespace pgw::cli {

namespace {

constexpr const char* kCommand = "pgwarden sessions list";

struct ListOptions {
  AdminOptions admin;
  std::optional<std::string> identity, upstream, since, until;
  bool all = false;
  size_t limit = 0;
  std::string dir;
  std::string public_key;
};

std::string percent_encoded(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string query_string(const ListOptions& o) {
  std::string q;
  auto add = [&](const char* name, const std::string& value) {
    q += (q.empty() ? "?" : "&") + std::string(name) + "=" + percent_encoded(value);
  };
  if (o.identity) add("identity", *o.identity);
  if (o.upstream) add("upstream", *o.upstream);
  if (o.since) add("since", *o.since);
  if (o.until) add("until", *o.until);
  if (o.all) add("all", "1");
  if (o.limit != 0) add("limit", std::to_string(o.limit));
  return q;
}

// "2024-06-11T10:15:00.123456789Z" shown to the second.
std::string short_time(const nlohmann::json& t) {
  if (!t.is_string()) return "-";
  std::string s = t.get<std::string>();
  if (auto dot = s.find('.'); dot != std::string::npos && s.ends_with("Z")) s = s.substr(0, dot) + "Z";
  return s;
}

void print_text(const nlohmann::json& list, const std::string& source) {
  if (!list.is_array() || list.empty()) {
    std::printf("  (none)\n");
    return;
  }
  for (const auto& r : list) {
    const auto& st = r.value("statements", nlohmann::json::object());
    std::printf("  %s  %s .. %s  identity %s  upstream %s  user %s  database %s  statements %llu allowed %llu "
                "denied %llu held",
                r.value("id", "").c_str(), short_time(r["start_time"]).c_str(),
                r.value("live", false) ? "live" : short_time(r["end_time"]).c_str(), r.value("identity", "").c_str(),
                r.value("upstream", "").c_str(), r.value("user", "").c_str(), r.value("database", "").c_str(),
                st.value("allowed", 0ull), st.value("denied", 0ull), st.value("held", 0ull));
    if (source == "index") std::printf("  node %s", r.value("node", "").c_str());
    if (r.contains("problem")) std::printf("  DOES NOT VERIFY: %s", r.value("problem", "").c_str());
    std::printf("\n");
  }
}

int usage(const std::string& message) {
  std::fprintf(stderr, "%s: %s (try %s --help)\n", kCommand, message.c_str(), kCommand);
  return kExitUsage;
}

// --dir: the files themselves, no daemon.
int list_directory(const ListOptions& o) {
  std::error_code ec;
  if (!std::filesystem::is_directory(o.dir, ec)) return usage("--dir " + o.dir + " is not a directory");
  std::optional<audit::PublicKey> key;
  if (!o.public_key.empty()) {
    auto k = audit::PublicKey::load(o.public_key);
    if (!k) {
      std::fprintf(stderr, "%s: %s\n", kCommand, k.error().c_str());
      return kExitUsage;
    }
    key = std::move(k).value();
  }
  audit::RecordingFilter filter;
  filter.identity = o.identity;
  filter.upstream = o.upstream;
  const auto now = std::chrono::system_clock::now();
  for (auto [text, bound] : {std::pair{&o.since, &filter.since}, std::pair{&o.until, &filter.until}}) {
    if (!*text) continue;
    auto t = audit::parse_time_bound(**text, now);
    if (!t) return usage(t.error());
    *bound = *t;
  }
  audit::RecordingDirectory directory(o.dir, std::move(key));
  auto all = directory.list();
  if (!all) {
    std::fprintf(stderr, "%s: %s\n", kCommand, all.error().c_str());
    return 1;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : *all) {
    if (!filter.matches(r)) continue;
    if (o.limit != 0 && list.size() >= o.limit) break;
    list.push_back(audit::to_json(r));
  }
  if (o.admin.output.wants_json()) {
    print_json({{"source", "directory"}, {"recordings", list}}, o.admin.output);
  } else {
    print_text(list, "directory");
  }
  return 0;
}

int sessions_list(const ListOptions& o) {
  if (!o.dir.empty()) return list_directory(o);
  if (!o.public_key.empty()) return usage("--public-key goes with --dir");
  nlohmann::json response;
  if (int rc = admin_call(o.admin, "GET", "/v1/recordings" + query_string(o), nullptr, response); rc != 0) return rc;
  const std::string source = response.value("source", "");
  if (o.admin.output.wants_json()) {
    print_json(response, o.admin.output);
    return 0;
  }
  if (response.contains("index_error")) {
    std::fprintf(stderr, "%s: the session index cannot be read (%s); this node's recordings only\n", kCommand,
                 response.value("index_error", "").c_str());
  }
  print_text(response["recordings"], source);
  return 0;
}

}  // namespace

void add_sessions_list_command(CLI::App& sessions, Action& chosen) {
  auto o = std::make_shared<ListOptions>();
  CLI::App* command = sessions.add_subcommand(
      "list", "list sessions: the live ones, with --all the ended ones too (every node's with a session index)");
  add_admin_options(*command, o->admin);
  // Optional texts: set only when given.
  auto optional_text = [&](const char* name, std::optional<std::string> ListOptions::*member, const char* what) {
    command->add_option_function<std::string>(name, [o, member](const std::string& v) { (*o).*member = v; }, what)
        ->type_name(std::string(name) == "--since" || std::string(name) == "--until" ? "T" : "NAME");
  };
  optional_text("--identity", &ListOptions::identity, "only this identity's sessions");
  optional_text("--upstream", &ListOptions::upstream, "only sessions on this upstream");
  optional_text("--since", &ListOptions::since, "only sessions open at or after T (RFC 3339, or an age: 30m, 2h, 7d)");
  optional_text("--until", &ListOptions::until, "only sessions that started at or before T (likewise)");
  command->add_flag("-a,--all", o->all, "ended sessions too, from the session index or the recording directory");
  command->add_option("--limit", o->limit, "at most N sessions, newest first (default 1000)")->type_name("N");
  command->add_option("--dir", o->dir, "list this recording directory's files instead (no daemon needed)")
      ->type_name("DIR");
  command->add_option("--public-key", o->public_key, "with --dir: also check the files' signatures with this key")
      ->type_name("FILE");
  command->callback([&chosen, o] { chosen = [o] { return sessions_list(*o); }; });
}

}  // namespace pgw::cli
