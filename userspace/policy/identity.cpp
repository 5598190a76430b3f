#include "policy/identity.h"

#include <algorithm>

#include "policy/glob.h"
#include "policy/kubernetes_cgroup.h"
#include "common/quote.h"

namespace pgw::policy {
namespace {

template <typename T>
bool contains(const std::vector<T>& values, const T& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

bool rule_matches(const IdentityRule& rule, const WorkloadIdentity& who) {
  if (rule.cgroup) {
    if (!who.cgroup_path || !glob_match(*rule.cgroup, *who.cgroup_path, '/')) return false;
  }
  if (!rule.uid.empty() && (!who.uid || !contains(rule.uid, *who.uid))) return false;
  if (!rule.gid.empty() && (!who.gid || !contains(rule.gid, *who.gid))) return false;
  if (!rule.comm.empty() && (!who.comm || !contains(rule.comm, *who.comm))) return false;
  if (!rule.pod_uid.empty() || !rule.container_id.empty()) {
    const KubernetesIds k8s = who.cgroup_path ? parse_kubernetes_cgroup(*who.cgroup_path) : KubernetesIds{};
    if (!rule.pod_uid.empty() && (!k8s.pod_uid || !contains(rule.pod_uid, *k8s.pod_uid))) return false;
    if (!rule.container_id.empty() && (!k8s.container_id || !contains(rule.container_id, *k8s.container_id))) {
      return false;
    }
  }
  if (!rule.k8s.empty() && (!who.pod || !selector_matches(rule.k8s, *who.pod))) return false;
  if (!rule.source.empty()) {
    if (!who.source) return false;
    bool covered = std::any_of(rule.source.begin(), rule.source.end(),
                               [&](const NetPrefix& p) { return p.contains(*who.source); });
    if (!covered) return false;
  }
  return true;
}

const IdentityRule* match_identity(const Config& config, const WorkloadIdentity& who) {
  for (const IdentityRule& rule : config.identities) {
    if (rule_matches(rule, who)) return &rule;
  }
  return nullptr;
}

const Upstream* upstream_for_destination(const Config& config, const NetAddress& original_dst) {
  for (const Upstream& u : config.upstreams) {
    for (const NetPrefix& m : u.match) {
      if (m.contains(original_dst)) return &u;
    }
  }
  return nullptr;
}

std::vector<std::string> unix_path_spellings(const std::string& path) {
  std::vector<std::string> out{path};
  if (path.starts_with("/var/run/")) out.push_back(path.substr(4));
  else if (path.starts_with("/run/")) out.push_back("/var" + path);
  return out;
}

const Upstream* upstream_for_unix_path(const Config& config, const std::string& original_path) {
  const std::vector<std::string> spellings = unix_path_spellings(original_path);
  for (const Upstream& u : config.upstreams) {
    for (const std::string& p : spellings) {
      if (std::find(u.match_unix.begin(), u.match_unix.end(), p) != u.match_unix.end()) return &u;
    }
  }
  return nullptr;
}

const Upstream* explicit_upstream(const Config& config) {
  if (!config.explicit_upstream) return nullptr;
  return config.find_upstream(*config.explicit_upstream);
}

std::string describe(const WorkloadIdentity& who) {
  std::string out;
  auto add = [&](std::string part) {
    if (!out.empty()) out += ", ";
    out += part;
  };
  // Quoted: a process chooses its own comm and cgroup names, and this line
  // goes to clients and logs.
  if (who.cgroup_path) {
    add("cgroup " + quote_for_message(*who.cgroup_path));
    const KubernetesIds k8s = parse_kubernetes_cgroup(*who.cgroup_path);
    if (who.pod) {
      add("pod " + quote_for_message(who.pod->namespace_name + "/" + who.pod->name));
      add("serviceAccount " + quote_for_message(who.pod->service_account));
    } else if (k8s.pod_uid) {
      add("pod " + *k8s.pod_uid + (who.pod_unresolved.empty() ? "" : " not resolved: " + who.pod_unresolved));
    }
    if (k8s.container_id) add("container " + k8s.container_id->substr(0, 12));
  }
  if (who.uid) add("uid " + std::to_string(*who.uid));
  if (who.gid) add("gid " + std::to_string(*who.gid));
  if (who.comm) add("comm " + quote_for_message(*who.comm));
  if (who.pid) add("pid " + std::to_string(*who.pid));
  if (who.source) add("source " + who.source->to_string());
  return out.empty() ? std::string("no identity information") : out;
}

}  // namespace pgw::policy
