// What the Kubernetes API says about a pod, and the `k8s:` identity selector
// that is matched against it.
//
// The pod uid comes from the kernel (the kubelet's cgroup name, see
// kubernetes_cgroup.h); namespace, name, service account and labels come from
// the API server (engine/kubernetes_watch.h). A workload cannot choose
// either: it can set its own labels only if its service account may patch
// pods, which is the cluster's RBAC to forbid.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pgw::policy {

struct KubernetesPod {
  std::string uid;
  std::string namespace_name;
  std::string name;
  std::string service_account;
  std::map<std::string, std::string> labels;
  friend bool operator==(const KubernetesPod&, const KubernetesPod&) = default;
};

// `identities[].match.k8s`. Every part given must match. namespace and
// serviceAccount are globs (`*` any run of characters, `?` one: Kubernetes
// names hold no '/'); every label listed must be on the pod with exactly
// that value.
struct KubernetesSelector {
  std::optional<std::string> namespace_glob;
  std::optional<std::string> service_account_glob;
  std::map<std::string, std::string> labels;
  bool empty() const { return !namespace_glob && !service_account_glob && labels.empty(); }
  friend bool operator==(const KubernetesSelector&, const KubernetesSelector&) = default;
};

bool selector_matches(const KubernetesSelector& selector, const KubernetesPod& pod);

// Whether `cgroup_path` is in the kubelet's own tree: its `kubepods` or
// `kubepods.slice` level directly below `cgroup_root`. The cgroup path
// parser finds a pod uid under any `kubepods` segment, and a process given
// a cgroup subtree of its own (systemd delegation, a rootless container
// engine) can make `…/kubepods/pod<someone else's uid>/` there: such a
// path must never resolve to that pod.
bool in_kubelet_tree(std::string_view cgroup_path, std::string_view cgroup_root);

}  // namespace pgw::policy
