// Target `config`: the YAML config loader on any text, as `pgwarden run`
// and SIGHUP load it. It returns a config or an error naming where and why;
// it never crashes, throws or hangs.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "policy/config.h"

using namespace pgw;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative paths (password_file, ...) resolve in a directory with none.
  auto config = policy::load_config_string(text, "fuzz.yaml", "/nonexistent");
  if (!config.ok()) fuzz::check(!config.error().empty());
  return 0;
}
