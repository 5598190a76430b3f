// bpffs: the filesystem that keeps pgwarden's maps and links alive between
// engine processes (pins), so a restarted engine takes over without a gap and
// a crashed one leaves the redirect (and fail-closed) in place.
#pragma once

#include <string>

#include "common/result.h"

namespace pgw::kernel {

inline constexpr const char* kBpffsMountPoint = "/sys/fs/bpf";
inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/pgwarden";

// True when `path` lives on a bpffs.
Result<bool> is_on_bpffs(const std::string& path);

// Mounts bpffs at `mount_point` unless one is already there. Idempotent.
Status ensure_bpffs_mounted(const std::string& mount_point = kBpffsMountPoint);

// Creates `pin_dir` (mode 0700) on a bpffs. When the nearest existing parent
// is not on a bpffs and is the conventional mount point /sys/fs/bpf, bpffs is
// mounted there first; anywhere else that is an error (pgwarden does not
// mount filesystems in places an operator did not choose).
Status ensure_pin_dir(const std::string& pin_dir);

}  // namespace pgw::kernel
