#include "engine/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace pgw::engine {

void init_logging() {
  auto logger = spdlog::stderr_logger_mt("pgwarden");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
}

void apply_log_level(policy::LogLevel level) {
  using L = policy::LogLevel;
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case L::trace: l = spdlog::level::trace; break;
    case L::debug: l = spdlog::level::debug; break;
    case L::info: l = spdlog::level::info; break;
    case L::warn: l = spdlog::level::warn; break;
    case L::error: l = spdlog::level::err; break;
    case L::off: l = spdlog::level::off; break;
  }
  spdlog::set_level(l);
}

}  // namespace pgw::engine
