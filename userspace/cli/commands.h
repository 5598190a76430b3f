// The subcommands. Each adds itself, with its options, to the command line;
// when the command line names it, it sets the action main runs, which returns
// the process exit code (0 ok, 1 refused or failed, 2 bad usage or config).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace pgw::cli {

using Action = std::function<int()>;

void add_run_command(CLI::App& app, Action& chosen);
void add_status_commands(CLI::App& app, Action& chosen);  // status, sessions list (and verify)
void add_sessions_verify_command(CLI::App& sessions, Action& chosen);  // sessions verify
void add_sessions_list_command(CLI::App& sessions, Action& chosen);    // sessions list
void add_sessions_replay_commands(CLI::App& sessions, Action& chosen);  // sessions replay, sessions export
void add_approval_commands(CLI::App& app, Action& chosen);  // approvals list|approve|deny, console url
void add_policy_commands(CLI::App& app, Action& chosen);  // policy check, policy explain
void add_help_and_version_commands(CLI::App& app, Action& chosen);

}  // namespace pgw::cli
