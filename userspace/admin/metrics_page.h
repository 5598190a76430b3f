// GET /metrics: the daemon's counters in Prometheus text format, on the
// admin socket and on `metrics_listen`.
#pragma once

#include <functional>
#include <string>

#include "admin/prometheus_text.h"
#include "engine/engine_state.h"

namespace pgw::admin {

// `more` adds families kept elsewhere (the webhook's delivery counters).
std::string render_metrics(const engine::EngineState& state, const std::function<void(PrometheusText&)>& more = {});

}  // namespace pgw::admin
