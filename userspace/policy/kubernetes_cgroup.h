// The Kubernetes pod and container a process belongs to, read from its
// cgroup v2 path. The kubelet names cgroups after them, in one of two
// layouts depending on its cgroup driver:
//
//   systemd:   /kubepods.slice/kubepods-burstable.slice/
//              kubepods-burstable-pod<uid, '-' written '_'>.slice/
//              cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
//   cgroupfs:  /kubepods/burstable/pod<uid>/<id> | crio-<id>
//              (guaranteed pods sit directly under /kubepods)
//
// The kernel supplies the path, so a workload cannot choose it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgw::policy {

struct KubernetesIds {
  std::optional<std::string> pod_uid;       // 8-4-4-4-12 lower-case hex, with dashes
  std::optional<std::string> container_id;  // 64 lower-case hex
};

KubernetesIds parse_kubernetes_cgroup(std::string_view cgroup_path);

}  // namespace pgw::policy
