// `pgwarden help [COMMAND...]` and `pgwarden version`: what pgwarden says
// about itself. (--help and --version are CLI11's own flags.)
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace pgw::cli {

namespace {

// The command `words` name below `app` ("policy explain"), or `app` itself
// when they name none.
const CLI::App* named_command(const CLI::App& app, const std::vector<std::string>& words, std::string& path) {
  const CLI::App* command = &app;
  path = app.get_name();
  for (const auto& word : words) {
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : command->get_subcommands({})) {
      if (sub->check_name(word)) next = sub;
    }
    if (next == nullptr) {
      path = app.get_name();
      return &app;
    }
    command = next;
    path += " " + next->get_name();
  }
  return command;
}

}  // namespace

void add_help_and_version_commands(CLI::App& app, Action& chosen) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* help = app.add_subcommand("help", "print this help, or a command's (help policy explain)");
  help->add_option("COMMAND", *words, "the command to describe, e.g. policy explain (default: pgwarden)")
      ->type_name("");
  // Help never fails, as it never has: what it cannot place, it ignores.
  help->allow_extras();
  help->callback([&app, &chosen, words] {
    chosen = [&app, words] {
      std::string path;
      const CLI::App* command = named_command(app, *words, path);
      std::cout << app.get_formatter()->make_help(command, path, CLI::AppFormatMode::Normal);
      return 0;
    };
  });

  CLI::App* version = app.add_subcommand("version", "print the version (as --version does)");
  version->callback([&chosen] {
    chosen = [] {
      std::printf("pgwarden %s\n", PGWARDEN_VERSION);
      return 0;
    };
  });
}

}  // namespace pgw::cli
