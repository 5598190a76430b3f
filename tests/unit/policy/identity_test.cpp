// Workload identity matching against a loaded config: first match wins, every
// given field must match, missing workload facts never match.
#include <gtest/gtest.h>

#include "policy/identity.h"

namespace pgw::policy {
namespace {

Config load(const std::string& yaml) {
  auto r = load_config_string(yaml, "identity.yaml", "");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? std::move(r).value() : Config{};
}

NetAddress addr(std::string_view text) { return *NetAddress::parse(text); }

const char* kConfig = R"(
upstreams:
  - name: orders
    match: ["127.0.0.3:5432", "10.0.0.0/8:5432"]
    address: 127.0.0.3:5432
    user: app
  - name: billing
    match: ["127.0.0.4:5432", "[fd00::]/8:5432"]
    address: 127.0.0.4:5432
    user: app
explicit_upstream: billing
identities:
  - name: agent-psql
    match: { cgroup: "/agents/**", uid: [1000, 1001], comm: ["psql"] }
  - name: agent-any
    match: { cgroup: "/agents/**" }
  - name: ci
    match: { cgroup: "/ci/*", gid: 2000 }
  - name: local-tcp
    match: { source: ["127.0.0.0/8", "::1"] }
  - name: root-anything
    match: { uid: 0 }
)";

WorkloadIdentity agent(std::string cgroup, uint32_t uid, std::string comm) {
  WorkloadIdentity w;
  w.cgroup_path = std::move(cgroup);
  w.uid = uid;
  w.gid = uid;
  w.comm = std::move(comm);
  w.pid = 4242;
  return w;
}

std::string matched(const Config& c, const WorkloadIdentity& w) {
  const IdentityRule* r = match_identity(c, w);
  return r ? r->name : "<none>";
}

TEST(Identity, FirstRuleWhoseFieldsAllMatchWins) {
  Config c = load(kConfig);
  EXPECT_EQ(matched(c, agent("/agents/a1", 1000, "psql")), "agent-psql");
  EXPECT_EQ(matched(c, agent("/agents", 1001, "psql")), "agent-psql");
  // One field off (uid, then comm) falls through to the next rule.
  EXPECT_EQ(matched(c, agent("/agents/a1", 1002, "psql")), "agent-any");
  EXPECT_EQ(matched(c, agent("/agents/a1/deep", 1000, "python3")), "agent-any");
  EXPECT_EQ(matched(c, agent("/elsewhere", 1000, "psql")), "<none>");
}

TEST(Identity, GidAndSingleSegmentGlob) {
  Config c = load(kConfig);
  WorkloadIdentity w = agent("/ci/job-7", 5, "pytest");
  w.gid = 2000;
  EXPECT_EQ(matched(c, w), "ci");
  w.cgroup_path = "/ci/job-7/step";  // * does not cross '/'
  EXPECT_EQ(matched(c, w), "<none>");
  w.cgroup_path = "/ci/job-7";
  w.gid = 2001;
  EXPECT_EQ(matched(c, w), "<none>");
}

TEST(Identity, FieldsTheWorkloadLacksDoNotMatch) {
  Config c = load(kConfig);
  // An explicit TCP client: no cgroup, uid or comm, only a source address.
  WorkloadIdentity tcp;
  tcp.source = addr("127.0.0.1:40000");
  EXPECT_EQ(matched(c, tcp), "local-tcp");
  tcp.source = addr("[::1]:40000");
  EXPECT_EQ(matched(c, tcp), "local-tcp");
  tcp.source = addr("[::ffff:127.0.0.9]:40000");  // a v4 client on a dual-stack socket
  EXPECT_EQ(matched(c, tcp), "local-tcp");
  tcp.source = addr("192.0.2.1:40000");
  EXPECT_EQ(matched(c, tcp), "<none>");

  // A kernel identity without a source address never matches a source rule,
  // and a workload with no uid never matches a uid rule.
  WorkloadIdentity kernel = agent("/other", 0, "bash");
  EXPECT_EQ(matched(c, kernel), "root-anything");
  kernel.uid.reset();
  EXPECT_EQ(matched(c, kernel), "<none>");
  EXPECT_EQ(matched(c, WorkloadIdentity{}), "<none>");
}

TEST(Identity, EmptyMatchIsACatchAll) {
  Config c = load(R"(
upstreams: [{ name: u, address: 127.0.0.3:5432, user: app }]
identities:
  - { name: specific, match: { uid: 7 } }
  - { name: everyone, match: {} }
policies:
  - { identity: specific }
  - { identity: everyone }
)");
  WorkloadIdentity w;
  w.uid = 7;
  EXPECT_EQ(matched(c, w), "specific");
  w.uid = 8;
  EXPECT_EQ(matched(c, w), "everyone");
  EXPECT_EQ(matched(c, WorkloadIdentity{}), "everyone");
}

TEST(Identity, UpstreamForOriginalDestination) {
  Config c = load(kConfig);
  auto name = [&](std::string_view dst) {
    const Upstream* u = upstream_for_destination(c, addr(dst));
    return u ? u->name : std::string("<none>");
  };
  EXPECT_EQ(name("127.0.0.3:5432"), "orders");
  EXPECT_EQ(name("10.20.30.40:5432"), "orders");
  EXPECT_EQ(name("[::ffff:10.20.30.40]:5432"), "orders");
  EXPECT_EQ(name("127.0.0.4:5432"), "billing");
  EXPECT_EQ(name("[fd00::9]:5432"), "billing");
  EXPECT_EQ(name("127.0.0.3:5433"), "<none>");
  EXPECT_EQ(name("127.0.0.5:5432"), "<none>");
}

TEST(Identity, ExplicitUpstream) {
  Config c = load(kConfig);
  ASSERT_NE(explicit_upstream(c), nullptr);
  EXPECT_EQ(explicit_upstream(c)->name, "billing");
  EXPECT_EQ(explicit_upstream(Config{}), nullptr);
}

TEST(Identity, DescribeNamesWhatTheKernelToldUs) {
  WorkloadIdentity w = agent("/agents/a1", 1000, "psql");
  EXPECT_EQ(describe(w), "cgroup \"/agents/a1\", uid 1000, gid 1000, comm \"psql\", pid 4242");
  WorkloadIdentity tcp;
  tcp.source = addr("127.0.0.1:40000");
  EXPECT_EQ(describe(tcp), "source 127.0.0.1:40000");
  EXPECT_EQ(describe(WorkloadIdentity{}), "no identity information");
  // A process picks its own name: control characters must not reach the
  // client's error message or the log raw.
  WorkloadIdentity evil;
  evil.comm = std::string("x\n\x1b[31m\"y");
  EXPECT_EQ(describe(evil), "comm \"x??[31m\\\"y\"");
}

}  // namespace
}  // namespace pgw::policy
