// `pgwarden approvals list | approve ID [--for D] | deny ID [--reason TEXT]`
// and `pgwarden console url [--user NAME]`: people deciding held statements,
// over the daemon's admin socket. The daemon knows who asks from the
// socket's peer credentials; nothing here claims an identity.
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/admin_client.h"
#include "cli/commands.h"

namespace pgw::cli {

namespace {

struct DecideOptions {
  AdminOptions admin;
  std::string id;
  std::string grant_for;  // approve --for
  std::string reason;     // deny --reason
  bool all = false;       // list --all
  std::string user;       // console url --user
};

std::string one_line(std::string s, size_t max) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

void print_request(const nlohmann::json& r) {
  const auto& who = r["identity"];
  std::string uid = who.contains("uid") && !who["uid"].is_null() ? std::to_string(who["uid"].get<long long>()) : "-";
  std::printf("%s  %s  identity %s  uid %s  comm %s  cgroup %s\n", r.value("id", "").c_str(),
              r.value("state", "").c_str(), who.value("name", "").c_str(), uid.c_str(), who.value("comm", "").c_str(),
              who.value("cgroup", "").c_str());
  std::string classes;
  for (const auto& c : r["classes"]) classes += (classes.empty() ? "" : ",") + c.get<std::string>();
  // The session's unique id (as `sessions list` and its recording name it);
  // a request from an older node carries only the engine's number.
  std::string session = r.value("session_id", "");
  if (session.empty()) session = std::to_string(r.value("session", 0ull));
  std::printf("\tupstream %s  database %s  session %s  rule %s  classes %s\n", r.value("upstream", "").c_str(),
              r.value("database", "").c_str(), session.c_str(), r.value("rule", "").c_str(), classes.c_str());
  std::string approvals;
  for (const auto& a : r["approvals"]) approvals += (approvals.empty() ? "" : ", ") + a.get<std::string>();
  std::printf("\tapprovals %zu of %u%s%s  age %llds  ", r["approvals"].size(), r.value("min_approvals", 1u),
              approvals.empty() ? "" : " by ", approvals.c_str(), static_cast<long long>(r.value("age_s", 0ll)));
  if (r.value("state", "") == "pending") {
    std::printf("expires in %llds\n", static_cast<long long>(r.value("expires_in_s", 0ll)));
  } else {
    std::printf("decided by %s  %s\n", r.value("decided_by", "-").c_str(), r.value("reason", "").c_str());
  }
  std::printf("\tsql: %s\n", one_line(r.value("sql", ""), 400).c_str());
  if (r.contains("parameters") && !r["parameters"].empty()) {
    std::string params;
    size_t i = 1;
    for (const auto& p : r["parameters"]) {
      params += (params.empty() ? "" : ", ") + ("$" + std::to_string(i++)) + " = " +
                (p.is_null() ? std::string("NULL") : "'" + one_line(p.get<std::string>(), 100) + "'");
    }
    std::printf("\tparameters: %s\n", params.c_str());
  }
}

int list(const DecideOptions& o) {
  nlohmann::json response;
  if (int rc = admin_call(o.admin, "GET", o.all ? "/v1/approvals?all=1" : "/v1/approvals", nullptr, response); rc)
    return rc;
  if (o.admin.output.wants_json()) {
    print_json(response, o.admin.output);
    return 0;
  }
  if (response["approvals"].empty()) std::printf("no approval requests %s\n", o.all ? "" : "pending");
  for (const auto& r : response["approvals"]) print_request(r);
  for (const auto& g : response["grants"]) {
    std::printf("standing grant: identity %s  shape %s  by %s  expires in %llds\n", g.value("identity", "").c_str(),
                g.value("shape", "").c_str(), g.value("approver", "").c_str(),
                static_cast<long long>(g.value("expires_in_s", 0ll)));
  }
  return 0;
}

// The id as one URL path segment: whatever it holds (a space, '/', '?', '#',
// "..") reaches the daemon as that id, which then says there is no such
// request, instead of turning into another path, a query or a bad URL.
std::string path_segment(const std::string& id) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int decide(const DecideOptions& o, bool approve) {
  if (o.id.empty()) {
    std::fprintf(stderr, "pgwarden: the approval id is empty (see pgwarden approvals list)\n");
    return 1;
  }
  nlohmann::json body = nlohmann::json::object();
  if (approve && !o.grant_for.empty()) body["for"] = o.grant_for;
  if (!approve && !o.reason.empty()) body["reason"] = o.reason;
  nlohmann::json response;
  const std::string path = "/v1/approvals/" + path_segment(o.id) + (approve ? "/approve" : "/deny");
  if (int rc = admin_call(o.admin, "POST", path, &body, response); rc) return rc;
  if (o.admin.output.wants_json()) {
    print_json(response, o.admin.output);
    return 0;
  }
  const std::string state = response.value("state", "");
  if (state == "pending") {
    std::printf("%s: approval recorded (%zu of %u); it waits for another approver\n", o.id.c_str(),
                response["approvals"].size(), response.value("min_approvals", 1u));
  } else {
    std::printf("%s: %s\n", o.id.c_str(), state.c_str());
  }
  return 0;
}

int console_url(const DecideOptions& o) {
  nlohmann::json body = {{"user", o.user}};
  nlohmann::json response;
  if (int rc = admin_call(o.admin, "POST", "/v1/console/token", &body, response); rc) return rc;
  if (o.admin.output.wants_json()) {
    print_json(response, o.admin.output);
    return 0;
  }
  if (!response.contains("url")) {
    std::fprintf(stderr, "pgwarden: the console is off (set console_listen in the config); the token of %s is in "
                         "the state directory\n", o.user.c_str());
    return 1;
  }
  std::printf("%s\n", response.value("url", "").c_str());
  return 0;
}

CLI::App* command(CLI::App& parent, const std::string& name, const std::string& description,
                  const std::shared_ptr<DecideOptions>& o, Action& chosen, int (*body)(const DecideOptions&)) {
  CLI::App* c = parent.add_subcommand(name, description);
  add_admin_options(*c, o->admin);
  c->callback([&chosen, o, body] { chosen = [o, body] { return body(*o); }; });
  return c;
}

}  // namespace

void add_approval_commands(CLI::App& app, Action& chosen) {
  CLI::App* approvals = app.add_subcommand("approvals", "statements held for approval: list, approve, deny");
  approvals->require_subcommand(1);
  auto o = std::make_shared<DecideOptions>();
  command(*approvals, "list", "the pending requests: id, identity, upstream, SQL, rule, approvals so far", o, chosen,
          list)
      ->add_flag("-a,--all", o->all, "also the recently decided ones");
  CLI::App* approve = command(*approvals, "approve", "approve a held statement: it runs, the client gets its result",
                              o, chosen, [](const DecideOptions& x) { return decide(x, true); });
  approve->add_option("ID", o->id, "the request's id (approvals list)")->required();
  approve->add_option("--for", o->grant_for,
                      "also let the same statement shape from the same identity run without asking, this long "
                      "(e.g. 10m)")
      ->type_name("DURATION");
  CLI::App* deny = command(*approvals, "deny", "refuse a held statement: the client gets 42501 with the reason", o,
                           chosen, [](const DecideOptions& x) { return decide(x, false); });
  deny->add_option("ID", o->id, "the request's id (approvals list)")->required();
  deny->add_option("--reason", o->reason, "what the client reads")->type_name("TEXT");

  CLI::App* console = app.add_subcommand("console", "the web console (console_listen)");
  console->require_subcommand(1);
  CLI::App* url = command(*console, "url", "print a login URL for the web console (root only)", o, chosen,
                          console_url);
  o->user = "admin";
  url->add_option("--user", o->user, "the console user the URL logs in as (approval.approvers.console_users)")
      ->type_name("NAME")
      ->capture_default_str();
}

}  // namespace pgw::cli
