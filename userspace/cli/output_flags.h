// -j and -p, which status, sessions list and policy explain share: plain
// text by default, like bpftool; -j for JSON, -p for indented JSON.
#pragma once

namespace CLI {
class App;
}

namespace pgw::cli {

struct OutputFlags {
  bool json = false;
  bool pretty = false;  // implies json
  bool wants_json() const { return json || pretty; }
};

// Adds -j/--json and -p/--pretty to `command`, bound to `flags`.
void add_output_flags(CLI::App& command, OutputFlags& flags);

}  // namespace pgw::cli
