// Parsing what /proc says about a client process. Kept apart from the I/O
// so it can be tested on literal file contents. (Its cgroup path:
// kernel::cgroup_path_from_proc.)
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgw::engine {

// /proc/PID/comm without its trailing newline.
std::string comm_from_proc(std::string_view file);

}  // namespace pgw::engine
