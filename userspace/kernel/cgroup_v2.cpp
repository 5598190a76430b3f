#include "kernel/cgroup_v2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace pgw::kernel {
namespace {

// kernfs file handles (cgroup2 is kernfs) carry the 64-bit node id.
constexpr int kFileidKernfs = 0xfe;

std::string errno_text(int err) { return std::strerror(err); }

// /proc/mounts escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view oct = field.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string_view::npos) {
        out.push_back(static_cast<char>(std::stoi(std::string(oct), nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::string> normalize_cgroup_path(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const size_t start = i;
    while (i < path.size() && path[i] != '/') ++i;
    if (start == i) break;
    const std::string_view segment = path.substr(start, i - start);
    if (segment == "." || segment == "..") {
      return make_error("cgroup path '" + std::string(path) + "' must not contain '.' or '..'");
    }
    out += '/';
    out += segment;
  }
  if (out.empty()) out = "/";
  return out;
}

bool cgroup_contains(std::string_view ancestor, std::string_view path) {
  if (ancestor == "/") return true;
  if (path.size() < ancestor.size() || path.substr(0, ancestor.size()) != ancestor) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

Result<Cgroup2> Cgroup2::discover() {
  std::ifstream mounts("/proc/mounts");
  if (!mounts) return make_error("cannot read /proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, mount_point, fstype;
    if (!(fields >> device >> mount_point >> fstype)) continue;
    if (fstype == "cgroup2") return Cgroup2(unescape_mount_field(mount_point));
  }
  return make_error("no cgroup2 filesystem is mounted (see /proc/mounts)");
}

std::string Cgroup2::absolute(std::string_view cgroup_path) const {
  if (cgroup_path.empty() || cgroup_path == "/") return mount_;
  return mount_ + std::string(cgroup_path);
}

Result<uint64_t> Cgroup2::id_of(std::string_view cgroup_path) const {
  const std::string path = absolute(cgroup_path);
  struct {
    struct file_handle fh;
    uint64_t id;
  } handle{};
  handle.fh.handle_bytes = sizeof(uint64_t);
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, path.c_str(), &handle.fh, &mount_id, 0) == 0 &&
      handle.fh.handle_bytes == sizeof(uint64_t)) {
    uint64_t id = 0;
    std::memcpy(&id, handle.fh.f_handle, sizeof(id));
    return id;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error("cgroup " + std::string(cgroup_path) + " (" + path + "): " + errno_text(errno));
  }
  if (!S_ISDIR(st.st_mode)) return make_error(path + " is not a cgroup directory");
  return static_cast<uint64_t>(st.st_ino);
}

Result<std::string> Cgroup2::path_of(uint64_t id) const {
  // Fast way: ask the kernel to open the directory by its handle.
  FdGuard mount_fd{::open(mount_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (mount_fd.fd >= 0) {
    struct {
      struct file_handle fh;
      uint64_t id;
    } handle{};
    handle.fh.handle_bytes = sizeof(uint64_t);
    handle.fh.handle_type = kFileidKernfs;
    std::memcpy(handle.fh.f_handle, &id, sizeof(id));
    FdGuard dir{::open_by_handle_at(mount_fd.fd, &handle.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir.fd >= 0) {
      std::error_code ec;
      const std::string target =
          std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(dir.fd), ec).string();
      if (!ec && cgroup_contains(mount_, target)) {
        const std::string rest = target.substr(mount_.size());
        return rest.empty() ? std::string("/") : rest;
      }
    }
  }
  // Slow way (no CAP_DAC_READ_SEARCH): walk the hierarchy.
  if (auto root = id_of("/"); root.ok() && *root == id) return std::string("/");
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           mount_, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    const std::string rel = it->path().string().substr(mount_.size());
    if (auto found = id_of(rel); found.ok() && *found == id) return rel;
  }
  return make_error("no cgroup with id " + std::to_string(id));
}

Result<int> Cgroup2::open_dir(std::string_view cgroup_path) const {
  const std::string path = absolute(cgroup_path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open cgroup " + path + ": " + errno_text(errno));
  return fd;
}

std::optional<std::string> cgroup_path_from_proc(std::string_view contents) {
  while (!contents.empty()) {
    const size_t nl = contents.find('\n');
    const std::string_view line = contents.substr(0, nl);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    if (nl == std::string_view::npos) break;
    contents.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

Result<std::string> Cgroup2::cgroup_of_pid(pid_t pid) {
  const std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
  std::ifstream in(file);
  if (!in) return make_error("cannot read " + file);
  const std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (auto path = cgroup_path_from_proc(contents)) return normalize_cgroup_path(*path);
  return make_error(file + " has no cgroup v2 (\"0::\") entry");
}

Status Cgroup2::create(std::string_view cgroup_path) const {
  const std::string path = absolute(cgroup_path);
  if (::mkdir(path.c_str(), 0755) != 0) {
    return make_error("cannot create cgroup " + path + ": " + errno_text(errno));
  }
  return ok_status();
}

Status Cgroup2::remove(std::string_view cgroup_path) const {
  const std::string path = absolute(cgroup_path);
  if (::rmdir(path.c_str()) != 0) {
    return make_error("cannot remove cgroup " + path + ": " + errno_text(errno));
  }
  return ok_status();
}

Status Cgroup2::move_pid(std::string_view cgroup_path, pid_t pid) const {
  const std::string procs = absolute(cgroup_path) + "/cgroup.procs";
  FdGuard fd{::open(procs.c_str(), O_WRONLY | O_CLOEXEC)};
  if (fd.fd < 0) return make_error("cannot open " + procs + ": " + errno_text(errno));
  const std::string text = std::to_string(pid);
  if (::write(fd.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return make_error("cannot move pid " + text + " into " + procs + ": " + errno_text(errno));
  }
  return ok_status();
}

}  // namespace pgw::kernel
