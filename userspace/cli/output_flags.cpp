#include "cli/output_flags.h"

#include <CLI/CLI.hpp>

namespace pgw::cli {

void add_output_flags(CLI::App& command, OutputFlags& flags) {
  command.add_flag("-j,--json", flags.json, "print JSON on one line (default: plain text)");
  command.add_flag("-p,--pretty", flags.pretty, "print indented JSON (implies --json)");
}

}  // namespace pgw::cli
