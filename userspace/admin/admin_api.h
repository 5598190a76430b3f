// The daemon's HTTP API, one set of handlers for three listeners:
//
//   admin_socket (unix, 0600 or 0660 with admin_socket_group): everything —
//     GET  /v1/status, /v1/sessions, /v1/approvals[?all=1], /v1/approvals/{id},
//          /v1/decisions[?limit=N], /v1/recordings/{id}[?max_rows=N], /metrics
//     POST /v1/approvals/{id}/approve  {"for": "10m"}   (body optional)
//     POST /v1/approvals/{id}/deny     {"reason": "..."}
//     POST /v1/console/token           {"user": "alice"}  (root only)
//     who decides is the peer's uid (SO_PEERCRED);
//   console_listen (TCP): the console page (/, /console.js, /console.css)
//     and, with `Authorization: Bearer TOKEN`, GET /v1/whoami, /v1/approvals,
//     /v1/sessions, /v1/decisions, /v1/recordings/{id} and the two POSTs; the decider is the
//     token's console user;
//   metrics_listen (TCP): GET /metrics.
//
// Every answer is JSON (errors `{"error": "..."}`) except /metrics and the
// console's files.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/console_tokens.h"
#include "admin/http_server.h"
#include "admin/prometheus_text.h"
#include "admin/status_report.h"
#include "engine/engine_state.h"

namespace pgw::admin {

struct AdminContext {
  engine::EngineState& state;
  DaemonFacts facts;
  ConsoleTokens& tokens;
  // The webhooks' delivery state, for status and /metrics (may be empty).
  std::function<nlohmann::json()> webhook_status;
  std::function<void(PrometheusText&)> webhook_metrics;
};

void add_admin_routes(HttpServer& server, AdminContext& context);
void add_console_routes(HttpServer& server, AdminContext& context);
void add_metrics_routes(HttpServer& server, AdminContext& context);

// The headers the console's page is served with (a strict CSP: only its
// own script, style and API).
HeaderList console_headers();

}  // namespace pgw::admin
