// Who is connecting, and which configured rules and upstream that means.
//
// The engine fills a WorkloadIdentity from what the kernel says (the eBPF
// connect record, or SO_PEERCRED on the unix socket) or, for explicit TCP
// clients, only from the peer address. Nothing here comes from the client's
// own startup message: a client cannot talk its way into another identity.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/net_address.h"

namespace pgw::policy {

struct WorkloadIdentity {
  std::optional<std::string> cgroup_path;  // as /proc/PID/cgroup shows it ("/agents/a1")
  std::optional<uint32_t> pid, uid, gid;
  std::optional<std::string> comm;         // the kernel's task name (<= 15 bytes)
  std::optional<NetAddress> source;        // peer address of an explicit TCP client
  // The pod the cgroup path names, as the API server describes it; null
  // while it is not resolved, and then `pod_unresolved` says why ("API
  // server unreachable", "pod unknown"). Only `k8s:` selectors read it.
  std::shared_ptr<const KubernetesPod> pod;
  std::string pod_unresolved;
};

// True when every field the rule gives matches the workload. A field the rule
// gives but the workload lacks does not match: an explicit TCP client has no
// cgroup, so a cgroup rule never admits it, and a pod not resolved matches no
// `k8s:` selector. A rule with no fields matches
// every workload.
bool rule_matches(const IdentityRule& rule, const WorkloadIdentity& who);

// The first identity rule that matches, or nullptr (then `default` decides).
const IdentityRule* match_identity(const Config& config, const WorkloadIdentity& who);

// The upstream serving a redirected connection's original destination: the
// first upstream with a match entry covering it, or nullptr.
const Upstream* upstream_for_destination(const Config& config, const NetAddress& original_dst);
// Likewise for an intercepted unix connect: the upstream whose match names the path.
// /run/X and /var/run/X are one path (on every current distribution /var/run
// is a symlink to /run), so either spelling matches an entry naming the other.
const Upstream* upstream_for_unix_path(const Config& config, const std::string& original_path);
// The spellings of a socket path a client may use for the same socket: the
// path itself and its /run <-> /var/run twin. The kernel hook matches the
// bytes a client wrote, so each spelling must be intercepted.
std::vector<std::string> unix_path_spellings(const std::string& path);

// The upstream for clients that reach pgwarden directly (see config.h).
const Upstream* explicit_upstream(const Config& config);

// One line for the FATAL 28000 "no identity matched" message and the log:
// `cgroup "/agents/a1", uid 1000, comm "psql"` (only the fields known), with
// `pod "ns/name", serviceAccount "sa"` when the pod is resolved, or
// `pod <uid> not resolved: <why>` when it is not.
std::string describe(const WorkloadIdentity& who);

}  // namespace pgw::policy
