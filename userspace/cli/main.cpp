// pgwarden: one binary, subcommands in the style of bpftool and git.
// Exit codes: 0 ok, 1 the operation was refused or failed, 2 bad usage or
// bad config, with one clear line on stderr.
#include <CLI/CLI.hpp>

#include <string>

#include "cli/command_line.h"
#include "cli/commands.h"

namespace {

constexpr const char* kAbout =
    "pgwarden: a PostgreSQL gateway that knows which workload connects (from the kernel),\n"
    "holds the database credential, and decides and masks each statement by policy.\n";

constexpr const char* kFooter =
    "status and sessions reach the daemon over its admin socket: --admin-socket PATH,\n"
    "or --config FILE to use that config's admin_socket (default /run/pgwarden/admin.sock).\n"
    "Exit status: 0 ok, 1 refused or failed, 2 bad usage or bad config.\n"
    "pgwarden COMMAND --help describes a command and its options.";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kAbout, "pgwarden");
  // Set before the commands are added: they inherit the help flag and the
  // formatter (but not the version flag).
  app.set_help_flag("-h,--help", "print this help and exit");
  app.get_formatter()->column_width(32);
  app.set_version_flag("--version", std::string("pgwarden ") + PGWARDEN_VERSION, "print the version and exit");
  app.require_subcommand(1);

  pgw::cli::Action chosen;
  pgw::cli::add_run_command(app, chosen);
  pgw::cli::add_status_commands(app, chosen);
  pgw::cli::add_approval_commands(app, chosen);
  pgw::cli::add_policy_commands(app, chosen);
  pgw::cli::add_help_and_version_commands(app, chosen);
  // After the commands: a command would inherit the footer.
  app.footer(kFooter);

  if (auto exit_code = pgw::cli::parse_command_line(app, argc, argv)) return *exit_code;
  return chosen();
}
