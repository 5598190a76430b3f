#include "admin/admin_api.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include "admin/approver_auth.h"
#include "admin/console_assets.h"
#include "admin/metrics_page.h"
#include "admin/recordings_api.h"
#include "admin/recording_transcript.h"
#include "common/instance_name.h"
#include "policy/config_values.h"

namespace pgw::admin {

namespace {

using Clock = std::chrono::system_clock;
using Refusal = approval::ApprovalQueue::Decided::Refusal;

approval::ApprovalQueue& queue(AdminContext& c) { return *c.state.approvals(); }

// A JSON object body, or an error response. An empty body is `{}`.
std::optional<nlohmann::json> object_body(const HttpRequest& req, HttpResponse& error) {
  if (req.body.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = HttpResponse::error(400, "the body must be a JSON object");
    return std::nullopt;
  }
  return j;
}

int status_for(Refusal r) {
  switch (r) {
    case Refusal::none: return 200;
    case Refusal::unknown_id: return 404;
    case Refusal::already_decided:
    case Refusal::already_approved: return 409;
    case Refusal::own_request: return 403;
    case Refusal::unavailable: return 503;  // the shared store cannot be reached: nothing was decided
  }
  return 400;
}

HttpResponse decided(const approval::ApprovalQueue::Decided& d) {
  if (d.refusal != Refusal::none) return HttpResponse::error(status_for(d.refusal), d.error);
  return HttpResponse::json(200, approval::to_json(d.request, Clock::now()));
}

HttpResponse approve(AdminContext& c, const HttpRequest& req, const approval::Approver& who) {
  HttpResponse error;
  auto body = object_body(req, error);
  if (!body) return error;
  std::optional<std::chrono::milliseconds> grant_for;
  if (body->contains("for")) {
    const auto& f = (*body)["for"];
    if (!f.is_string()) return HttpResponse::error(400, "\"for\" must be a duration such as \"10m\"");
    auto d = policy::parse_duration(f.get<std::string>());
    if (!d || d->count() <= 0) {
      return HttpResponse::error(400, "\"for\": " + (d ? std::string("must be longer than 0") : d.error()));
    }
    grant_for = *d;
  }
  return decided(queue(c).approve(std::string(req.param("id")), who, grant_for));
}

HttpResponse deny(AdminContext& c, const HttpRequest& req, const approval::Approver& who) {
  HttpResponse error;
  auto body = object_body(req, error);
  if (!body) return error;
  std::string reason = "no reason given";
  if (body->contains("reason")) {
    const auto& r = (*body)["reason"];
    if (!r.is_string()) return HttpResponse::error(400, "\"reason\" must be a text");
    if (!r.get<std::string>().empty()) reason = r.get<std::string>();
  }
  if (reason.size() > 1000) return HttpResponse::error(400, "\"reason\" is longer than 1000 bytes");
  return decided(queue(c).deny(std::string(req.param("id")), who, std::move(reason)));
}

HttpResponse list_approvals(AdminContext& c, const HttpRequest& req) {
  const bool all = req.query.count("all") != 0;
  nlohmann::json list = nlohmann::json::array();
  const auto now = Clock::now();
  for (const auto& r : queue(c).list(all)) list.push_back(approval::to_json(r, now));
  nlohmann::json grants = nlohmann::json::array();
  for (const auto& g : queue(c).grants()) {
    grants.push_back({{"identity", g.identity},
                      {"shape", g.shape},
                      {"approver", g.approver},
                      {"expires_in_s", std::chrono::duration_cast<std::chrono::seconds>(g.expires - now).count()}});
  }
  return HttpResponse::json(200, {{"approvals", list}, {"grants", grants}});
}

HttpResponse one_approval(AdminContext& c, const HttpRequest& req) {
  auto r = queue(c).find(std::string(req.param("id")));
  if (!r) return HttpResponse::error(404, "no approval request " + std::string(req.param("id")));
  return HttpResponse::json(200, approval::to_json(*r, Clock::now()));
}

// The feed keeps a decision's classes as "ddl,drop"; the API gives a list,
// as it does for approval requests (the console shows one chip per class).
nlohmann::json class_list(std::string_view classes) {
  nlohmann::json out = nlohmann::json::array();
  while (!classes.empty()) {
    const size_t comma = classes.find(',');
    if (comma != 0) out.push_back(std::string(classes.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    classes.remove_prefix(comma + 1);
  }
  return out;
}

HttpResponse decisions(AdminContext& c, const HttpRequest& req) {
  size_t limit = 50;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    try {
      limit = std::min<size_t>(std::stoul(it->second), engine::DecisionFeed::kKept);
    } catch (const std::exception&) {
      return HttpResponse::error(400, "limit must be a number");
    }
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : c.state.decisions().recent(limit)) {
    list.push_back({{"time", std::chrono::duration<double>(d.time.time_since_epoch()).count()},
                    {"session", d.session},
                    {"session_id", session_name(d.session)},
                    {"identity", d.identity},
                    {"action", d.action},
                    {"classes", class_list(d.classes)},
                    {"rule", d.rule},
                    {"message", d.message},
                    {"sql", d.sql}});
  }
  return HttpResponse::json(200, {{"decisions", list}});
}

HttpResponse status(AdminContext& c) {
  nlohmann::json st = status_json(c.state, c.facts);
  const approval::QueueCounters q = queue(c).counters();
  st["approvals"] = {{"pending", q.pending},   {"requested", q.requested}, {"approved", q.approved},
                     {"denied", q.denied},     {"timed_out", q.timed_out}, {"withdrawn", q.withdrawn},
                     {"aborted", q.aborted},   {"standing_grant_uses", q.granted_standing}};
  st["webhooks"] = c.webhook_status ? c.webhook_status() : nlohmann::json::array();
  return HttpResponse::json(200, st);
}

HttpResponse metrics(AdminContext& c) {
  HttpResponse r;
  r.content_type = std::string(kPrometheusContentType);
  r.body = render_metrics(c.state, c.webhook_metrics);
  return r;
}

// The admin socket's peer, as an approver (403 when not one).
template <typename F>
HttpHandler as_socket_approver(AdminContext& c, F f) {
  return [&c, f](const HttpRequest& req) {
    if (!req.peer_credentials) return HttpResponse::error(403, "no peer credentials");
    auto who = approver_on_socket(c.state.config()->approval.approvers, req.peer_credentials->uid,
                                  req.peer_credentials->gid);
    if (!who) return HttpResponse::error(403, who.error());
    return f(c, req, *who);
  };
}

// The console's token: its user, or nothing.
std::optional<std::string> console_user(AdminContext& c, const HttpRequest& req) {
  const std::string* auth = req.header("Authorization");
  // The scheme is case-insensitive (RFC 9110 11.1); the token is not.
  if (auth == nullptr || auth->size() < 7 || strncasecmp(auth->c_str(), "Bearer ", 7) != 0) return std::nullopt;
  return c.tokens.user_for(std::string_view(*auth).substr(7));
}

template <typename F>
HttpHandler with_token(AdminContext& c, F f) {
  return [&c, f](const HttpRequest& req) {
    auto user = console_user(c, req);
    if (!user) {
      HttpResponse r = HttpResponse::error(401, "a console token is required (pgwarden console url)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    return f(c, req, *user);
  };
}

template <typename F>
HttpHandler as_console_approver(AdminContext& c, F f) {
  return with_token(c, [f](AdminContext& c, const HttpRequest& req, const std::string& user) {
    auto who = approver_on_console(c.state.config()->approval.approvers, user);
    if (!who) return HttpResponse::error(403, who.error());
    return f(c, req, *who);
  });
}

}  // namespace

HeaderList console_headers() {
  return {{"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
          {"Referrer-Policy", "no-referrer"},
          {"X-Frame-Options", "DENY"}};
}

void add_admin_routes(HttpServer& s, AdminContext& c) {
  s.add("GET", "/v1/status", [&c](const HttpRequest&) { return status(c); });
  s.add("GET", "/v1/sessions",
        [&c](const HttpRequest&) { return HttpResponse::json(200, {{"sessions", sessions_json(c.state)}}); });
  s.add("GET", "/v1/recordings", [&c](const HttpRequest& req) { return list_recordings(c, req); });
  s.add("GET", "/v1/approvals", [&c](const HttpRequest& req) { return list_approvals(c, req); });
  s.add("GET", "/v1/approvals/{id}", [&c](const HttpRequest& req) { return one_approval(c, req); });
  s.add("POST", "/v1/approvals/{id}/approve", as_socket_approver(c, approve));
  s.add("POST", "/v1/approvals/{id}/deny", as_socket_approver(c, deny));
  s.add("GET", "/v1/decisions", [&c](const HttpRequest& req) { return decisions(c, req); });
  s.add("GET", "/v1/recordings/{id}", [&c](const HttpRequest& req) { return recording_transcript(c, req); });
  s.add("GET", "/metrics", [&c](const HttpRequest&) { return metrics(c); });
  s.add("POST", "/v1/console/token", [&c](const HttpRequest& req) {
    // Console tokens are credentials: only root hands them out.
    if (!req.peer_credentials || req.peer_credentials->uid != 0) {
      return HttpResponse::error(403, "only root may issue console tokens");
    }
    HttpResponse error;
    auto body = object_body(req, error);
    if (!body) return error;
    // A user that is not a string is the caller's mistake (400), not a
    // json type_error thrown out of the handler (500).
    if (body->contains("user") && !(*body)["user"].is_string())
      return HttpResponse::error(400, "\"user\" must be a text");
    const std::string user = body->value("user", std::string("admin"));
    auto token = c.tokens.token_for(user);
    if (!token) return HttpResponse::error(400, token.error());
    const auto& listen = c.state.config()->console_listen;
    nlohmann::json out = {{"user", user}, {"token", *token}};
    if (listen) out["url"] = "http://" + listen->to_string() + "/#token=" + *token;
    return HttpResponse::json(200, out);
  });
}

void add_console_routes(HttpServer& s, AdminContext& c) {
  for (const char* path : {"/", "/index.html", "/console.js", "/console.css"}) {
    s.add("GET", path, [](const HttpRequest& req) {
      auto asset = console_asset(req.path);
      if (!asset) return HttpResponse::error(404, "not found");
      HttpResponse r;
      r.content_type = std::string(asset->content_type);
      r.body = std::string(asset->body);
      return r;
    });
  }
  s.add("GET", "/v1/whoami", with_token(c, [](AdminContext& c, const HttpRequest&, const std::string& user) {
          const bool may = static_cast<bool>(approver_on_console(c.state.config()->approval.approvers, user));
          return HttpResponse::json(200, {{"user", user}, {"may_approve", may}});
        }));
  s.add("GET", "/v1/approvals", with_token(c, [](AdminContext& c, const HttpRequest& req, const std::string&) {
          return list_approvals(c, req);
        }));
  s.add("GET", "/v1/sessions", with_token(c, [](AdminContext& c, const HttpRequest&, const std::string&) {
          return HttpResponse::json(200, {{"sessions", sessions_json(c.state)}});
        }));
  s.add("GET", "/v1/decisions", with_token(c, [](AdminContext& c, const HttpRequest& req, const std::string&) {
          return decisions(c, req);
        }));
  s.add("GET", "/v1/recordings/{id}", with_token(c, [](AdminContext& c, const HttpRequest& req, const std::string&) {
          return recording_transcript(c, req);
        }));
  s.add("POST", "/v1/approvals/{id}/approve", as_console_approver(c, approve));
  s.add("POST", "/v1/approvals/{id}/deny", as_console_approver(c, deny));
}

void add_metrics_routes(HttpServer& s, AdminContext& c) {
  s.add("GET", "/metrics", [&c](const HttpRequest&) { return metrics(c); });
}

}  // namespace pgw::admin
