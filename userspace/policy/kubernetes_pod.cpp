#include "policy/kubernetes_pod.h"

#include "policy/glob.h"

namespace pgw::policy {

bool selector_matches(const KubernetesSelector& selector, const KubernetesPod& pod) {
  // '/' never occurs in a namespace or service account name, so `*` spans
  // the whole name.
  if (selector.namespace_glob && !glob_match(*selector.namespace_glob, pod.namespace_name, '/')) return false;
  if (selector.service_account_glob && !glob_match(*selector.service_account_glob, pod.service_account, '/')) {
    return false;
  }
  for (const auto& [key, value] : selector.labels) {
    auto it = pod.labels.find(key);
    if (it == pod.labels.end() || it->second != value) return false;
  }
  return true;
}

bool in_kubelet_tree(std::string_view cgroup_path, std::string_view cgroup_root) {
  if (cgroup_root != "/") {
    if (!cgroup_path.starts_with(cgroup_root)) return false;
    cgroup_path.remove_prefix(cgroup_root.size());
  }
  if (!cgroup_path.starts_with("/")) return false;
  cgroup_path.remove_prefix(1);
  const std::string_view first = cgroup_path.substr(0, cgroup_path.find('/'));
  return (first == "kubepods" || first == "kubepods.slice") && first.size() < cgroup_path.size();
}

}  // namespace pgw::policy
