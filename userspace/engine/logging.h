// spdlog set-up shared by the daemon and the CLI: one line per event on
// stderr, so systemd, kubectl logs and tests all read the same stream.
#pragma once

#include "policy/config.h"

namespace pgw::engine {

void init_logging();
void apply_log_level(policy::LogLevel level);

}  // namespace pgw::engine
