// Parsing what /proc says about a client process. Kept apart from the I/O
// so it can be tested on literal file contents.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgw::engine {

// The cgroup v2 path from /proc/PID/cgroup: the "0::/path" line (present in
// the unified and the hybrid layout alike).
std::optional<std::string> cgroup_v2_path_from_proc(std::string_view file);

// /proc/PID/comm without its trailing newline.
std::string comm_from_proc(std::string_view file);

}  // namespace pgw::engine
