// Retention of session recordings (recording.max_bytes, recording.max_age):
// the oldest closed recordings are removed until the directory is under
// both. A file being written is never removed: neither one this engine has
// open nor one another process holds (a writer keeps an flock on its file).
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

namespace pgw::engine {

struct RetentionPass {
  uint64_t removed_files = 0;
  uint64_t removed_bytes = 0;
  uint64_t kept_bytes = 0;  // what the recordings take afterwards
  uint64_t kept_files = 0;
};

// Removes recordings (*.pgwrec) from `dir`, oldest first (file names start
// with the session's start time), while they take more than `max_bytes` (0:
// no limit) or ended (last written) longer than `max_age` ago (0: no
// limit). `open_files` are the names this engine is writing.
RetentionPass apply_retention(const std::string& dir, uint64_t max_bytes, std::chrono::seconds max_age,
                              const std::set<std::string>& open_files);

}  // namespace pgw::engine
