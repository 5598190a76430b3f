// cgroup v2: where the hierarchy is mounted, path <-> id, and the few
// mutations pgwarden needs (tests and the quickstart create a cgroup and move
// a process into it).
//
// Paths are "cgroup paths" as /proc/PID/cgroup shows them: relative to the
// cgroup2 root, with a leading slash ("/", "/agents/a1"). The mount point is
// read from /proc/mounts and never assumed: hybrid systems mount cgroup2 at
// /sys/fs/cgroup/unified, pure v2 systems at /sys/fs/cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace pgw::kernel {

// "/a//b/" -> "/a/b"; "" -> "/". Refuses "." and ".." segments so a config
// cannot escape the hierarchy.
Result<std::string> normalize_cgroup_path(std::string_view path);

// The cgroup v2 path in the contents of a /proc/PID/cgroup file: its
// "0::/path" line, present in the unified and the hybrid layout alike.
std::optional<std::string> cgroup_path_from_proc(std::string_view contents);

// True when `ancestor` is `path` or one of its parents (both normalized).
bool cgroup_contains(std::string_view ancestor, std::string_view path);

class Cgroup2 {
 public:
  // Reads /proc/mounts; fails when no cgroup2 filesystem is mounted.
  static Result<Cgroup2> discover();
  explicit Cgroup2(std::string mount_point) : mount_(std::move(mount_point)) {}

  const std::string& mount_point() const { return mount_; }
  // Filesystem path of a cgroup path (which must be normalized).
  std::string absolute(std::string_view cgroup_path) const;

  // The cgroup id BPF sees (bpf_get_current_cgroup_id): the kernfs node id,
  // read with name_to_handle_at (falls back to the directory's inode number,
  // which is the same value on 64-bit kernels).
  Result<uint64_t> id_of(std::string_view cgroup_path) const;
  // Id -> cgroup path, without caching: open_by_handle_at (needs
  // CAP_DAC_READ_SEARCH), else a walk of the hierarchy.
  Result<std::string> path_of(uint64_t id) const;
  // O_DIRECTORY fd of the cgroup, for attaching programs. Caller closes it.
  Result<int> open_dir(std::string_view cgroup_path) const;
  // The cgroup v2 path of a process ("0::" line of /proc/PID/cgroup).
  static Result<std::string> cgroup_of_pid(pid_t pid);

  Status create(std::string_view cgroup_path) const;  // mkdir; fails if it exists
  Status remove(std::string_view cgroup_path) const;  // rmdir; must hold no process
  Status move_pid(std::string_view cgroup_path, pid_t pid) const;

 private:
  std::string mount_;
};

}  // namespace pgw::kernel
