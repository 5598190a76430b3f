// Parsing pgwarden's command line with CLI11, and what a command line that
// does not parse prints: help and the version on stdout (exit 0), a usage
// error as one line on stderr (exit 2, like a bad config).
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace pgw::cli {

inline constexpr int kExitUsage = 2;

// Parses argv into `app` (and so into the options its commands bound).
// Returns the exit code when parsing ended the program (--help, --version,
// a usage error), nullopt when the chosen command should run.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

}  // namespace pgw::cli
