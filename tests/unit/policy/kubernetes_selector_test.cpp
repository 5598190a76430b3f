// `k8s:` identity selectors and the `kubernetes:` section: how they load,
// what they refuse, and how a resolved (or unresolved) pod is matched and
// described.
#include <gtest/gtest.h>

#include "policy/identity.h"

namespace pgw::policy {
namespace {

const std::string kUpstream =
    "upstreams: [{name: orders, match: [\"127.0.0.3:5432\"], address: 127.0.0.3:5432, user: u}]\n";
const std::string kUid = "6f1c2b1e-8d3a-4c55-9a0b-1f2e3d4c5b6a";
const std::string kPodCgroup = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                               std::string("6f1c2b1e_8d3a_4c55_9a0b_1f2e3d4c5b6a") + ".slice/cri-containerd-" +
                               std::string(64, 'a') + ".scope";

Result<Config> load(const std::string& yaml) { return load_config_string(kUpstream + yaml, "k.yaml", "/etc/pgwarden"); }

std::shared_ptr<const KubernetesPod> pod(std::string ns, std::string sa, std::map<std::string, std::string> labels) {
  auto p = std::make_shared<KubernetesPod>();
  p->uid = kUid;
  p->namespace_name = std::move(ns);
  p->name = "billing-0";
  p->service_account = std::move(sa);
  p->labels = std::move(labels);
  return p;
}

WorkloadIdentity in_pod(std::shared_ptr<const KubernetesPod> p, std::string why = "") {
  WorkloadIdentity w;
  w.cgroup_path = kPodCgroup;
  w.uid = 0;
  w.pod = std::move(p);
  w.pod_unresolved = std::move(why);
  return w;
}

const char* kSelectors = R"(identities:
  - name: billing
    match: {k8s: {serviceAccount: billing-agent, labels: {app: billing, app.kubernetes.io/part-of: shop}}}
  - name: analytics
    match: {k8s: {namespace: "analytics-*"}}
  - name: fallback
    match: {uid: [0]}
)";

std::string matched(const Config& c, const WorkloadIdentity& w) {
  const IdentityRule* r = match_identity(c, w);
  return r ? r->name : "<none>";
}

TEST(KubernetesSelector, LoadsAndMatchesServiceAccountLabelsAndNamespaceGlob) {
  auto c = load(kSelectors);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->wants_kubernetes());
  EXPECT_FALSE(c->kubernetes.enabled);  // in-cluster defaults
  const auto& sel = c->identities[0].k8s;
  EXPECT_EQ(sel.service_account_glob, "billing-agent");
  EXPECT_EQ(sel.labels.at("app.kubernetes.io/part-of"), "shop");

  const std::map<std::string, std::string> shop = {{"app", "billing"}, {"app.kubernetes.io/part-of", "shop"},
                                                   {"extra", "x"}};
  EXPECT_EQ(matched(*c, in_pod(pod("billing", "billing-agent", shop))), "billing");
  // Every label must be there with that value.
  EXPECT_EQ(matched(*c, in_pod(pod("billing", "billing-agent", {{"app", "billing"}}))), "fallback");
  EXPECT_EQ(matched(*c, in_pod(pod("billing", "billing-agent", {{"app", "Billing"}, {"app.kubernetes.io/part-of", "shop"}}))),
            "fallback");
  EXPECT_EQ(matched(*c, in_pod(pod("billing", "default", shop))), "fallback");
  EXPECT_EQ(matched(*c, in_pod(pod("analytics-eu", "default", {}))), "analytics");
  EXPECT_EQ(matched(*c, in_pod(pod("analytics", "default", {}))), "fallback");
}

TEST(KubernetesSelector, AnUnresolvedPodMatchesOnlySelectorsWithoutKubernetesData) {
  auto c = load(kSelectors);
  ASSERT_TRUE(c.ok()) << c.error();
  WorkloadIdentity w = in_pod(nullptr, "API server unreachable");
  EXPECT_EQ(matched(*c, w), "fallback");
  w.uid = 1000;
  EXPECT_EQ(matched(*c, w), "<none>");
  // The refusal says why.
  EXPECT_NE(describe(w).find("pod " + kUid + " not resolved: API server unreachable"), std::string::npos)
      << describe(w);
  // Not from a cgroup at all (an explicit TCP client): no pod, no k8s match.
  WorkloadIdentity tcp;
  tcp.source = *NetAddress::parse("127.0.0.1:5000");
  EXPECT_EQ(matched(*c, tcp), "<none>");
}

TEST(KubernetesSelector, DescribeNamesNamespacePodAndServiceAccount) {
  const std::string text = describe(in_pod(pod("billing", "billing-agent", {})));
  EXPECT_NE(text.find("pod \"billing/billing-0\""), std::string::npos) << text;
  EXPECT_NE(text.find("serviceAccount \"billing-agent\""), std::string::npos) << text;
  EXPECT_NE(text.find("container aaaaaaaaaaaa"), std::string::npos) << text;
}

TEST(KubernetesSelector, RefusesWhatCouldNeverMatch) {
  const std::pair<const char*, const char*> cases[] = {
      {"identities: [{name: a, match: {k8s: {}}}]\n", "a k8s selector needs namespace, serviceAccount or labels"},
      {"identities: [{name: a, match: {k8s: {namespace: Billing}}}]\n", "expected a Kubernetes name or a glob"},
      {"identities: [{name: a, match: {k8s: {serviceAccount: \"sa one\"}}}]\n", "expected a Kubernetes name"},
      {"identities: [{name: a, match: {k8s: {labels: [app]}}}]\n", "expected a mapping of label names to values"},
      {"identities: [{name: a, match: {k8s: {labels: {}}}}]\n", "an empty label mapping selects nothing"},
      {"identities: [{name: a, match: {k8s: {labels: {app: \"a b\"}}}}]\n", "expected a label value"},
      {"identities: [{name: a, match: {k8s: {labels: {\"a/b/c\": x}}}}]\n", "expected a label name"},
      {"identities: [{name: a, match: {k8s: {service_account: x}}}]\n", "did you mean \"serviceAccount\""},
      {"kubernetes: {api_server: \"http://10.0.0.1:6443\"}\n", "expected an https:// URL"},
      {"kubernetes: {node_name_env: \"NODE-NAME\"}\n", "expected an environment variable name"},
      {"kubernetes: {cgroup_root: \"kubelet\"}\n", "expected a cgroup v2 path"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto c = load(yaml);
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_NE(c.error().find(expected), std::string::npos) << yaml << "\n" << c.error();
  }
}

TEST(KubernetesSelector, OnlyTheKubeletsTreeCountsForAPod) {
  EXPECT_TRUE(in_kubelet_tree(kPodCgroup, "/"));
  EXPECT_TRUE(in_kubelet_tree("/kubepods/burstable/pod" + kUid + "/" + std::string(64, 'b'), "/"));
  EXPECT_TRUE(in_kubelet_tree("/kubelet/kubepods/pod" + kUid, "/kubelet"));
  // A kubepods level of someone's own making, deeper down.
  EXPECT_FALSE(in_kubelet_tree("/user.slice/user-1000.slice/user@1000.service" + kPodCgroup, "/"));
  EXPECT_FALSE(in_kubelet_tree("/kubelet" + kPodCgroup, "/"));
  EXPECT_FALSE(in_kubelet_tree("/kubeletx/kubepods/pod" + kUid, "/kubelet"));
  EXPECT_FALSE(in_kubelet_tree("/kubepods", "/"));
  EXPECT_FALSE(in_kubelet_tree("/kubepods-evil/pod" + kUid, "/"));
}

TEST(KubernetesSelector, KubernetesSectionDefaultsAndPaths) {
  auto c = load("kubernetes:\n  api_server: https://10.96.0.1:443/\n  token_file: token\n  node_name: node-a\n");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->kubernetes.enabled);
  EXPECT_TRUE(c->wants_kubernetes());
  EXPECT_EQ(c->kubernetes.api_server, "https://10.96.0.1:443");
  EXPECT_EQ(c->kubernetes.token_file, "/etc/pgwarden/token");
  EXPECT_EQ(c->kubernetes.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(c->kubernetes.node_name, "node-a");
  EXPECT_EQ(c->kubernetes.node_name_env, "NODE_NAME");
  EXPECT_EQ(c->kubernetes.cgroup_root, "/");
  auto none = load("");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(none->wants_kubernetes());
}

}  // namespace
}  // namespace pgw::policy
