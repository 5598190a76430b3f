// pgwarden's configuration: the typed form of the YAML file, and the
// functions that load and validate it. docs/configuration.md is the user's
// reference; every key is declared once, in config_keys.cpp, and that table
// drives both the loader and the reference.
//
// A Config is immutable once loaded. The engine holds it as
// std::shared_ptr<const Config> and swaps the pointer on reload (SIGHUP), so a
// session keeps the config it started a statement with.
//
// Conventions of the file (checked by the loader, documented here once):
// - every key is known; an unknown key is an error (a typo must not silently
//   drop a rule), and so is a key of the file format that this version does
//   not implement yet ("recording.dir: not supported yet"): a setting that
//   would be ignored must not look as if it were in force;
// - a relative path is relative to the directory of the config file;
// - durations: an integer with ms, s, m or h ("300s"); sizes: an integer with
//   B, kB/KB (1000), MB, GB, KiB (1024), MiB, GiB, or a bare integer of bytes;
// - addresses are numeric ("127.0.0.1:15432", "[::1]:15432"); only
//   "localhost" is accepted as a name (127.0.0.1), because the engine never
//   resolves names on its loop thread;
// - explicit_upstream: the upstream for clients that reach pgwarden directly
//   (unix_socket, or a plain TCP connection to listen) rather than through the
//   eBPF redirect. With one upstream it defaults to that one; with several it
//   must be set, because `listen` always accepts explicit clients too and
//   guessing which database they meant would be a silent misroute.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mask/detector.h"
#include "mask/mask_function.h"
#include "policy/kubernetes_pod.h"
#include "policy/net_address.h"
#include "policy/secret.h"
#include "policy/statement_class.h"

namespace pgw::policy {

enum class TlsMode : uint8_t { disable, prefer, require, verify_ca, verify_full };
enum class FailMode : uint8_t { closed, open };
enum class DefaultAction : uint8_t { deny, allow };
enum class LogLevel : uint8_t { trace, debug, info, warn, error, off };
enum class UnparseableAction : uint8_t { deny, forward };

std::string_view to_string(TlsMode m);      // "verify-full"
std::string_view to_string(FailMode m);
std::string_view to_string(DefaultAction a);
std::string_view to_string(LogLevel l);
std::string_view to_string(UnparseableAction a);

struct InterceptConfig {
  // Transparent interception runs only when the config has an `intercept:`
  // section (and it does not say `enabled: false`): a config without one is
  // explicit mode only, and never attaches anything to the host.
  bool enabled = false;
  std::string cgroup = "/";            // cgroup v2 subtree, relative to the cgroup2 mount
  std::vector<uint16_t> ports = {5432};
  FailMode fail = FailMode::closed;
  std::string bpffs = "/sys/fs/bpf/pgwarden";  // where links and maps are pinned
  bool fast_path = true;               // sk_msg moves bytes between the two local ends
  // While the engine's heartbeat is older than this, redirected connects
  // fail (closed) or go straight to the database (open).
  std::chrono::milliseconds heartbeat_timeout{1000};
  // The database's unix sockets (as clients name them) whose connects go to
  // pgwarden too (cgroup connect_unix, Linux >= 6.7).
  std::vector<std::string> unix_paths;
  friend bool operator==(const InterceptConfig&, const InterceptConfig&) = default;
};

struct Upstream {
  std::string name;
  std::vector<NetPrefix> match;        // original destinations this upstream serves (ports required)
  std::vector<std::string> match_unix; // intercepted unix socket paths this upstream serves
  NetAddress address;                  // where the engine connects
  std::string user;
  std::optional<Secret> password;      // from password_file; absent: no password auth
  std::string password_file;           // resolved path, for messages; never the value
  TlsMode tls = TlsMode::prefer;
  std::string ca_file;                 // resolved path of the CA bundle; empty: none
  // The name sent as SNI and checked against the certificate by
  // verify-full: `server_name`, else the host part of `address` as written
  // ("localhost", "10.0.0.5", "::1").
  std::string server_name;
  std::chrono::milliseconds connect_timeout{5000};
  std::optional<std::string> database; // absent: the client's database name passes through
  friend bool operator==(const Upstream&, const Upstream&) = default;
};

// libpq's sslmode rules, in one place for the engine and the catalog
// connection. TLS is attempted unless `disable`; `prefer` falls back to
// plaintext when the server answers N. The chain is verified for verify-ca
// and verify-full, and, as libpq does when a root certificate file exists,
// for prefer and require with a ca_file; verify-full also checks the name.
inline bool tls_attempted(const Upstream& u) { return u.tls != TlsMode::disable; }
inline bool tls_required(const Upstream& u) { return u.tls != TlsMode::disable && u.tls != TlsMode::prefer; }
inline bool tls_verifies_chain(const Upstream& u) {
  return u.tls == TlsMode::verify_ca || u.tls == TlsMode::verify_full ||
         (tls_attempted(u) && !u.ca_file.empty());
}
inline bool tls_verifies_name(const Upstream& u) { return u.tls == TlsMode::verify_full; }

// `kubernetes:` — where the pod uids of this node's cgroups are resolved to
// namespace, name, service account and labels (engine/kubernetes_watch.h).
// The resolver runs when the section is written or an identity uses `k8s:`.
struct KubernetesConfig {
  bool enabled = false;                // the section is written
  std::string api_server;              // empty: in-cluster (KUBERNETES_SERVICE_HOST/PORT)
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string node_name;               // empty: from the environment variable node_name_env
  std::string node_name_env = "NODE_NAME";
  // The kubelet's --cgroup-root: a pod uid counts only from a cgroup whose
  // kubepods level sits directly below it (see kubernetes_pod.h).
  std::string cgroup_root = "/";
  friend bool operator==(const KubernetesConfig&, const KubernetesConfig&) = default;
};

// A workload rule. Every field that is given must match; a field the
// workload does not have (e.g. no cgroup for an explicit TCP client) does
// not match.
struct IdentityRule {
  std::string name;
  std::optional<std::string> cgroup;   // glob, '/'-separated: * one segment, ** any
  std::vector<uint32_t> uid;           // empty: not part of the rule
  std::vector<uint32_t> gid;
  std::vector<std::string> comm;       // exact, as the kernel reports it (<= 15 bytes)
  std::vector<NetPrefix> source;       // peer address of explicit TCP clients (no ports)
  std::vector<std::string> pod_uid;       // Kubernetes pod uids, from the cgroup path
  std::vector<std::string> container_id;  // container ids (64 hex), from the cgroup path
  KubernetesSelector k8s;                 // needs the pod resolved through the API server
  friend bool operator==(const IdentityRule&, const IdentityRule&) = default;
};

// One of allow / deny / approve: statement classes plus named functions.
struct RuleList {
  std::bitset<kStatementClassCount> classes;
  // Function names as written after "function:", folded to lower case as
  // PostgreSQL folds unquoted identifiers; may be schema-qualified.
  std::vector<std::string> functions;

  bool has(StatementClass c) const { return classes.test(static_cast<size_t>(c)); }
  bool empty() const { return classes.none() && functions.empty(); }
  friend bool operator==(const RuleList&, const RuleList&) = default;
};

// `tables:` globs on "schema.table" ('.'-separated).
struct TableRules {
  std::vector<std::string> allow, deny, approve;
  friend bool operator==(const TableRules&, const TableRules&) = default;
};

// Exactly one of column / detect is set.
struct MaskRule {
  std::optional<std::string> column;   // "schema.table.column" glob ('.'-separated)
  std::vector<mask::Detector> detect;
  mask::MaskSpec with;
  friend bool operator==(const MaskRule&, const MaskRule&) = default;
};

// `policies[].approval`: overrides of the top-level `approval` settings for
// the statements this policy holds.
struct PolicyApproval {
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::string> notify;  // webhook URL
  friend bool operator==(const PolicyApproval&, const PolicyApproval&) = default;
};

struct Policy {
  std::string identity;                // name of an IdentityRule
  std::optional<std::string> upstream; // absent: this identity on any upstream
  RuleList allow, deny, approve;
  TableRules tables;
  std::vector<MaskRule> mask;
  UnparseableAction unparseable = UnparseableAction::deny;
  bool strict = false;                 // also deny masked columns in WHERE/JOIN/GROUP/ORDER
  PolicyApproval approval;
  friend bool operator==(const Policy&, const Policy&) = default;
};

// Who may decide a held statement. Unset lists: root on the admin socket
// only. root may always decide (it can rewrite this file anyway); nobody
// decides a request of their own uid.
struct ApproverRules {
  std::vector<std::string> unix_users;     // on the admin socket (SO_PEERCRED)
  std::vector<std::string> unix_groups;    // members, primary or supplementary
  std::vector<std::string> console_users;  // web console users (their token)
  unsigned min_approvals = 1;              // distinct approvers a request needs
  friend bool operator==(const ApproverRules&, const ApproverRules&) = default;
};

// `tls:` — TLS on the client leg. pgwarden terminates it: the certificate
// and key are loaded (and checked to match) at load and at every reload.
enum class ClientTls : uint8_t { disable, allow, require };
std::string_view to_string(ClientTls m);  // "require"
struct TlsConfig {
  std::string cert_file;  // empty: no TLS for clients (SSLRequest answered 'N')
  std::string key_file;
  ClientTls client = ClientTls::allow;
  // Whether an SSLRequest is answered 'S'.
  bool offered() const { return !cert_file.empty() && client != ClientTls::disable; }
  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// `recording:` — every session on disk as the client saw it, signed.
struct RecordingConfig {
  std::string dir;               // empty: recording is off
  std::string signing_key_file;  // Ed25519 private key (PEM), required with dir
  bool required = false;         // true: no recording, no session (53100)
  // Retention: the oldest closed recordings go until both hold (0: no limit).
  uint64_t max_bytes = 0;
  std::chrono::seconds max_age{0};
  // The control database's session index (a row per session of every node).
  std::optional<std::string> index_dsn_file;
  friend bool operator==(const RecordingConfig&, const RecordingConfig&) = default;
};

// `timeouts:` — how long a peer may keep a session waiting (checked on each
// loop thread's one-second tick, an io_uring timeout: no timer per session).
struct TimeoutsConfig {
  // From accept to a complete startup packet (like authentication_timeout).
  std::chrono::milliseconds client_startup{10'000};
  // A relaying session idle between transactions this long is ended with
  // 57P05, like idle_session_timeout; 0: off.
  std::chrono::milliseconds client_idle{0};
  // From the upstream's accept to its first ReadyForQuery.
  std::chrono::milliseconds upstream_login{30'000};
  friend bool operator==(const TimeoutsConfig&, const TimeoutsConfig&) = default;
};

// `approval:` — how statements a policy marks `approve` are held and decided.
struct ApprovalConfig {
  std::chrono::milliseconds timeout{300'000};
  std::optional<std::string> notify;         // webhook URL for new requests and outcomes
  std::optional<std::string> store_dsn_file; // one queue for every node, in a PostgreSQL database
  ApproverRules approvers;
  friend bool operator==(const ApprovalConfig&, const ApprovalConfig&) = default;
};

struct Config {
  std::string source;                  // file name the config came from (for messages)
  // "sha256:<hex>" of the config's bytes as loaded: the policy in force, so a
  // recording (its header's policy_hash) can be matched to the exact file.
  // The config has no includes; the files it names (passwords, keys) are
  // secrets and are not covered.
  std::string sha256;

  NetAddress listen = NetAddress::ipv4(0x7f000001, 15432);
  std::string unix_socket = "/run/pgwarden/.s.PGSQL.5432";  // empty: disabled
  std::string admin_socket = "/run/pgwarden/admin.sock";
  std::string admin_socket_group;      // set: the socket is 0660 and this group may use it
  std::optional<NetAddress> console_listen;  // web console; absent: off
  std::optional<NetAddress> metrics_listen;  // TCP /metrics; absent: off (always on admin_socket)
  std::string state_dir = "/var/lib/pgwarden";  // console tokens and other daemon state
  ApprovalConfig approval;
  RecordingConfig recording;
  TlsConfig tls;
  unsigned workers = 0;                // 0: one loop thread per online CPU
  uint64_t max_message_size = 64ull << 20;
  std::chrono::milliseconds shutdown_grace{30'000};
  TimeoutsConfig timeouts;
  LogLevel log_level = LogLevel::info;
  std::optional<std::string> explicit_upstream;  // resolved (see the header comment)
  // The key of the `hash` mask function (mask_hash_key_file); required when
  // a rule uses hash. Same handling as upstream passwords.
  std::optional<Secret> mask_hash_key;
  std::string mask_hash_key_file;

  InterceptConfig intercept;
  KubernetesConfig kubernetes;
  std::vector<Upstream> upstreams;
  std::vector<IdentityRule> identities;
  std::vector<Policy> policies;
  DefaultAction default_action = DefaultAction::deny;

  // Things that are valid but probably not what the operator meant (an
  // identity without a policy, a password file others can read). `policy
  // check` prints them; the daemon logs them.
  std::vector<std::string> warnings;

  friend bool operator==(const Config&, const Config&) = default;

  // Whether pods must be resolved through the API server: the `kubernetes`
  // section is written, or an identity has a `k8s:` selector.
  bool wants_kubernetes() const;

  const Upstream* find_upstream(std::string_view name) const;
  const IdentityRule* find_identity(std::string_view name) const;
  // The policy for this identity on this upstream: the first whose upstream
  // is this one or unset. nullptr: none (the connection is refused).
  const Policy* policy_for(std::string_view identity, std::string_view upstream) const;
};

// Loads and fully validates a config. Every error names the file, the line and
// column, and the key path: `config.yaml:12:5: upstreams[0].tls: expected one
// of disable|prefer|require|verify-ca|verify-full, got "maybe"`. When there are several
// errors, all are reported, one per line. No message ever contains the
// contents of a password file.
Result<Config> load_config_file(const std::string& path);

// `name_for_errors` is what messages call the file; `base_dir` anchors
// relative paths (password_file and the like); an empty base_dir leaves them
// relative to the working directory.
Result<Config> load_config_string(std::string_view text, const std::string& name_for_errors,
                                  const std::string& base_dir);

}  // namespace pgw::policy
