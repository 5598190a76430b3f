// The daemon's answers to admin requests: `status` and `sessions list`.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/engine_state.h"

namespace pgw::admin {

struct DaemonFacts {
  unsigned workers = 0;
  std::string config_path;
};

nlohmann::json handle_request(const nlohmann::json& request, const engine::EngineState& state,
                              const DaemonFacts& facts);

}  // namespace pgw::admin
