#include "policy/kubernetes_cgroup.h"

#include <gtest/gtest.h>

#include "policy/config.h"
#include "policy/identity.h"

namespace pgw::policy {
namespace {

const std::string kUid = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
const std::string kId = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e";

TEST(KubernetesCgroup, SystemdDriverContainerd) {
  auto ids = parse_kubernetes_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/cri-containerd-" + kId + ".scope");
  EXPECT_EQ(ids.pod_uid, kUid);
  EXPECT_EQ(ids.container_id, kId);
}

TEST(KubernetesCgroup, SystemdDriverCrioAndDockerAndGuaranteed) {
  auto crio = parse_kubernetes_cgroup("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/crio-" + kId + ".scope");
  EXPECT_EQ(crio.pod_uid, kUid);
  EXPECT_EQ(crio.container_id, kId);
  auto docker = parse_kubernetes_cgroup("/kubepods.slice/kubepods-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/docker-" + kId + ".scope");
  EXPECT_EQ(docker.pod_uid, kUid);
  EXPECT_EQ(docker.container_id, kId);
}

TEST(KubernetesCgroup, CgroupfsDriver) {
  auto be = parse_kubernetes_cgroup("/kubepods/besteffort/pod" + kUid + "/" + kId);
  EXPECT_EQ(be.pod_uid, kUid);
  EXPECT_EQ(be.container_id, kId);
  auto guaranteed = parse_kubernetes_cgroup("/kubepods/pod" + kUid + "/crio-" + kId);
  EXPECT_EQ(guaranteed.pod_uid, kUid);
  EXPECT_EQ(guaranteed.container_id, kId);
  // The pod's own cgroup (no container below it yet).
  auto pod_only = parse_kubernetes_cgroup("/kubepods/burstable/pod" + kUid);
  EXPECT_EQ(pod_only.pod_uid, kUid);
  EXPECT_FALSE(pod_only.container_id.has_value());
}

TEST(KubernetesCgroup, NotKubernetesOrMalformed) {
  EXPECT_FALSE(parse_kubernetes_cgroup("/agents/a1").pod_uid.has_value());
  EXPECT_FALSE(parse_kubernetes_cgroup("/system.slice/docker-" + kId + ".scope").pod_uid.has_value());
  // Look-alikes outside /kubepods, short or upper-case ids, no pod.
  EXPECT_FALSE(parse_kubernetes_cgroup("/agents/pod" + kUid + "/" + kId).pod_uid.has_value());
  EXPECT_FALSE(parse_kubernetes_cgroup("/kubepods/burstable/pod1234/" + kId).pod_uid.has_value());
  EXPECT_FALSE(parse_kubernetes_cgroup("/kubepods/burstable/" + kId).container_id.has_value());
  auto upper = parse_kubernetes_cgroup("/kubepods/pod" + kUid + "/ABCDEF");
  EXPECT_FALSE(upper.container_id.has_value());
}

TEST(KubernetesCgroup, SelectorFieldsMatchThroughTheIdentityRules) {
  auto config = load_config_string(
      "upstreams:\n"
      "  - { name: db, match: [\"127.0.0.3:5432\"], address: 127.0.0.3:5432, user: app, tls: disable }\n"
      "identities:\n"
      "  - { name: that-pod, match: { pod_uid: [\"" + kUid + "\"] } }\n"
      "  - { name: that-container, match: { container_id: [\"" + kId + "\"] } }\n"
      "policies:\n"
      "  - { identity: that-pod, allow: [select] }\n"
      "  - { identity: that-container, allow: [select] }\n",
      "c.yaml", ".");
  ASSERT_TRUE(config.ok()) << config.error();
  WorkloadIdentity pod;
  pod.cgroup_path = "/kubepods/burstable/pod" + kUid + "/" + kId;
  const IdentityRule* r = match_identity(*config, pod);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "that-pod");
  EXPECT_NE(describe(pod).find("pod " + kUid), std::string::npos);
  WorkloadIdentity other;
  other.cgroup_path = "/kubepods/burstable/pod0a1b2c3d-4e5f-6071-8293-000000000000/" + kId;
  r = match_identity(*config, other);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "that-container");
  WorkloadIdentity none;
  none.cgroup_path = "/agents/a1";
  EXPECT_EQ(match_identity(*config, none), nullptr);

  auto bad = load_config_string(
      "upstreams:\n"
      "  - { name: db, match: [\"127.0.0.3:5432\"], address: 127.0.0.3:5432, user: app, tls: disable }\n"
      "identities:\n"
      "  - { name: x, match: { pod_uid: [\"short\"] } }\n",
      "c.yaml", ".");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("identities[0].match.pod_uid[0]: expected a 36-character pod uid"), std::string::npos)
      << bad.error();
}

}  // namespace
}  // namespace pgw::policy
