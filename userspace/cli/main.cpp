// pgwarden: one binary, subcommands in the style of bpftool and git.
// Exit codes: 0 ok, 1 the operation was refused or failed, 2 bad usage or
// bad config, with one clear line on stderr.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

namespace {

void print_usage(FILE* out) {
  std::fputs(
      "usage: pgwarden <command> [options]\n"
      "\n"
      "  run    --config FILE            run the engine in the foreground\n"
      "  status [-j|-p]                  what the daemon is doing (programs, sessions)\n"
      "  sessions list [-j|-p]           live sessions\n"
      "  policy check FILE               validate a config file without serving\n"
      "  policy explain FILE --identity NAME --sql TEXT   the decision and why (exit 1: refused)\n"
      "\n"
      "status and sessions reach the daemon over its admin socket: --admin-socket PATH,\n"
      "or --config FILE to use that config's admin_socket (default /run/pgwarden/admin.sock).\n"
      "  version                         print the version\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    print_usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string_view command = args[0];
  args.erase(args.begin());
  if (command == "run") return pgw::cli::cmd_run(args);
  if (command == "policy") return pgw::cli::cmd_policy(args);
  if (command == "status") return pgw::cli::cmd_status(args);
  if (command == "sessions") return pgw::cli::cmd_sessions(args);
  if (command == "version" || command == "--version") {
    std::printf("pgwarden %s\n", PGWARDEN_VERSION);
    return 0;
  }
  std::fprintf(stderr, "pgwarden: unknown command \"%.*s\" (try pgwarden --help)\n", static_cast<int>(command.size()),
               command.data());
  return 2;
}
