#include "kernel/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pgw::kernel {
namespace fs = std::filesystem;

Result<bool> is_on_bpffs(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) {
    return make_error("statfs " + path + ": " + std::strerror(errno));
  }
  return static_cast<unsigned long>(st.f_type) == static_cast<unsigned long>(BPF_FS_MAGIC);
}

Status ensure_bpffs_mounted(const std::string& mount_point) {
  std::error_code ec;
  fs::create_directories(mount_point, ec);
  if (ec) return make_error("cannot create " + mount_point + ": " + ec.message());
  auto on = is_on_bpffs(mount_point);
  if (!on.ok()) return make_error(on.error());
  if (*on) return ok_status();
  if (::mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0) {
    return make_error("cannot mount bpffs at " + mount_point + ": " + std::strerror(errno));
  }
  return ok_status();
}

Status ensure_pin_dir(const std::string& pin_dir) {
  const fs::path dir = fs::path(pin_dir).lexically_normal();
  if (!dir.is_absolute()) return make_error("pin directory '" + pin_dir + "' must be an absolute path");
  fs::path existing = dir;
  std::error_code ec;
  while (!fs::exists(existing, ec) && existing.has_parent_path() && existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  auto on = is_on_bpffs(existing.string());
  if (!on.ok()) return make_error(on.error());
  if (!*on) {
    const fs::path conventional(kBpffsMountPoint);
    const auto rel = dir.lexically_relative(conventional);
    const bool under_conventional = !rel.empty() && *rel.begin() != "..";
    if (!under_conventional) {
      return make_error("pin directory " + pin_dir + " is not on a bpffs (mount one, or use a directory under " +
                        std::string(kBpffsMountPoint) + ")");
    }
    if (auto st = ensure_bpffs_mounted(kBpffsMountPoint); !st.ok()) return st;
  }
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot create pin directory " + pin_dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  return ok_status();
}

}  // namespace pgw::kernel
