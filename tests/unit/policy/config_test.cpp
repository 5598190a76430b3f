// Loading and validating the YAML config: defaults, every key of the
// contract, and that each mistake is reported with file:line:column and the
// key path.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "policy/config.h"

namespace pgw::policy {
namespace {

namespace fs = std::filesystem;

// A scratch directory holding a password file, removed at the end.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw_policy_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("orders.pw", std::string(kPassword) + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
    fs::permissions(dir_ + "/" + name, fs::perms::owner_read | fs::perms::owner_write);
  }

  Result<Config> load(const std::string& yaml) { return load_config_string(yaml, "config.yaml", dir_); }

  // A minimal valid config; tests append or substitute lines.
  static std::string minimal(const std::string& extra = "") {
    return "upstreams:\n"
           "  - name: orders\n"
           "    match: [\"127.0.0.3:5432\"]\n"
           "    address: 127.0.0.3:5432\n"
           "    user: app_owner\n"
           "    password_file: orders.pw\n" +
           extra;
  }

  // Asserts the load fails and returns the error text.
  std::string error_of(const std::string& yaml) {
    auto r = load(yaml);
    EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
    if (r.ok()) return {};
    EXPECT_EQ(r.error().find(kPassword), std::string::npos) << r.error();
    return r.error();
  }

  static constexpr const char* kPassword = "s3cr3t-Hunter2-pw";
  std::string dir_;
};

TEST_F(ConfigTest, MinimalConfigGetsDocumentedDefaults) {
  auto r = load(minimal());
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = *r;
  EXPECT_EQ(c.listen.to_string(), "127.0.0.1:15432");
  EXPECT_EQ(c.unix_socket, "/run/pgwarden/.s.PGSQL.5432");
  EXPECT_EQ(c.admin_socket, "/run/pgwarden/admin.sock");
  EXPECT_EQ(c.intercept.cgroup, "/");
  EXPECT_EQ(c.intercept.ports, std::vector<uint16_t>{5432});
  EXPECT_EQ(c.intercept.fail, FailMode::closed);
  EXPECT_EQ(c.intercept.bpffs, "/sys/fs/bpf/pgwarden");
  EXPECT_EQ(c.recording.dir, "/var/lib/pgwarden/sessions");
  EXPECT_EQ(c.default_action, DefaultAction::deny);
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.max_message_size, 64u << 20);
  EXPECT_EQ(c.shutdown_grace, std::chrono::seconds(30));
  EXPECT_EQ(c.log_level, LogLevel::info);
  ASSERT_EQ(c.upstreams.size(), 1u);
  const Upstream& u = c.upstreams[0];
  EXPECT_EQ(u.name, "orders");
  EXPECT_EQ(u.tls, TlsMode::prefer);
  EXPECT_EQ(u.connect_timeout, std::chrono::seconds(5));
  EXPECT_FALSE(u.database.has_value());
  ASSERT_TRUE(u.password.has_value());
  EXPECT_EQ(u.password->reveal(), kPassword);  // one trailing newline stripped
  // The only upstream serves explicit clients by default.
  EXPECT_EQ(c.explicit_upstream, "orders");
}

TEST_F(ConfigTest, ExampleConfigLoads) {
  auto r = load_config_file(PGW_EXAMPLE_CONFIG);
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = *r;
  ASSERT_EQ(c.upstreams.size(), 1u);
  ASSERT_TRUE(c.upstreams[0].password.has_value());
  EXPECT_FALSE(c.upstreams[0].password->empty());
  ASSERT_EQ(c.identities.size(), 2u);
  EXPECT_EQ(c.identities[0].cgroup, "/agents/**");
  EXPECT_EQ(c.identities[0].uid, std::vector<uint32_t>{1000});
  EXPECT_EQ(c.identities[0].comm, (std::vector<std::string>{"psql", "python3"}));
  ASSERT_EQ(c.identities[1].source.size(), 1u);
  EXPECT_EQ(c.identities[1].source[0].to_string(), "127.0.0.0/8");
  ASSERT_GE(c.policies.size(), 1u);
  const Policy& p = c.policies[0];
  EXPECT_EQ(p.identity, "coding-agent");
  EXPECT_TRUE(p.allow.has(StatementClass::select));
  EXPECT_TRUE(p.approve.has(StatementClass::ddl));
  EXPECT_TRUE(p.approve.has(StatementClass::truncate));
  EXPECT_TRUE(p.deny.has(StatementClass::delete_));
  EXPECT_TRUE(p.deny.has(StatementClass::copy_from));
  EXPECT_EQ(p.deny.functions, std::vector<std::string>{"pg_read_file"});
  EXPECT_EQ(p.tables.deny, std::vector<std::string>{"hr.*"});
  ASSERT_EQ(p.mask.size(), 2u);
  EXPECT_EQ(p.mask[0].column, "public.customers.ssn");
  EXPECT_EQ(p.mask[0].with.kind, MaskFunction::Kind::partial);
  EXPECT_EQ(p.mask[0].with.last, 4u);
  EXPECT_EQ(p.mask[1].detect,
            (std::vector<Detector>{Detector::credit_card, Detector::us_ssn, Detector::email}));
  EXPECT_EQ(p.approval.timeout, std::chrono::seconds(300));
  EXPECT_EQ(p.approval.notify, "http://127.0.0.1:9099/hook");
  // A fresh git checkout makes the secrets file 0644, which earns a
  // permissions warning; nothing else should be flagged.
  for (const auto& w : c.warnings) EXPECT_NE(w.find("chmod 600"), std::string::npos) << w;
  EXPECT_EQ(c.policy_for("coding-agent", "orders"), &c.policies[0]);
}

}  // namespace
}  // namespace pgw::policy
