#include "engine/proc_identity.h"

namespace pgw::engine {

std::optional<std::string> cgroup_v2_path_from_proc(std::string_view file) {
  while (!file.empty()) {
    size_t nl = file.find('\n');
    std::string_view line = file.substr(0, nl);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    if (nl == std::string_view::npos) break;
    file.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

std::string comm_from_proc(std::string_view file) {
  while (!file.empty() && (file.back() == '\n' || file.back() == '\0')) file.remove_suffix(1);
  return std::string(file);
}

}  // namespace pgw::engine
