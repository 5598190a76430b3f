// `pgwarden policy check FILE`: the daemon's own validation, without serving.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "policy/config.h"

namespace pgw::cli {

namespace {

int policy_check(Args args) {
  if (args.size() != 1) {
    std::fputs("usage: pgwarden policy check FILE\n", stderr);
    return 2;
  }
  auto config = policy::load_config_file(std::string(args[0]));
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  for (const auto& w : config->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::printf("%.*s: ok (%zu upstreams, %zu identities, %zu policies, default %s)\n",
              static_cast<int>(args[0].size()), args[0].data(), config->upstreams.size(), config->identities.size(),
              config->policies.size(), std::string(policy::to_string(config->default_action)).c_str());
  return 0;
}

}  // namespace

int cmd_policy(Args args) {
  if (args.empty()) {
    std::fputs("usage: pgwarden policy check FILE\n", stderr);
    return 2;
  }
  const std::string_view sub = args[0];
  args.erase(args.begin());
  if (sub == "check") return policy_check(args);
  std::fprintf(stderr, "pgwarden policy: unknown subcommand \"%.*s\"\n", static_cast<int>(sub.size()), sub.data());
  return 2;
}

}  // namespace pgw::cli
