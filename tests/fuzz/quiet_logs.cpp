// Linked into every fuzz target: logging off. A target runs millions of
// inputs, and a log line for each (a denied statement, a malformed row) costs
// more than the input itself while saying nothing the target's properties
// do not check.
#include <spdlog/spdlog.h>

namespace {

const bool logs_off = [] {
  spdlog::set_level(spdlog::level::off);
  return true;
}();

}  // namespace
