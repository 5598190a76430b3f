// Loading and validating the YAML config: defaults, every key of the
// contract, and that each mistake is reported with file:line:column and the
// key path.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "policy/config.h"
#include "policy/config_keys.h"

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

  // A minimal valid config (lines 1-6); tests append lines from line 7.
 public:
  static std::string minimal(const std::string& extra = "") {
    return "upstreams:\n"
           "  - name: orders\n"
           "    match: [\"127.0.0.3:5432\"]\n"
           "    address: 127.0.0.3:5432\n"
           "    user: app_owner\n"
           "    password_file: orders.pw\n" +
           extra;
  }

 protected:
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
  EXPECT_FALSE(c.intercept.enabled);  // no intercept section: explicit mode only
  EXPECT_EQ(c.intercept.cgroup, "/");
  EXPECT_EQ(c.intercept.ports, std::vector<uint16_t>{5432});
  EXPECT_EQ(c.intercept.fail, FailMode::closed);
  EXPECT_EQ(c.intercept.bpffs, "/sys/fs/bpf/pgwarden");
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
  ASSERT_EQ(p.mask.size(), 3u);
  EXPECT_EQ(p.mask[0].column, "public.customers.ssn");
  EXPECT_EQ(p.mask[0].with.kind, mask::MaskSpec::Kind::partial);
  EXPECT_EQ(p.mask[0].with.last, 4u);
  EXPECT_EQ(p.mask[1].with.kind, mask::MaskSpec::Kind::email);
  EXPECT_EQ(p.mask[2].detect,
            (std::vector<mask::Detector>{mask::Detector::credit_card, mask::Detector::us_ssn, mask::Detector::email}));
  // A fresh git checkout makes the secrets file 0644, which earns a
  // permissions warning; nothing else should be flagged.
  for (const auto& w : c.warnings) EXPECT_NE(w.find("chmod 600"), std::string::npos) << w;
  EXPECT_EQ(c.policy_for("coding-agent", "orders"), &c.policies[0]);
}


// Every supported key, read into the Config (the keys of the file format
// that are not supported yet are refused: NotSupportedYet below).
TEST_F(ConfigTest, EverySupportedKeyIsRead) {
  write("billing.pw", "pw2\r\n");
  write("mask.key", "k3y\n");
  auto r = load(R"yaml(listen: "[::1]:16432"
mask_hash_key_file: mask.key
unix_socket: ""
admin_socket: admin.sock
workers: 3
max_message_size: 1MB
shutdown_grace: 2m
log_level: debug
explicit_upstream: billing
intercept:
  cgroup: /pgwarden/test
  ports: [5432, 6432]
  fail: open
  bpffs: /sys/fs/bpf/pgw-test
upstreams:
  - name: orders
    match: ["127.0.0.3:5432", "10.0.0.0/8:6432"]
    address: 127.0.0.3:5432
    user: app_owner
    password_file: orders.pw
    tls: prefer
    connect_timeout: 1500ms
    database: orders_db
  - name: billing
    match: "[fd00::]/8:5432"
    address: localhost:5433
    user: billing
    password_file: billing.pw
    tls: disable
identities:
  - name: agent
    match: { cgroup: "/pgwarden/test/**", uid: 1000, gid: [100, 101], comm: psql }
  - name: tcp
    match: { source: ["127.0.0.0/8", "::1"] }
policies:
  - identity: agent
    upstream: orders
    allow: [select, "function:public.safe_fn"]
    deny: [insert, update, delete, ddl, role, procedural, "function:PG_READ_FILE"]
    approve: truncate
    tables: { allow: ["public.*"], deny: ["hr.*", "**.secrets"], approve: ["audit.log_*"] }
    mask:
      - { column: "public.customers.ssn", with: "partial(last=4)" }
      - { column: "*.*.email", with: email }
      - { column: "public.cards.**", with: hash }
      - { detect: [credit_card, us_ssn, email, phone, iban, secrets], with: "fixed('[x]')" }
      - { detect: iban, with: "fixed('[x]')" }
    unparseable: forward
    strict: true
  - identity: agent
    allow: [select]
  - identity: tcp
default: allow
)yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = *r;
  EXPECT_EQ(c.listen.to_string(), "[::1]:16432");
  EXPECT_EQ(c.unix_socket, "");
  EXPECT_EQ(c.admin_socket, dir_ + "/admin.sock");
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.max_message_size, 1'000'000u);
  EXPECT_EQ(c.shutdown_grace, std::chrono::minutes(2));
  EXPECT_EQ(c.log_level, LogLevel::debug);
  EXPECT_EQ(c.explicit_upstream, "billing");
  EXPECT_TRUE(c.intercept.enabled);
  EXPECT_TRUE(c.intercept.fast_path);
  EXPECT_EQ(c.intercept.heartbeat_timeout, std::chrono::milliseconds(1000));
  EXPECT_EQ(c.intercept.cgroup, "/pgwarden/test");
  EXPECT_EQ(c.intercept.ports, (std::vector<uint16_t>{5432, 6432}));
  EXPECT_EQ(c.intercept.fail, FailMode::open);
  EXPECT_EQ(c.intercept.bpffs, "/sys/fs/bpf/pgw-test");
  EXPECT_EQ(c.default_action, DefaultAction::allow);

  ASSERT_EQ(c.upstreams.size(), 2u);
  const Upstream& orders = c.upstreams[0];
  ASSERT_EQ(orders.match.size(), 2u);
  EXPECT_EQ(orders.match[1].to_string(), "10.0.0.0/8:6432");
  EXPECT_EQ(orders.tls, TlsMode::prefer);
  EXPECT_EQ(orders.connect_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(orders.database, "orders_db");
  EXPECT_EQ(orders.password_file, dir_ + "/orders.pw");
  const Upstream& billing = c.upstreams[1];
  EXPECT_EQ(billing.address.to_string(), "127.0.0.1:5433");
  ASSERT_EQ(billing.match.size(), 1u);  // a single entry may be written without a list
  EXPECT_EQ(billing.tls, TlsMode::disable);
  EXPECT_EQ(billing.password->reveal(), "pw2");  // \r\n stripped as one line ending

  ASSERT_EQ(c.identities.size(), 2u);
  EXPECT_EQ(c.identities[0].uid, std::vector<uint32_t>{1000});
  EXPECT_EQ(c.identities[0].gid, (std::vector<uint32_t>{100, 101}));
  EXPECT_EQ(c.identities[0].comm, std::vector<std::string>{"psql"});
  EXPECT_EQ(c.identities[1].source.size(), 2u);

  ASSERT_EQ(c.policies.size(), 3u);
  const Policy& p = c.policies[0];
  EXPECT_EQ(p.upstream, "orders");
  EXPECT_EQ(p.allow.functions, std::vector<std::string>{"public.safe_fn"});
  EXPECT_EQ(p.deny.functions, std::vector<std::string>{"pg_read_file"});
  for (auto cls : {StatementClass::insert, StatementClass::update, StatementClass::delete_,
                   StatementClass::ddl, StatementClass::role, StatementClass::procedural}) {
    EXPECT_TRUE(p.deny.has(cls)) << to_string(cls);
  }
  EXPECT_FALSE(p.deny.has(StatementClass::select));
  EXPECT_TRUE(p.approve.has(StatementClass::truncate));
  EXPECT_EQ(p.tables.allow, std::vector<std::string>{"public.*"});
  EXPECT_EQ(p.tables.deny, (std::vector<std::string>{"hr.*", "**.secrets"}));
  EXPECT_EQ(p.tables.approve, std::vector<std::string>{"audit.log_*"});
  ASSERT_EQ(p.mask.size(), 5u);
  EXPECT_EQ(p.mask[1].with.kind, mask::MaskSpec::Kind::email);
  EXPECT_EQ(p.mask[2].with.kind, mask::MaskSpec::Kind::hash);
  EXPECT_EQ(p.mask[3].detect.size(), 6u);
  EXPECT_EQ(p.mask[3].with.fixed_text, "[x]");
  EXPECT_EQ(p.mask[4].detect, std::vector<mask::Detector>{mask::Detector::iban});
  EXPECT_EQ(p.mask[4].with.fixed_text, "[x]");
  ASSERT_TRUE(c.mask_hash_key.has_value());
  EXPECT_EQ(c.mask_hash_key->reveal(), "k3y");
  EXPECT_EQ(c.mask_hash_key_file, dir_ + "/mask.key");
  EXPECT_EQ(p.unparseable, UnparseableAction::forward);
  EXPECT_TRUE(p.strict);

  // Policy lookup: the specific one first, then the identity's catch-all.
  EXPECT_EQ(c.policy_for("agent", "orders"), &c.policies[0]);
  EXPECT_EQ(c.policy_for("agent", "billing"), &c.policies[1]);
  EXPECT_EQ(c.policy_for("tcp", "orders"), &c.policies[2]);
  EXPECT_EQ(c.policy_for("nobody", "orders"), nullptr);
  EXPECT_EQ(c.policies[2].unparseable, UnparseableAction::deny);
  EXPECT_FALSE(c.policies[2].strict);
}

// timeouts: documented defaults, values read, and bounds a typo cannot pass
// (a zero startup timeout would close every client at once).
TEST_F(ConfigTest, TimeoutsAreReadAndBounded) {
  auto d = load(minimal());
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->timeouts.client_startup, std::chrono::seconds(10));
  EXPECT_EQ(d->timeouts.client_idle, std::chrono::milliseconds(0));
  EXPECT_EQ(d->timeouts.upstream_login, std::chrono::seconds(30));
  auto r = load(minimal("timeouts:\n  client_startup: 2s\n  client_idle: 10m\n  upstream_login: 1500ms\n"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->timeouts.client_startup, std::chrono::seconds(2));
  EXPECT_EQ(r->timeouts.client_idle, std::chrono::minutes(10));
  EXPECT_EQ(r->timeouts.upstream_login, std::chrono::milliseconds(1500));
  EXPECT_NE(error_of(minimal("timeouts:\n  client_startup: 0s\n")).find("timeouts.client_startup: must be at least 1s"),
            std::string::npos);
  EXPECT_NE(error_of(minimal("timeouts:\n  upstream_login: 2h\n")).find("must be at most 3600s"), std::string::npos);
  EXPECT_NE(error_of(minimal("timeouts:\n  client_startp: 2s\n")).find("did you mean \"client_startup\"?"),
            std::string::npos);
}

TEST_F(ConfigTest, UnixSocketCanBeTurnedOffWithNothing) {
  auto r = load(minimal("unix_socket:\n"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->unix_socket, "");
}

// An escaped dot belongs to its name (as the matchers read it); an
// unescaped one makes a fourth part.
TEST_F(ConfigTest, ColumnGlobsHaveThreePartsAndEscapedDotsStayInNames) {
  const std::string ids =
      "identities:\n"
      "  - name: agent\n"
      "    match: { uid: 1000 }\n"
      "policies:\n"
      "  - identity: agent\n";
  auto r = load(minimal(ids + "    mask: [{ column: 'public.odd\\.table.e\\.mail', with: redact }]\n"));
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->policies[0].mask.size(), 1u);
  EXPECT_EQ(r->policies[0].mask[0].column, "public.odd\\.table.e\\.mail");
  EXPECT_FALSE(load(minimal(ids + "    mask: [{ column: public.odd.table.email, with: redact }]\n")).ok());
  // An escaped dot alone is a name, not an empty part.
  EXPECT_TRUE(load(minimal(ids + "    mask: [{ column: 'public.customers.\\.', with: redact }]\n")).ok());
  EXPECT_TRUE(load(minimal(ids + "    mask: [{ column: public.cards.**, with: redact }]\n")).ok());
}

// Each case: a config and the exact start of the error it must produce
// ("file:line:column: key.path: ") plus a fragment of the explanation.
struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string location;
  std::string fragment;
};

std::vector<ErrorCase> error_cases() {
  auto m = [](const std::string& extra) { return ConfigTest::minimal(extra); };
  // The upstream of minimal() with one line replaced or added (lines 1-6).
  auto up = [](const std::string& line_or_extra) {
    return "upstreams:\n"
           "  - name: orders\n"
           "    address: 127.0.0.3:5432\n" + line_or_extra;
  };
  const std::string ids =
      "identities:\n"
      "  - name: agent\n"
      "    match: { uid: 1000 }\n";  // lines 7-9 after minimal()
  return {
      // ---- top level
      {"listen_name", m("listen: db.example:5432\n"), "config.yaml:7:9: listen: ", "numeric IP"},
      {"listen_no_port", m("listen: 127.0.0.1\n"), "config.yaml:7:9: listen: ", "host:port"},
      {"listen_port_zero", m("listen: 127.0.0.1:0\n"), "config.yaml:7:9: listen: ", "1..65535"},
      {"listen_port_big", m("listen: 127.0.0.1:65536\n"), "config.yaml:7:9: listen: ", "1..65535"},
      {"listen_v6_brackets", m("listen: ::1:5432\n"), "config.yaml:7:9: listen: ", "brackets"},
      {"listen_list", m("listen: [127.0.0.1:1]\n"), "config.yaml:7:9: listen: ", "got a list"},
      {"default", m("default: maybe\n"), "config.yaml:7:10: default: ",
       "expected one of allow|deny, got \"maybe\""},
      {"log_level", m("log_level: loud\n"), "config.yaml:7:12: log_level: ",
       "trace|debug|info|warn|error|off"},
      {"workers_negative", m("workers: -1\n"), "config.yaml:7:10: workers: ", "0..1024"},
      {"workers_big", m("workers: 5000\n"), "config.yaml:7:10: workers: ", "0..1024"},
      {"size_unit", m("max_message_size: 64XB\n"), "config.yaml:7:19: max_message_size: ",
       "64MiB"},
      {"size_range", m("max_message_size: 1KiB\n"), "config.yaml:7:19: max_message_size: ",
       "between 8KiB and 1GiB"},
      {"grace_unit", m("shutdown_grace: 30\n"), "config.yaml:7:17: shutdown_grace: ",
       "duration"},
      {"unknown_top", m("defualt: deny\n"), "config.yaml:7:1: defualt: ",
       "unknown key \"defualt\"; did you mean \"default\"?"},
      {"unknown_top_far", m("zzz: 1\n"), "config.yaml:7:1: zzz: ", "known: listen"},
      {"duplicate_key", m("default: deny\ndefault: allow\n"), "config.yaml:8:1: default: ",
       "duplicate key (first at line 7)"},
      {"recording_scalar", m("recording: /tmp\n"), "config.yaml:7:12: recording: ",
       "expected a mapping"},
      {"recording_without_key", m("recording:\n  dir: /x\n"),
       "config.yaml:8:3: recording: ", "recording.dir needs recording.signing_key_file"},
      {"recording_unknown", m("recording:\n  dirs: /x\n"),
       "config.yaml:8:3: recording.dirs: ", "did you mean \"dir\"?"},
      {"admin_socket_long", m("admin_socket: /" + std::string(120, 'a') + "\n"),
       "config.yaml:7:15: admin_socket: ", "shorter than 108 bytes"},
      {"unix_socket_list", m("unix_socket: [a]\n"), "config.yaml:7:14: unix_socket: ",
       "got a list"},
      {"explicit_unknown", m("explicit_upstream: billing\n"),
       "config.yaml:7:20: explicit_upstream: ", "no upstream is named \"billing\" (known: orders)"},
      {"not_a_mapping", "- a\n- b\n", "config.yaml:1:1: ", "expected a mapping"},
      {"empty", "", "config.yaml", "empty"},
      {"syntax", m("default: [deny\n"), "config.yaml:8:1: ", "YAML syntax"},
      // ---- intercept
      {"fail", m("intercept:\n  fail: ajar\n"), "config.yaml:8:9: intercept.fail: ",
       "closed|open, got \"ajar\""},
      {"port_zero", m("intercept:\n  ports: [0]\n"), "config.yaml:8:11: intercept.ports[0]: ",
       "1..65535"},
      {"port_text", m("intercept:\n  ports: [5432, pg]\n"),
       "config.yaml:8:17: intercept.ports[1]: ", "got \"pg\""},
      {"port_twice", m("intercept:\n  ports: [5432, 5432]\n"),
       "config.yaml:8:17: intercept.ports[1]: ", "listed twice"},
      {"ports_empty", m("intercept:\n  ports: []\n"), "config.yaml:8:10: intercept.ports: ",
       "at least one port"},
      {"cgroup_relative", m("intercept:\n  cgroup: agents\n"),
       "config.yaml:8:11: intercept.cgroup: ", "cgroup v2 path"},
      {"cgroup_dotdot", m("intercept:\n  cgroup: /a/../b\n"),
       "config.yaml:8:11: intercept.cgroup: ", "no . or .."},
      {"cgroup_glob", m("intercept:\n  cgroup: /a/*\n"), "config.yaml:8:11: intercept.cgroup: ",
       "no globs"},
      {"bpffs_relative", m("intercept:\n  bpffs: pins\n"), "config.yaml:8:10: intercept.bpffs: ",
       "absolute path"},
      {"intercept_unknown", m("intercept:\n  port: [1]\n"), "config.yaml:8:3: intercept.port: ",
       "did you mean \"ports\"?"},
      // ---- upstreams
      {"no_upstreams", "default: deny\n", "config.yaml:1:1: upstreams: ",
       "required key is missing"},
      {"empty_upstreams", "upstreams: []\n", "config.yaml:1:12: upstreams: ",
       "at least one upstream"},
      {"upstreams_map", "upstreams: {name: x}\n", "config.yaml:1:12: upstreams: ",
       "expected a list"},
      {"tls", m("    tls: maybe\n"), "config.yaml:7:10: upstreams[0].tls: ",
       "expected one of disable|prefer|require|verify-ca|verify-full, got \"maybe\""},
      {"connect_timeout_zero", m("    connect_timeout: 0s\n"),
       "config.yaml:7:22: upstreams[0].connect_timeout: ", "longer than 0"},
      {"connect_timeout_unit", m("    connect_timeout: 5\n"),
       "config.yaml:7:22: upstreams[0].connect_timeout: ", "duration"},
      {"database_empty", m("    database: ''\n"), "config.yaml:7:15: upstreams[0].database: ",
       "must not be empty"},
      {"database_long", m("    database: " + std::string(64, 'd') + "\n"),
       "config.yaml:7:15: upstreams[0].database: ", "at most 63 bytes"},
      {"inline_password", m("    password: hunter2\n"), "config.yaml:7:5: upstreams[0].password: ",
       "put it in a file"},
      {"upstream_unknown", m("    adress: 1\n"), "config.yaml:7:5: upstreams[0].adress: ",
       "did you mean \"address\"?"},
      {"missing_user", up(""), "config.yaml:2:5: upstreams[0].user: ", "required key is missing"},
      {"missing_name", "upstreams:\n  - address: 127.0.0.3:5432\n    user: u\n",
       "config.yaml:2:5: upstreams[0].name: ", "required key is missing"},
      {"missing_address", "upstreams:\n  - name: a\n    user: u\n",
       "config.yaml:2:5: upstreams[0].address: ", "required key is missing"},
      {"bad_name", "upstreams:\n  - name: a b\n    address: 127.0.0.3:5432\n    user: u\n",
       "config.yaml:2:11: upstreams[0].name: ", "letters, digits"},
      {"address_name", "upstreams:\n  - name: orders\n    address: pg.local:5432\n    user: u\n",
       "config.yaml:3:14: upstreams[0].address: ", "numeric IP"},
      {"match_no_port", up("    user: u\n    match: [\"127.0.0.3\"]\n"),
       "config.yaml:5:13: upstreams[0].match[0]: ", "CIDR:port"},
      {"match_name", up("    user: u\n    match: [\"db:5432\"]\n"),
       "config.yaml:5:13: upstreams[0].match[0]: ", "numeric IP"},
      {"match_bad_cidr", up("    user: u\n    match: [\"10.0.0.0/40:5432\"]\n"),
       "config.yaml:5:13: upstreams[0].match[0]: ", "prefix length 0..32"},
      {"match_twice", up("    user: u\n    match: [\"10.0.0.0/8:5432\", \"10.1.0.0/8:5432\"]\n"),
       "config.yaml:5:32: upstreams[0].match[1]: ", "listed twice"},
      {"password_missing", up("    user: u\n    password_file: nope.pw\n"),
       "config.yaml:5:20: upstreams[0].password_file: ", "nope.pw\": No such file"},
      {"password_empty", up("    user: u\n    password_file: empty.pw\n"),
       "config.yaml:5:20: upstreams[0].password_file: ", "empty.pw\" is empty"},
      {"password_just_newline", up("    user: u\n    password_file: newline.pw\n"),
       "config.yaml:5:20: upstreams[0].password_file: ", "is empty"},
      {"password_file_empty_key", up("    user: u\n    password_file: ''\n"),
       "config.yaml:5:20: upstreams[0].password_file: ", "must not be empty"},
      {"duplicate_upstream",
       m("  - name: orders\n    address: 127.0.0.4:5432\n    user: u\nexplicit_upstream: orders\n"),
       "config.yaml:7:5: upstreams[1].name: ", "duplicate upstream name \"orders\" (first at line 2)"},
      {"same_match_twice",
       m("  - name: billing\n    match: 127.0.0.3:5432\n    address: 127.0.0.4:5432\n"
         "    user: u\nexplicit_upstream: orders\n"),
       "config.yaml:7:5: upstreams[1].match: ", "already served by upstream \"orders\""},
      {"upstream_is_listen", m("listen: 127.0.0.3:5432\n"),
       "config.yaml:2:5: upstreams[0].address: ", "pgwarden's own listen address"},
      {"explicit_required",
       m("  - name: billing\n    address: 127.0.0.4:5432\n    user: u\n"),
       "config.yaml:1:1: explicit_upstream: ", "(one of orders, billing)"},
      // ---- identities
      {"identity_cgroup", m(ids + "  - { name: b, match: { cgroup: agents } }\n"),
       "config.yaml:10:33: identities[1].match.cgroup: ", "starting with '/'"},
      {"identity_cgroup_empty_segment", m(ids + "  - { name: b, match: { cgroup: /a//b } }\n"),
       "config.yaml:10:33: identities[1].match.cgroup: ", "no empty segments"},
      {"identity_uid", m(ids + "  - { name: b, match: { uid: [abc] } }\n"),
       "config.yaml:10:31: identities[1].match.uid[0]: ", "got \"abc\""},
      {"identity_uid_negative", m(ids + "  - { name: b, match: { uid: -1 } }\n"),
       "config.yaml:10:30: identities[1].match.uid: ", "0..4294967294"},
      {"identity_gid_empty", m(ids + "  - { name: b, match: { gid: [] } }\n"),
       "config.yaml:10:30: identities[1].match.gid: ", "matches nothing"},
      {"identity_comm_long", m(ids + "  - { name: b, match: { comm: [averyveryverylongname] } }\n"),
       "config.yaml:10:32: identities[1].match.comm[0]: ", "truncates a process name to 15 bytes"},
      {"identity_source_port", m(ids + "  - { name: b, match: { source: \"127.0.0.1:5432\" } }\n"),
       "config.yaml:10:33: identities[1].match.source: ", "without a port"},
      {"identity_source_name", m(ids + "  - { name: b, match: { source: [ci.local] } }\n"),
       "config.yaml:10:34: identities[1].match.source[0]: ", "numeric IP"},
      {"identity_unknown_field", m(ids + "  - { name: b, match: { pod: x } }\n"),
       "config.yaml:10:25: identities[1].match.pod: ", "unknown key \"pod\""},
      {"identity_match_missing", m(ids + "  - { name: b }\n"),
       "config.yaml:10:5: identities[1].match: ", "required key is missing"},
      {"identity_duplicate", m(ids + "  - { name: agent, match: {} }\n"),
       "config.yaml:10:5: identities[1].name: ", "duplicate identity name \"agent\" (first at line 8)"},
      // ---- policies
      {"policy_unknown_identity", m("policies:\n  - identity: b\n"),
       "config.yaml:8:15: policies[0].identity: ", "no identity is named \"b\""},
      {"policy_unknown_upstream", m(ids + "policies:\n  - { identity: agent, upstream: billing }\n"),
       "config.yaml:11:34: policies[0].upstream: ", "no upstream is named \"billing\" (known: orders)"},
      {"policy_missing_identity", m("policies:\n  - allow: [select]\n"),
       "config.yaml:8:5: policies[0].identity: ", "required key is missing"},
      {"policy_class", m(ids + "policies:\n  - { identity: agent, allow: [selct] }\n"),
       "config.yaml:11:32: policies[0].allow[0]: ", "did you mean \"select\"?"},
      {"policy_class_list", m(ids + "policies:\n  - { identity: agent, deny: [sudo] }\n"),
       "config.yaml:11:31: policies[0].deny[0]: ",
       "select insert update delete merge copy_to copy_from truncate ddl create alter drop grant "
       "role set transaction procedural admin prepare execute deallocate listen notify lock "
       "unknown) or function:NAME, got \"sudo\""},
      {"policy_function", m(ids + "policies:\n  - { identity: agent, deny: [\"function:a;b\"] }\n"),
       "config.yaml:11:31: policies[0].deny[0]: ", "function:NAME"},
      {"policy_class_twice", m(ids + "policies:\n  - { identity: agent, deny: [lock, lock] }\n"),
       "config.yaml:11:37: policies[0].deny[1]: ", "listed twice"},
      {"policy_allow_and_deny",
       m(ids + "policies:\n  - { identity: agent, allow: [select], deny: [select] }\n"),
       "config.yaml:11:47: policies[0].deny: ", "select is in both allow and deny"},
      {"policy_function_conflict",
       m(ids + "policies:\n  - identity: agent\n    approve: [\"function:f\"]\n"
               "    deny: [\"function:F\"]\n"),
       "config.yaml:12:14: policies[0].approve: ", "function:f is in both deny and approve"},
      {"policy_table_glob", m(ids + "policies:\n  - { identity: agent, tables: { deny: [hr] } }\n"),
       "config.yaml:11:41: policies[0].tables.deny[0]: ", "\"schema.table\" glob"},
      {"policy_table_empty_segment",
       m(ids + "policies:\n  - { identity: agent, tables: { deny: [hr.] } }\n"),
       "config.yaml:11:41: policies[0].tables.deny[0]: ", "\"schema.table\" glob"},
      {"policy_tables_unknown", m(ids + "policies:\n  - { identity: agent, tables: { block: [a.b] } }\n"),
       "config.yaml:11:34: policies[0].tables.block: ", "unknown key"},
      {"policy_table_twice",
       m(ids + "policies:\n  - { identity: agent, tables: { deny: [a.b], allow: [a.b] } }\n"),
       "config.yaml:11:55: policies[0].tables.allow[0]: ", "more than once"},
      {"mask_column_glob",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b, with: redact }]\n"),
       "config.yaml:12:22: policies[0].mask[0].column: ", "\"schema.table.column\" glob"},
      {"mask_both",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b.c, detect: [email], with: redact }]\n"),
       "config.yaml:12:12: policies[0].mask[0]: ", "either column or detect"},
      {"mask_hash_without_key",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b.c, with: hash }]\n"),
       "config.yaml:12:12: policies[0].mask[0]: ", "set mask_hash_key_file"},
      {"mask_detect_functions_differ",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ detect: [email], with: redact }, { detect: [iban], with: \"null\" }]\n"),
       "config.yaml:12:47: policies[0].mask[1]: ", "must use the same function"},
      {"mask_neither", m(ids + "policies:\n  - identity: agent\n    mask: [{ with: redact }]\n"),
       "config.yaml:12:12: policies[0].mask[0]: ", "needs column"},
      {"mask_no_with", m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b.c }]\n"),
       "config.yaml:12:12: policies[0].mask[0].with: ", "required key is missing"},
      {"mask_detector",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ detect: [ssn], with: redact }]\n"),
       "config.yaml:12:23: policies[0].mask[0].detect[0]: ", "credit_card|us_ssn|email|phone|iban|secrets"},
      {"mask_with",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b.c, with: scramble }]\n"),
       "config.yaml:12:35: policies[0].mask[0].with: ", "redact | partial(first=N,last=M)"},
      {"mask_partial",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b.c, with: \"partial(last=x)\" }]\n"),
       "config.yaml:12:35: policies[0].mask[0].with: ", "last must be an integer"},
      {"mask_fixed",
       m(ids + "policies:\n  - identity: agent\n    mask: [{ column: a.b.c, with: \"fixed(N/A)\" }]\n"),
       "config.yaml:12:35: policies[0].mask[0].with: ", "single quotes"},
      // A policy's approval settings: a duration of at least 1s, an http(s) URL.
      {"approval_timeout",
       m(ids + "policies:\n  - { identity: agent, approval: { timeout: soon } }\n"),
       "config.yaml:11:45: policies[0].approval.timeout: ", "expected a duration"},
      {"approval_timeout_short",
       m(ids + "policies:\n  - { identity: agent, approval: { timeout: 10ms } }\n"),
       "config.yaml:11:45: policies[0].approval.timeout: ", "at least 1s"},
      {"approval_notify",
       m(ids + "policies:\n  - { identity: agent, approval: { notify: \"ftp://x\" } }\n"),
       "config.yaml:11:44: policies[0].approval.notify: ", "expected an http:// or https:// URL"},
      {"approval_unknown",
       m(ids + "policies:\n  - { identity: agent, approval: { timout: 1s } }\n"),
       "config.yaml:11:36: policies[0].approval.timout: ", "did you mean \"timeout\"?"},
      {"unparseable", m(ids + "policies:\n  - { identity: agent, unparseable: allow }\n"),
       "config.yaml:11:37: policies[0].unparseable: ", "deny|forward"},
      {"strict", m(ids + "policies:\n  - { identity: agent, strict: yes }\n"),
       "config.yaml:11:32: policies[0].strict: ", "true or false"},
      {"policy_unknown_key", m(ids + "policies:\n  - { identity: agent, alow: [select] }\n"),
       "config.yaml:11:24: policies[0].alow: ", "did you mean \"allow\"?"},
      {"policy_shadowed",
       m(ids + "policies:\n  - { identity: agent }\n  - { identity: agent, upstream: orders }\n"),
       "config.yaml:12:5: policies[1]: ", "never used: policies[0] already covers identity \"agent\" on every upstream"},
      {"policy_duplicate_pair",
       m(ids + "policies:\n  - { identity: agent, upstream: orders }\n  - { identity: agent, upstream: orders }\n"),
       "config.yaml:12:5: policies[1]: ", "on upstream \"orders\""},
  };
}

TEST_F(ConfigTest, EveryMistakeIsReportedWithLocationAndKeyPath) {
  write("empty.pw", "");
  write("newline.pw", "\n");
  for (const ErrorCase& c : error_cases()) {
    SCOPED_TRACE(c.name);
    std::string error = error_of(c.yaml);
    // The expected error is one of the lines; find the one at the location.
    bool found = false;
    std::istringstream lines(error);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with(c.location) && line.find(c.fragment) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found) << "case " << c.name << "\nexpected: " << c.location << "..." << c.fragment
                       << "\ngot:\n" << error << "\nfor:\n" << c.yaml;
  }
}

TEST_F(ConfigTest, AllErrorsAreReportedInFileOrder) {
  std::string error = error_of(minimal(
      "default: maybe\n"
      "log_level: loud\n"
      "intercept: { fail: ajar }\n"
      "listen: nowhere\n"));
  std::vector<std::string> lines;
  std::istringstream in(error);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << error;
  EXPECT_TRUE(lines[0].starts_with("config.yaml:7:")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("config.yaml:8:")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("config.yaml:9:")) << lines[2];
  EXPECT_TRUE(lines[3].starts_with("config.yaml:10:")) << lines[3];
}

TEST_F(ConfigTest, PasswordNeverAppearsInErrors) {
  // The password as a value where a config value is echoed back, in a
  // password file that fails later checks, and next to every other error.
  write("dup.pw", std::string(kPassword) + "\n");
  for (const ErrorCase& c : error_cases()) {
    auto r = load(c.yaml);
    if (!r.ok()) {
      EXPECT_EQ(r.error().find(kPassword), std::string::npos) << r.error();
    }
  }
  // A password file that is not the password but a whole YAML file (a classic
  // mix-up), or too large: the message names the file only.
  write("big.pw", std::string(5000, 'x') + kPassword);
  std::string e = error_of(minimal("  - name: b\n    address: 127.0.0.4:5432\n    user: u\n"
                                   "    password_file: big.pw\nexplicit_upstream: orders\n"));
  EXPECT_NE(e.find("larger than 4096 bytes"), std::string::npos) << e;
  write("nul.pw", std::string(kPassword) + std::string(1, '\0') + "x");
  e = error_of(minimal("  - name: b\n    address: 127.0.0.4:5432\n    user: u\n"
                       "    password_file: nul.pw\nexplicit_upstream: orders\n"));
  EXPECT_NE(e.find("NUL byte"), std::string::npos) << e;
  // Nor in a loaded config printed by any means that reaches a Secret.
  auto ok = load(minimal());
  ASSERT_TRUE(ok.ok());
  std::ostringstream os;
  os << *ok->upstreams[0].password;
  EXPECT_EQ(os.str(), "<redacted>");
}

TEST_F(ConfigTest, WarningsForLikelyMistakes) {
  write("open.pw", "pw\n");
  fs::permissions(dir_ + "/open.pw", fs::perms::others_read, fs::perm_options::add);
  auto r = load(
      "upstreams:\n"
      "  - name: orders\n"
      "    match: [\"127.0.0.3:6543\"]\n"
      "    address: 127.0.0.3:5432\n"
      "    user: app_owner\n"
      "    password_file: open.pw\n"
      "intercept: { ports: [5432] }\n"
      "identities:\n"
      "  - { name: lonely, match: { uid: 5 } }\n");
  ASSERT_TRUE(r.ok()) << r.error();
  std::string all;
  for (const auto& w : r->warnings) all += w + "\n";
  EXPECT_NE(all.find("config.yaml:6: upstreams[0].password_file: "), std::string::npos) << all;
  EXPECT_NE(all.find("chmod 600"), std::string::npos) << all;
  EXPECT_NE(all.find("port 6543 is not in intercept.ports"), std::string::npos) << all;
  EXPECT_NE(all.find("identity \"lonely\" has no policy"), std::string::npos) << all;
  EXPECT_EQ(all.find("pw\n"), std::string::npos);
}

// policy_hash of a recording: the file's bytes exactly (sha256sum's digest),
// changed by any byte, and not by the password file it names.
TEST_F(ConfigTest, Sha256IsTheHashOfTheFileBytes) {
  write("pgwarden.yaml", minimal());
  write("two.yaml", minimal() + "\n");
  auto a = load_config_file(dir_ + "/pgwarden.yaml");
  auto b = load_config_file(dir_ + "/two.yaml");
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  // sha256sum of minimal()'s text.
  EXPECT_EQ(a->sha256, "sha256:7e96cd4b9d156c81cdaed73b289a02c549c14726dbc3d2ef1f971c4dcfa73225");
  EXPECT_NE(a->sha256, b->sha256);
  write("orders.pw", "another password\n");
  auto c = load_config_file(dir_ + "/pgwarden.yaml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->sha256, a->sha256);
}

TEST_F(ConfigTest, FileLoadingResolvesRelativePathsAgainstTheConfigDirectory) {
  write("pgwarden.yaml", minimal("admin_socket: run/admin.sock\n"));
  auto r = load_config_file(dir_ + "/pgwarden.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->source, dir_ + "/pgwarden.yaml");
  EXPECT_EQ(r->admin_socket, dir_ + "/run/admin.sock");
  EXPECT_EQ(r->upstreams[0].password->reveal(), kPassword);

  auto missing = load_config_file(dir_ + "/nope.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nope.yaml: cannot open"), std::string::npos) << missing.error();

  write("bad.yaml", minimal("default: maybe\n"));
  auto bad = load_config_file(dir_ + "/bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().starts_with(dir_ + "/bad.yaml:7:10: default: ")) << bad.error();
}

TEST_F(ConfigTest, HostileDocumentsEndInACleanError) {
  // Deep nesting would recurse through yaml-cpp's parser.
  std::string deep = "a: " + std::string(100'000, '[') + std::string(100'000, ']') + "\n";
  EXPECT_NE(error_of(deep).find("nested deeper"), std::string::npos);
  std::string dashes;
  for (int i = 0; i < 5000; ++i) dashes += "- ";
  EXPECT_NE(error_of(dashes + "x\n").find("nested deeper"), std::string::npos);
  // Aliases share nodes, so a small file can describe a huge tree.
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'i'; ++c, ++prev) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? "," : "") + "*" + prev;
    bomb += "]\n";
  }
  bomb += "upstreams: [*i]\n";
  std::string e = error_of(bomb);
  EXPECT_FALSE(e.empty());
  // A huge text is refused before parsing.
  EXPECT_NE(error_of(std::string(5u << 20, '#')).find("larger than"), std::string::npos);
}

}  // namespace
}  // namespace pgw::policy

namespace pgw::policy {
namespace {

TEST(ConfigIntercept, EnabledFastPathAndHeartbeatKeys) {
  const std::string base = R"(upstreams:
  - name: main
    match: ["127.0.0.1:5432"]
    address: 127.0.0.1:5432
    user: app
    tls: disable
)";
  auto off = load_config_string(base + "intercept:\n  enabled: false\n  fast_path: false\n", "c.yaml", ".");
  ASSERT_TRUE(off.ok()) << off.error();
  EXPECT_FALSE(off->intercept.enabled);
  EXPECT_FALSE(off->intercept.fast_path);
  auto hb = load_config_string(base + "intercept:\n  heartbeat_timeout: 2s\n", "c.yaml", ".");
  ASSERT_TRUE(hb.ok()) << hb.error();
  EXPECT_TRUE(hb->intercept.enabled);
  EXPECT_EQ(hb->intercept.heartbeat_timeout, std::chrono::milliseconds(2000));
  auto bad = load_config_string(base + "intercept:\n  heartbeat_timeout: 10ms\n", "c.yaml", ".");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("c.yaml:8:22: intercept.heartbeat_timeout: must be at least 100ms"), std::string::npos)
      << bad.error();
}

}  // namespace
}  // namespace pgw::policy

namespace pgw::policy {
namespace {

// A document that writes `path` ("recording.dir", "upstreams[].ca_file",
// "identities[].match.k8s.namespace") with a value, inside a config that is
// otherwise valid: the key's error is then the only one.
std::string document_with(const std::string& path) {
  // The required keys of the list elements the path passes through.
  const std::map<std::string, std::string> required = {
      {"upstreams[]", "name: orders, match: [\"127.0.0.3:5432\"], address: 127.0.0.3:5432, user: u"},
      {"identities[]", "name: agent"},
      {"identities[].match", "uid: 1000"},
      {"policies[]", "identity: agent"},
  };
  // Flow style, innermost first: a.b[].c = x  ->  a: {b: [{c: x}]}
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string value = "x";
  std::string prefix = path;
  for (size_t i = parts.size(); i-- > 0;) {
    prefix = prefix.substr(0, prefix.size() - parts[i].size());
    if (!prefix.empty()) prefix.pop_back();  // the dot
    std::string key = parts[i];
    const bool list = key.ends_with("[]");
    if (list) key.resize(key.size() - 2);
    const std::string here = prefix.empty() ? key : prefix + "." + key;
    std::string inner = value;
    if (i + 1 < parts.size() || list) {
      // `value` is the content of a mapping (its own key already written).
      auto extra = required.find(here + (list ? "[]" : ""));
      inner = "{" + value + (extra != required.end() ? ", " + extra->second : "") + "}";
      if (list) inner = "[" + inner + "]";
    }
    value = key + ": " + inner;
  }
  std::string doc = value + "\n";
  if (!path.starts_with("upstreams")) {
    doc += "upstreams: [{name: orders, match: [\"127.0.0.3:5432\"], address: 127.0.0.3:5432, user: u}]\n";
  }
  if (path.starts_with("policies")) doc += "identities: [{name: agent, match: {uid: 1000}}]\n";
  return doc;
}

// Every key of the file format that is not implemented is refused by name,
// at the key, with "not supported yet", and is the only error: such a
// setting must never look as if it were in force.
TEST(NotSupportedYet, EveryUnimplementedKeyIsRefusedByName) {
  size_t checked = 0;
  const std::vector<KeyDoc> keys = config_reference();
  for (const KeyDoc& key : keys) {
    if (key.supported) continue;
    const bool is_section = std::any_of(keys.begin(), keys.end(), [&](const KeyDoc& k) {
      return k.path.starts_with(key.path + ".");
    });
    if (is_section) continue;  // its keys are checked one by one
    const std::string yaml = document_with(key.path);
    auto r = load_config_string(yaml, "config.yaml", "");
    ASSERT_FALSE(r.ok()) << key.path << " was accepted:\n" << yaml;
    std::string shown = key.path;
    for (size_t at; (at = shown.find("[]")) != std::string::npos;) shown.replace(at, 2, "[0]");
    EXPECT_NE(r.error().find(": " + shown + ": not supported yet"), std::string::npos) << r.error() << "\n" << yaml;
    EXPECT_EQ(r.error().find('\n'), std::string::npos) << "not the only error:\n" << r.error() << "\n" << yaml;
    ++checked;
  }
  // The OIDC selectors.
  EXPECT_GE(checked, 3u);
}

// One upstream without a password file (lines 1-5), then `extra`.
std::string one_upstream(const std::string& extra = "") {
  return "upstreams:\n"
         "  - name: orders\n"
         "    match: [\"127.0.0.3:5432\"]\n"
         "    address: 127.0.0.3:5432\n"
         "    user: app_owner\n" +
         extra;
}

TEST(NotSupportedYet, TheErrorIsOneLineWithItsPlace) {
  auto r = load_config_string(
      one_upstream("    tls: disable\nidentities:\n  - name: a\n    match:\n      oidc:\n        subject: [x]\n"),
      "c.yaml", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "c.yaml:11:9: identities[0].match.oidc.subject: not supported yet");
}

// tls: the pair is loaded at load time, so every way it can be wrong is a
// load error (and a reload that keeps the running certificate).
TEST(ClientTls, SettingsAndTheirErrors) {
  auto none = load_config_string(one_upstream("    tls: disable\ntls: {}\n"), "c.yaml", "");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(none->tls.client, ClientTls::allow);
  EXPECT_FALSE(none->tls.offered());

  auto half = load_config_string(one_upstream("    tls: disable\ntls: {cert_file: /nonexistent.pem}\n"), "c.yaml", "");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().find("tls.cert_file needs tls.key_file"), std::string::npos) << half.error();

  auto require = load_config_string(one_upstream("    tls: disable\ntls: {client: require}\n"), "c.yaml", "");
  ASSERT_FALSE(require.ok());
  EXPECT_NE(require.error().find("tls.client: require needs tls.cert_file"), std::string::npos) << require.error();

  auto missing = load_config_string(
      one_upstream("    tls: disable\ntls: {cert_file: /nonexistent/a.pem, key_file: /nonexistent/a.key}\n"), "c.yaml",
      "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("certificate file /nonexistent/a.pem: No such file or directory"), std::string::npos)
      << missing.error();

  auto bad = load_config_string(one_upstream("    tls: disable\ntls: {client: sometimes}\n"), "c.yaml", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("tls.client"), std::string::npos) << bad.error();
}

// ---- upstreams[].tls, ca_file, server_name ---------------------------------

// A self-signed CA certificate (openssl req -x509 -newkey ec), for ca_file.
constexpr std::string_view kCaPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlzCCAT2gAwIBAgIUNq0Ojuj8oUK3sVgTPYoJ28hkQ0QwCgYIKoZIzj0EAwIw\n"
    "IDEeMBwGA1UEAwwVcGd3YXJkZW4gdW5pdCB0ZXN0IENBMCAXDTI2MTIwNzAyNTYw\n"
    "MVoYDzIxMjYxMTEzMDI1NjAxWjAgMR4wHAYDVQQDDBVwZ3dhcmRlbiB1bml0IHRl\n"
    "c3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATUaPXE8YNKxQb943DJyNLg\n"
    "x7rMn4D1Bh/Df5RYkxMhUd5fM2xlSa7seRm7nNOeZtQzHOVaOQ2UPRQxatQz7IYl\n"
    "o1MwUTAdBgNVHQ4EFgQUqlb1vNK3S4LW6tHk1ZgAlmQSIGowHwYDVR0jBBgwFoAU\n"
    "qlb1vNK3S4LW6tHk1ZgAlmQSIGowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD\n"
    "AgNIADBFAiEAo7vOYEuEX+DaiyWH7Kw7VVLFhpr6xwCy4ZtucTykmf0CIDXkHqx2\n"
    "ZmcmNbt6wJVZn4qX4GePxDMCnTQ5kL1QXX3u\n"
    "-----END CERTIFICATE-----\n"
;

TEST_F(ConfigTest, UpstreamTlsModesAndTheirFiles) {
  write("ca.pem", std::string(kCaPem));
  for (const char* mode : {"disable", "prefer", "require", "verify-ca", "verify-full"}) {
    auto r = load(minimal("    tls: " + std::string(mode) + "\n    ca_file: ca.pem\n"));
    ASSERT_TRUE(r.ok()) << mode << ": " << r.error();
    const Upstream& u = r->upstreams[0];
    EXPECT_EQ(to_string(u.tls), mode);
    EXPECT_EQ(u.ca_file, dir_ + "/ca.pem");
    EXPECT_EQ(u.server_name, "127.0.0.3");  // the host part of address
  }
  // The default is prefer, with no warning now that it means TLS.
  auto plain = load(minimal());
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_EQ(plain->upstreams[0].tls, TlsMode::prefer);
  EXPECT_FALSE(tls_verifies_chain(plain->upstreams[0]));
  EXPECT_TRUE(tls_attempted(plain->upstreams[0]));
  EXPECT_FALSE(tls_required(plain->upstreams[0]));

  // As libpq with a root certificate file: require with a ca_file verifies the chain.
  auto req = load(minimal("    tls: require\n    ca_file: ca.pem\n"));
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(tls_verifies_chain(req->upstreams[0]));
  EXPECT_FALSE(tls_verifies_name(req->upstreams[0]));

  auto named = load(minimal("    tls: verify-full\n    ca_file: ca.pem\n    server_name: db.example.internal\n"));
  ASSERT_TRUE(named.ok()) << named.error();
  EXPECT_EQ(named->upstreams[0].server_name, "db.example.internal");
  EXPECT_TRUE(tls_verifies_name(named->upstreams[0]));

  // "localhost" is the host as written, not 127.0.0.1.
  std::string local = minimal("    tls: verify-full\n    ca_file: ca.pem\n");
  local.replace(local.find("address: 127.0.0.3:5432"), 23, "address: localhost:5432");
  auto l = load(local);
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_EQ(l->upstreams[0].server_name, "localhost");
}

TEST_F(ConfigTest, UpstreamTlsMistakes) {
  write("ca.pem", std::string(kCaPem));
  write("not-a-cert.pem", "hello\n");
  EXPECT_EQ(error_of(minimal("    tls: verify-full\n")),
            "config.yaml:7:10: upstreams[0].tls: verify-full needs ca_file: the PEM file of the CA that signed the "
            "server's certificate");
  EXPECT_EQ(error_of(minimal("    tls: verify-ca\n")).find("config.yaml:7:10: upstreams[0].tls: verify-ca needs ca_file"),
            0u);
  const std::string missing = error_of(minimal("    tls: verify-full\n    ca_file: nowhere.pem\n"));
  EXPECT_EQ(missing, "config.yaml:8:14: upstreams[0].ca_file: cannot read " + dir_ +
                         "/nowhere.pem: No such file or directory");
  const std::string garbage = error_of(minimal("    tls: verify-full\n    ca_file: not-a-cert.pem\n"));
  EXPECT_EQ(garbage, "config.yaml:8:14: upstreams[0].ca_file: " + dir_ +
                         "/not-a-cert.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  EXPECT_NE(error_of(minimal("    tls: verify-full\n    ca_file: ca.pem\n    server_name: \"db example\"\n"))
                .find("upstreams[0].server_name: expected a host name or IP address"),
            std::string::npos);
  // Files that would be ignored are worth a warning.
  auto unused = load(minimal("    tls: disable\n    ca_file: ca.pem\n    server_name: db\n"));
  ASSERT_TRUE(unused.ok()) << unused.error();
  ASSERT_EQ(unused->warnings.size(), 2u);
  EXPECT_NE(unused->warnings[0].find("upstreams[0].ca_file: not used: tls is disable"), std::string::npos);
  EXPECT_NE(unused->warnings[1].find("upstreams[0].server_name: not used: tls is disable"), std::string::npos);
}

// A reload applies everything but the keys the table marks restart-only;
// the engine warns about those by name.
TEST(Reload, RestartOnlyChangesAreNamed) {
  auto a = load_config_string(one_upstream(), "a.yaml", "");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_TRUE(restart_only_changes(*a, *a).empty());
  auto b = load_config_string(one_upstream("listen: 127.0.0.1:16000\nworkers: 2\nlog_level: debug\n"
                                           "intercept: { ports: [6432] }\n"),
                              "b.yaml", "");
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(restart_only_changes(*a, *b), (std::vector<std::string>{"listen", "workers", "intercept"}));
}

// ---- intercept.unix_paths -----------------------------------------------

TEST(InterceptUnixPaths, PathsAndTheUpstreamThatServesThem) {
  auto r = load_config_string(
      "intercept:\n"
      "  unix_paths: [/var/run/postgresql/.s.PGSQL.5432]\n"
      "upstreams:\n"
      "  - name: local\n"
      "    match: [\"127.0.0.1:5432\", /var/run/postgresql/.s.PGSQL.5432]\n"
      "    address: 127.0.0.1:5432\n"
      "    user: app_owner\n",
      "c.yaml", "");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->intercept.unix_paths, std::vector<std::string>{"/var/run/postgresql/.s.PGSQL.5432"});
  ASSERT_EQ(r->upstreams.size(), 1u);
  EXPECT_EQ(r->upstreams[0].match.size(), 1u);
  EXPECT_EQ(r->upstreams[0].match_unix, std::vector<std::string>{"/var/run/postgresql/.s.PGSQL.5432"});
  EXPECT_TRUE(r->warnings.empty());
}

TEST(InterceptUnixPaths, RelativeLongAndRepeatedPathsAreRefused) {
  for (const std::string& paths : {std::string("[run/.s.PGSQL.5432]"), std::string("[/a, /a]"),
                                   "[/" + std::string(107, 'x') + "]"}) {
    auto r = load_config_string("intercept:\n  unix_paths: " + paths + "\n" + one_upstream(), "c.yaml", "");
    EXPECT_FALSE(r.ok()) << paths;
  }
}

TEST(InterceptUnixPaths, AMatchedPathThatIsNotInterceptedIsAWarning) {
  auto r = load_config_string(
      "intercept: {}\n"
      "upstreams:\n"
      "  - name: local\n"
      "    match: [/tmp/.s.PGSQL.5432]\n"
      "    address: 127.0.0.1:5432\n"
      "    user: app_owner\n",
      "c.yaml", "");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("/tmp/.s.PGSQL.5432 is not in intercept.unix_paths"), std::string::npos)
      << r->warnings[0];
}

}  // namespace
}  // namespace pgw::policy
