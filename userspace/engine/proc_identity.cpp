#include "engine/proc_identity.h"

namespace pgw::engine {

std::string comm_from_proc(std::string_view file) {
  while (!file.empty() && (file.back() == '\n' || file.back() == '\0')) file.remove_suffix(1);
  return std::string(file);
}

}  // namespace pgw::engine
