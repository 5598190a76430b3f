// The subcommands. Each returns the process exit code.
#pragma once

#include <string_view>
#include <vector>

namespace pgw::cli {

using Args = std::vector<std::string_view>;

int cmd_run(Args args);
int cmd_policy(Args args);
int cmd_status(Args args);
int cmd_sessions(Args args);

// Fetches the value of `--name VALUE` / `--name=VALUE` (or a short alias)
// from args, removing it. Returns false when the option is absent; sets
// `missing_value` when it is present without a value.
bool take_option(Args& args, std::string_view name, std::string_view alias, std::string& value, bool& missing_value);

}  // namespace pgw::cli
