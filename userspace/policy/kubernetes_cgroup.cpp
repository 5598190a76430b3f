#include "policy/kubernetes_cgroup.h"

#include <cctype>
#include <vector>

namespace pgw::policy {

namespace {

bool all_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A pod uid as the kubelet writes it: 36 characters, dashes (or, in systemd
// unit names, underscores) at 8, 13, 18 and 23.
std::optional<std::string> pod_uid(std::string_view s) {
  if (s.size() != 36) return std::nullopt;
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const bool dash_at = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_at) {
      if (out[i] != '-' && out[i] != '_') return std::nullopt;
      out[i] = '-';
    } else if (!all_hex(std::string_view(&out[i], 1))) {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> container_id(std::string_view s) {
  if (s.size() == 64 && all_hex(s)) return std::string(s);
  return std::nullopt;
}

bool strip_prefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

}  // namespace

KubernetesIds parse_kubernetes_cgroup(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (!seg.empty()) segments.push_back(seg);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  KubernetesIds ids;
  bool under_kubepods = false;
  for (std::string_view seg : segments) {
    if (seg == "kubepods" || seg.starts_with("kubepods.") || seg.starts_with("kubepods-")) under_kubepods = true;
    if (!under_kubepods) continue;
    std::string_view s = seg;
    // systemd: kubepods[-<qos>]-pod<uid>.slice
    if (strip_suffix(s, ".slice")) {
      const size_t pod_at = s.rfind("-pod");
      if (pod_at != std::string_view::npos) {
        if (auto uid = pod_uid(s.substr(pod_at + 4))) ids.pod_uid = uid;
      }
      continue;
    }
    // cgroupfs: pod<uid>
    if (std::string_view p = seg; strip_prefix(p, "pod")) {
      if (auto uid = pod_uid(p)) {
        ids.pod_uid = uid;
        continue;
      }
    }
    if (!ids.pod_uid) continue;
    // The container, below the pod.
    std::string_view c = seg;
    strip_suffix(c, ".scope");
    if (!strip_prefix(c, "cri-containerd-") && !strip_prefix(c, "crio-")) strip_prefix(c, "docker-");
    if (auto id = container_id(c)) ids.container_id = id;
  }
  return ids;
}

}  // namespace pgw::policy
