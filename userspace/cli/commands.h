// The subcommands. Each adds itself, with its options, to the command line;
// when the command line names it, it sets the action main runs, which returns
// the process exit code (0 ok, 1 refused or failed, 2 bad usage or config).
#pragma once

#include <functional>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace pgw::cli {

using Action = std::function<int()>;

void add_run_command(CLI::App& app, Action& chosen);
void add_status_commands(CLI::App& app, Action& chosen);  // status, sessions list
void add_help_and_version_commands(CLI::App& app, Action& chosen);

using Args = std::vector<std::string_view>;

int cmd_policy(Args args);

// Fetches the value of `--name VALUE` / `--name=VALUE` (or a short alias)
// from args, removing it. Returns false when the option is absent; sets
// `missing_value` when it is present without a value.
bool take_option(Args& args, std::string_view name, std::string_view alias, std::string& value, bool& missing_value);

}  // namespace pgw::cli
