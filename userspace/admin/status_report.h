// The daemon's state as `status` and `sessions list` show it.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/engine_state.h"

namespace pgw::admin {

struct DaemonFacts {
  unsigned workers = 0;
  std::string config_path;
};

// GET /v1/status and GET /v1/sessions (admin_api.h adds approvals and webhooks).
nlohmann::json status_json(const engine::EngineState& state, const DaemonFacts& facts);
nlohmann::json sessions_json(const engine::EngineState& state);

}  // namespace pgw::admin
