#include "cli/command_line.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace pgw::cli {

namespace {

// CLI11 2.1 reads `--name=` as `--name` without a value and then takes the
// next argument as the value (`--search-path= -j` would set the path to
// "-j"). pgwarden has always read it as an empty value: split it into
// `--name ""`, which CLI11 reads that way. (A value that is itself `--x=`
// would be split too; no option of pgwarden's takes one like that.)
std::vector<std::string> with_empty_values_split(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 3 && a.starts_with("--") && a.find('=') == a.size() - 1) {
      a.pop_back();
      args.push_back(std::move(a));
      args.emplace_back();
    } else {
      args.push_back(std::move(a));
    }
  }
  return args;
}

// The command the error is about: the first one, from the top, left with
// words it could not place (`sessions -j list`: sessions), else the deepest
// one the parser entered.
const CLI::App& failing_command(const CLI::App& app) {
  const CLI::App* command = &app;
  while (command->remaining().empty() && !command->get_subcommands().empty())
    command = command->get_subcommands().front();
  return *command;
}

// "pgwarden policy explain" for the explain command.
std::string command_path(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* p = command.get_parent(); p != nullptr; p = p->get_parent()) path = p->get_name() + " " + path;
  return path;
}

// A command that only groups others (`policy`), with none of them named.
bool wants_command(const CLI::App& command) {
  return command.get_require_subcommand_min() > 0 && command.get_subcommands().empty();
}

// What went wrong, in pgwarden's words where CLI11's are vague. A word the
// command could not place is named first: it is the likely cause even when
// CLI11 complains of something else (`run --conifg f`: "--config is required").
std::string usage_message(const CLI::App& command, const CLI::ParseError& e) {
  const std::vector<std::string> left = command.remaining();
  if (left.empty()) return e.what();
  const std::string& word = left.front();
  if (word.starts_with("-")) return "unknown option \"" + word + "\"";
  if (wants_command(command)) return "unknown command \"" + word + "\"";
  return "unexpected argument \"" + word + "\"";
}

int report(const CLI::App& app, const CLI::ParseError& e) {
  // --help, --version: CLI11 prints them (to stdout) and says exit 0.
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  const CLI::App& command = failing_command(app);
  if (wants_command(command) && command.remaining().empty()) {
    // `pgwarden`, `pgwarden policy`: no command named at all; the help
    // lists them (on stderr: this is still a usage error).
    std::cerr << app.help();
    return kExitUsage;
  }
  const std::string path = command_path(command);
  std::cerr << path << ": " << usage_message(command, e) << " (try " << path << " --help)\n";
  return kExitUsage;
}

}  // namespace

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args = with_empty_values_split(argc, argv);
  // CLI11 takes the arguments last first.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(std::move(reversed));
  } catch (const CLI::ParseError& e) {
    return report(app, e);
  }
  return std::nullopt;
}

}  // namespace pgw::cli
