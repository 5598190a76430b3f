#include "engine/recording_retention.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <spdlog/spdlog.h>

#include "audit/recording_format.h"

namespace pgw::engine {

namespace {

struct Candidate {
  std::string name;
  uint64_t size = 0;
  std::chrono::system_clock::time_point last_write;
  bool open = false;
};

// Another writer (a second pgwarden on this directory) holds its file
// locked while it writes.
bool held_by_a_writer(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

}  // namespace

RetentionPass apply_retention(const std::string& dir, uint64_t max_bytes, std::chrono::seconds max_age,
                              const std::set<std::string>& open_files) {
  namespace fs = std::filesystem;
  RetentionPass pass;
  std::vector<Candidate> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= audit::kFileSuffix.size() || !name.ends_with(audit::kFileSuffix)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    Candidate c;
    c.name = name;
    c.size = static_cast<uint64_t>(st.st_size);
    c.last_write = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    c.open = open_files.count(name) != 0;
    pass.kept_bytes += c.size;
    files.push_back(std::move(c));
  }
  std::sort(files.begin(), files.end(), [](const Candidate& a, const Candidate& b) { return a.name < b.name; });
  const auto now = std::chrono::system_clock::now();
  for (const Candidate& c : files) {
    const bool too_big = max_bytes != 0 && pass.kept_bytes > max_bytes;
    const bool too_old = max_age.count() != 0 && now - c.last_write > max_age;
    if (!too_big && !too_old) continue;
    if (c.open) continue;
    const std::string path = dir + "/" + c.name;
    if (held_by_a_writer(path)) continue;
    if (::unlink(path.c_str()) != 0) {
      spdlog::error("recording retention: cannot remove {}: {}", path, std::strerror(errno));
      continue;
    }
    spdlog::info("recording retention: removed {} ({} bytes; {})", c.name, c.size,
                 too_big ? "recording.max_bytes" : "recording.max_age");
    pass.kept_bytes -= c.size;
    ++pass.removed_files;
    pass.removed_bytes += c.size;
  }
  pass.kept_files = files.size() - pass.removed_files;
  return pass;
}

}  // namespace pgw::engine
