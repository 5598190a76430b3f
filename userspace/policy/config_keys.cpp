// Every key of the config file, declared once: its type, default, check and
// the sentence docs/configuration.md shows for it (a unit test keeps the two
// equal). config_schema.h explains the shape of a line; adding a key is one
// line in its section's table (and a reader when no generic one fits).
//
// Keys that are part of the file format but not implemented yet are
// declared with not_yet(): the loader refuses them by name ("recording.dir:
// not supported yet") instead of ignoring them, and the reference lists them
// as such. Implementing one is replacing not_yet() with a reader.
#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

#include "common/quote.h"
#include "mask/detector.h"
#include "mask/mask_function.h"
#include "pgwire/tls_channel.h"
#include "policy/config_document.h"
#include "policy/config_schema.h"
#include "policy/config_values.h"
#include "policy/glob.h"
#include "policy/pem_files.h"
#include "policy/statement_class.h"

namespace pgw::policy {

using namespace schema;  // NOLINT: the tables below read as a language of their own

namespace {

// ---- choices --------------------------------------------------------------

constexpr Choice<LogLevel> kLogLevels[] = {
    {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
    {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off},
};
constexpr Choice<DefaultAction> kDefaultActions[] = {{"allow", DefaultAction::allow}, {"deny", DefaultAction::deny}};
constexpr Choice<FailMode> kFailModes[] = {{"closed", FailMode::closed}, {"open", FailMode::open}};
constexpr Choice<UnparseableAction> kUnparseableActions[] = {
    {"deny", UnparseableAction::deny}, {"forward", UnparseableAction::forward}};
constexpr Choice<ClientTls> kClientTlsModes[] = {
    {"disable", ClientTls::disable}, {"allow", ClientTls::allow}, {"require", ClientTls::require}};
constexpr Choice<TlsMode> kTlsModes[] = {
    {"disable", TlsMode::disable},     {"prefer", TlsMode::prefer},          {"require", TlsMode::require},
    {"verify-ca", TlsMode::verify_ca}, {"verify-full", TlsMode::verify_full},
};

// An empty list in a match rule would match nothing, which is never meant.
void refuse_empty_list(ConfigReader& r, const YAML::Node& n, const std::string& p) {
  if (n.IsSequence() && n.size() == 0) r.error(n, p, "an empty list matches nothing; remove the key instead");
}

// ---- top level ------------------------------------------------------------

void read_unix_socket(ConfigReader& r, const YAML::Node& n, const std::string& p, Config& out) {
  // An empty value (or nothing at all) turns explicit unix-socket mode off.
  if (n.IsNull() || (n.IsScalar() && n.Scalar().empty())) {
    out.unix_socket.clear();
  } else if (auto v = r.socket_path(n, p)) {
    out.unix_socket = *v;
  }
}

void read_max_message_size(ConfigReader& r, const YAML::Node& n, const std::string& p, Config& out) {
  auto v = r.size(n, p);
  if (!v) return;
  // Below 8 KiB ordinary queries fail; PostgreSQL itself caps messages at 1 GiB.
  if (*v < (8u << 10) || *v > (1u << 30)) {
    r.error(n, p, "expected a size between 8KiB and 1GiB, got " + quote_for_message(n.Scalar()));
  } else {
    out.max_message_size = *v;
  }
}

void read_mask_hash_key_file(ConfigReader& r, const YAML::Node& n, const std::string& p, Config& out) {
  // The key of the `hash` mask function: a secret like a password (whoever
  // has it can test guesses against hashed values), read the same way.
  if (auto file = r.file_path(n, p)) {
    out.mask_hash_key_file = *file;
    out.mask_hash_key = r.secret_file(n, p, *file);
  }
}

// ---- approvals, admin ------------------------------------------------------

bool plain_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return s.front() != '-' && s != "." && s != "..";
}

template <auto Member>
void read_webhook_url(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  const bool scheme = s->starts_with("http://") || s->starts_with("https://");
  if (!scheme || s->find_first_of(" \t\r\n") != std::string::npos || s->size() > 2048) {
    r.error(n, p, "expected an http:// or https:// URL, got " + quote_for_message(*s));
    return;
  }
  out.*Member = *s;
}

template <auto Member>
void read_user_names(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = r.nonempty_text(e, ep);
    if (!s) return;
    if (!plain_name(*s)) {
      r.error(e, ep, "expected a name of letters, digits, '.', '_' or '-', got " + quote_for_message(*s));
    } else if (std::find((out.*Member).begin(), (out.*Member).end(), *s) != (out.*Member).end()) {
      r.error(e, ep, quote_for_message(*s) + " is listed twice");
    } else {
      (out.*Member).push_back(*s);
    }
  });
}

void read_store_dsn_file(ConfigReader& r, const YAML::Node& n, const std::string& p, ApprovalConfig& out) {
  if (auto file = r.file_path(n, p)) out.store_dsn_file = *file;
}

void read_admin_socket_group(ConfigReader& r, const YAML::Node& n, const std::string& p, Config& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  if (!plain_name(*s)) r.error(n, p, "expected a group name, got " + quote_for_message(*s));
  else out.admin_socket_group = *s;
}

void read_state_dir(ConfigReader& r, const YAML::Node& n, const std::string& p, Config& out) {
  if (auto dir = r.file_path(n, p)) out.state_dir = *dir;
}

// ---- recording -------------------------------------------------------------

void read_recording_dir(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordingConfig& out) {
  if (auto dir = r.file_path(n, p)) out.dir = *dir;
}

void read_recording_key_file(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordingConfig& out) {
  if (auto file = r.file_path(n, p)) out.signing_key_file = *file;
}

void read_recording_max_bytes(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordingConfig& out) {
  if (auto v = r.size(n, p)) out.max_bytes = *v;
}

// Recordings are kept for days or months: "30d" and "12w" as well as the
// usual 250ms..1h units (which stop at a week elsewhere).
void read_recording_max_age(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordingConfig& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  uint64_t days = 0;
  const std::string_view unit = s->empty() ? "" : std::string_view(*s).substr(s->size() - 1);
  if (unit == "d" || unit == "w") {
    const std::string digits = s->substr(0, s->size() - 1);
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) {
      r.error(n, p, "expected an age such as 30d, 12w or 12h, got " + quote_for_message(*s));
      return;
    }
    days = std::stoull(digits) * (unit == "w" ? 7 : 1);
    out.max_age = std::chrono::hours(24 * days);
  } else if (auto d = r.duration(n, p)) {
    out.max_age = std::chrono::duration_cast<std::chrono::seconds>(*d);
  }
}

void read_recording_index_dsn_file(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordingConfig& out) {
  if (auto file = r.file_path(n, p)) out.index_dsn_file = *file;
}

void check_recording(ConfigReader& r, const YAML::Node& n, const std::string& path, RecordingConfig& out) {
  if (!out.dir.empty() && out.signing_key_file.empty()) {
    r.error(n, path, "recording.dir needs recording.signing_key_file (an Ed25519 key: openssl genpkey -algorithm "
                     "ed25519 -out recording.key)");
  }
  if (out.dir.empty() && !out.signing_key_file.empty()) r.error(n, path, "recording.signing_key_file without recording.dir");
  if (out.dir.empty() && out.required) r.error(n, path, "recording.required without recording.dir");
  if (out.dir.empty() && (out.max_bytes != 0 || out.max_age.count() != 0)) {
    r.error(n, path, "recording.max_bytes and recording.max_age need recording.dir");
  }
  if (out.dir.empty() && out.index_dsn_file) r.error(n, path, "recording.index without recording.dir");
}

// ---- tls ------------------------------------------------------------------

void read_tls_cert_file(ConfigReader& r, const YAML::Node& n, const std::string& p, TlsConfig& out) {
  if (auto file = r.file_path(n, p)) out.cert_file = *file;
}
void read_tls_key_file(ConfigReader& r, const YAML::Node& n, const std::string& p, TlsConfig& out) {
  if (auto file = r.file_path(n, p)) out.key_file = *file;
}

// The files are loaded here, the way the engine will load them, so a
// missing, unreadable or mismatched pair fails `policy check`, start and
// reload alike (a reload that fails keeps the running certificate).
void check_tls(ConfigReader& r, const YAML::Node& n, const std::string& path, TlsConfig& out) {
  if (out.cert_file.empty() != out.key_file.empty()) {
    r.error(n, path, out.cert_file.empty() ? "tls.key_file needs tls.cert_file" : "tls.cert_file needs tls.key_file");
    return;
  }
  if (out.cert_file.empty()) {
    if (out.client == ClientTls::require) r.error(n, path, "tls.client: require needs tls.cert_file and tls.key_file");
    return;
  }
  auto ctx = pgwire::TlsContext::server({out.cert_file, out.key_file});
  if (!ctx) {
    r.error(n, path, ctx.error());
    return;
  }
  if (std::string why = ctx.value()->validity_warning(std::time(nullptr)); !why.empty())
    r.warn(n["cert_file"], child_path(path, "cert_file"), out.cert_file + ": " + why);
}

// ---- intercept --------------------------------------------------------------

// A plain cgroup v2 path relative to the cgroup2 mount ("/" or "/a/b"),
// or nothing after an error.
std::optional<std::string> read_cgroup_path(ConfigReader& r, const YAML::Node& n, const std::string& p) {
  auto s = r.nonempty_text(n, p);
  if (!s) return std::nullopt;
  const bool bad = s->front() != '/' || (s->size() > 1 && s->back() == '/') || s->find("//") != std::string::npos ||
                   s->find("/./") != std::string::npos || s->find("/../") != std::string::npos ||
                   s->ends_with("/..") || s->ends_with("/.") || s->find_first_of("*?") != std::string::npos;
  if (bad) {
    r.error(n, p,
            "expected a cgroup v2 path such as / or /pgwarden/agents (relative to the cgroup2 mount, no globs, "
            "no . or ..), got " + quote_for_message(*s));
    return std::nullopt;
  }
  return s;
}

void read_intercept_cgroup(ConfigReader& r, const YAML::Node& n, const std::string& p, InterceptConfig& out) {
  if (auto path = read_cgroup_path(r, n, p)) out.cgroup = *path;
}

void read_intercept_ports(ConfigReader& r, const YAML::Node& n, const std::string& p, InterceptConfig& out) {
  std::vector<uint16_t> ports;
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    if (auto v = r.integer(e, ep, 1, 65535)) {
      auto port = static_cast<uint16_t>(*v);
      if (std::find(ports.begin(), ports.end(), port) != ports.end()) {
        r.error(e, ep, "port " + std::to_string(port) + " is listed twice");
      } else {
        ports.push_back(port);
      }
    }
  });
  // The eBPF side keeps the port set in a small fixed-size map.
  if (n.IsSequence() && n.size() == 0) {
    r.error(n, p, "needs at least one port");
  } else if (ports.size() > 64) {
    r.error(n, p, "at most 64 ports can be intercepted");
  } else {
    out.ports = ports;
  }
}

// sun_path holds 108 bytes with the NUL; the eBPF side keeps 16 paths.
constexpr size_t kMaxUnixPathBytes = 107;
constexpr size_t kMaxUnixPaths = 8;  // each may take two of the BPF map's 16 entries (/run and /var/run)

bool valid_unix_path(ConfigReader& r, const YAML::Node& n, const std::string& p, const std::string& path) {
  if (path.empty() || path.front() != '/') {
    r.error(n, p, "expected an absolute socket path (\"/var/run/postgresql/.s.PGSQL.5432\"), got " +
                      quote_for_message(path));
    return false;
  }
  if (path.size() > kMaxUnixPathBytes) {
    r.error(n, p, "a unix socket path has at most " + std::to_string(kMaxUnixPathBytes) + " bytes");
    return false;
  }
  return true;
}

void read_intercept_unix_paths(ConfigReader& r, const YAML::Node& n, const std::string& p, InterceptConfig& out) {
  std::vector<std::string> paths;
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = r.nonempty_text(e, ep);
    if (!s || !valid_unix_path(r, e, ep, *s)) return;
    if (std::find(paths.begin(), paths.end(), *s) != paths.end()) {
      r.error(e, ep, *s + " is listed twice");
      return;
    }
    paths.push_back(*s);
  });
  if (paths.size() > kMaxUnixPaths) {
    r.error(n, p, "at most " + std::to_string(kMaxUnixPaths) + " unix socket paths can be intercepted");
  } else {
    out.unix_paths = paths;
  }
}

void read_bpffs(ConfigReader& r, const YAML::Node& n, const std::string& p, InterceptConfig& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  if (s->front() != '/') {
    r.error(n, p, "expected an absolute path on a bpffs mount, got " + quote_for_message(*s));
  } else {
    out.bpffs = *s;
  }
}

// Writing an intercept section asks for interception; `enabled: false`
// keeps the section but turns it off.
void check_intercept(ConfigReader& r, const YAML::Node&, const std::string& path, InterceptConfig& out) {
  if (r.written(child_path(path, "enabled")) == nullptr) out.enabled = true;
}

// ---- upstreams --------------------------------------------------------------

void read_upstream_match(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    if (e.IsScalar() && e.Scalar().rfind('/', 0) == 0) {  // a unix socket path
      const std::string path = e.Scalar();
      if (!valid_unix_path(r, e, ep, path)) return;
      if (std::find(out.match_unix.begin(), out.match_unix.end(), path) != out.match_unix.end()) {
        r.error(e, ep, path + " is listed twice");
        return;
      }
      out.match_unix.push_back(path);
      return;
    }
    auto prefix = r.prefix(e, ep, NetPrefix::PortRule::required);
    if (!prefix) return;
    if (std::find(out.match.begin(), out.match.end(), *prefix) != out.match.end()) {
      r.error(e, ep, prefix->to_string() + " is listed twice");
      return;
    }
    out.match.push_back(*prefix);
  });
}

void read_upstream_user(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  auto v = r.nonempty_text(n, p);
  if (!v) return;
  if (v->size() > 63) r.error(n, p, "a PostgreSQL role name has at most 63 bytes");
  else out.user = *v;
}

void read_password_file(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  if (auto file = r.file_path(n, p)) {
    out.password_file = *file;
    out.password = r.secret_file(n, p, *file);
  }
}

void read_upstream_tls(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  if (auto v = r.choice(n, p, kTlsModes)) out.tls = *v;
}

// A CA bundle is checked here, so a missing or broken file is a config
// error (policy check, a refused reload), not a failed handshake later.
void read_upstream_ca_file(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  auto file = r.file_path(n, p);
  if (!file) return;
  if (auto count = count_pem_certificates(*file); !count) {
    r.error(n, p, count.error());
    return;
  }
  out.ca_file = *file;
}

// A DNS name (letters, digits, '-', '.', '_'; at most 253 bytes) or an IP
// address: what SNI carries and a certificate's SAN can name.
void read_upstream_server_name(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  auto v = r.nonempty_text(n, p);
  if (!v) return;
  const bool name_chars = std::all_of(v->begin(), v->end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':';
  });
  if (v->size() > 253 || !name_chars || v->front() == '.' || v->front() == '-') {
    r.error(n, p, "expected a host name or IP address as the server's certificate names it, got " +
                      quote_for_message(*v));
    return;
  }
  out.server_name = *v;
}

// The host part of `address` as written: "db.local" is not accepted there,
// but "localhost" is, and a certificate for localhost names it so.
std::string written_host(const YAML::Node& address) {
  std::string text = address.IsScalar() ? address.Scalar() : std::string();
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    return close == std::string::npos ? std::string() : text.substr(1, close - 1);
  }
  const size_t colon = text.rfind(':');
  return colon == std::string::npos ? text : text.substr(0, colon);
}

void check_upstream(ConfigReader& r, const YAML::Node& n, const std::string& path, Upstream& out) {
  const bool ca_file_written = n.IsMap() && n["ca_file"];  // a broken one is reported already
  if ((out.tls == TlsMode::verify_ca || out.tls == TlsMode::verify_full) && !ca_file_written) {
    r.error(n["tls"], child_path(path, "tls"),
            std::string(to_string(out.tls)) + " needs ca_file: the PEM file of the CA that signed the server's "
            "certificate");
  }
  if (out.tls == TlsMode::disable && !out.ca_file.empty()) {
    r.warn(n["ca_file"], child_path(path, "ca_file"), "not used: tls is disable");
  }
  if (!out.server_name.empty() && out.tls == TlsMode::disable) {
    r.warn(n["server_name"], child_path(path, "server_name"), "not used: tls is disable");
  }
  if (out.server_name.empty() && n.IsMap() && n["address"]) {
    out.server_name = written_host(n["address"]);
    if (out.server_name.empty()) out.server_name = out.address.ip_string();
  }
}

void read_upstream_database(ConfigReader& r, const YAML::Node& n, const std::string& p, Upstream& out) {
  auto v = r.nonempty_text(n, p);
  if (!v) return;
  if (v->size() > 63) r.error(n, p, "a PostgreSQL database name has at most 63 bytes");
  else out.database = *v;
}

// ---- identities -------------------------------------------------------------

// '/'-separated cgroup glob, as /proc/PID/cgroup shows the path.
void read_match_cgroup(ConfigReader& r, const YAML::Node& n, const std::string& p, IdentityRule& out) {
  auto g = r.nonempty_text(n, p);
  if (!g) return;
  if (g->front() != '/') {
    r.error(n, p,
            "expected a cgroup path starting with '/' (relative to the cgroup v2 root), got " + quote_for_message(*g));
  } else if (g->size() > 1 && (g->find("//") != std::string::npos || g->back() == '/')) {
    r.error(n, p, "a cgroup path has no empty segments, got " + quote_for_message(*g));
  } else {
    out.cgroup = *g;
  }
}

template <std::vector<uint32_t> IdentityRule::*Ids>
void read_match_ids(ConfigReader& r, const YAML::Node& n, const std::string& p, IdentityRule& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    // 4294967295 is (uid_t)-1, "no user", which no process runs as.
    if (auto v = r.integer(e, ep, 0, 4294967294u)) (out.*Ids).push_back(static_cast<uint32_t>(*v));
  });
  refuse_empty_list(r, n, p);
}

void read_match_comm(ConfigReader& r, const YAML::Node& n, const std::string& p, IdentityRule& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = r.nonempty_text(e, ep);
    if (!s) return;
    // TASK_COMM_LEN is 16 with the NUL: the kernel never reports more.
    if (s->size() > 15) {
      r.error(e, ep,
              "the kernel truncates a process name to 15 bytes, so " + quote_for_message(*s) +
                  " would never match; write " + quote_for_message(s->substr(0, 15)));
    } else {
      out.comm.push_back(*s);
    }
  });
  refuse_empty_list(r, n, p);
}

void read_match_source(ConfigReader& r, const YAML::Node& n, const std::string& p, IdentityRule& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    if (auto prefix = r.prefix(e, ep, NetPrefix::PortRule::forbidden)) out.source.push_back(*prefix);
  });
  refuse_empty_list(r, n, p);
}

// Kubernetes pod uids and container ids, as the kubelet names cgroups.
template <std::vector<std::string> IdentityRule::*Ids, size_t Length>
void read_match_k8s_ids(ConfigReader& r, const YAML::Node& n, const std::string& p, IdentityRule& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    auto v = r.nonempty_text(e, ep);
    if (!v) return;
    if (v->size() != Length) {
      r.error(e, ep,
              "expected a " + std::to_string(Length) + "-character " +
                  (Length == 36 ? "pod uid (8-4-4-4-12 hex)" : "container id (hex)") + ", got " +
                  quote_for_message(*v));
    } else {
      (out.*Ids).push_back(*v);
    }
  });
  refuse_empty_list(r, n, p);
}

// ---- kubernetes ---------------------------------------------------------------

// A namespace or service account glob: Kubernetes names are lower-case
// letters, digits, '-' and '.', so anything else could never match (an
// upper-case letter is a typo, not a pattern).
template <std::optional<std::string> KubernetesSelector::*Member>
void read_k8s_name_glob(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesSelector& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  const bool ok = s->size() <= 253 && std::all_of(s->begin(), s->end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*' || c == '?';
  });
  if (!ok) {
    r.error(n, p,
            "expected a Kubernetes name or a glob of one (lower-case letters, digits, '-', '.', '*', '?'), got " +
                quote_for_message(*s));
  } else {
    out.*Member = *s;
  }
}

// Label key: an optional DNS prefix and '/', then a name of at most 63
// characters; value: at most 63 characters. Matched exactly.
bool label_part(std::string_view s, size_t max, bool allow_slash_dots) {
  if (s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           (allow_slash_dots && c == '/');
  });
}

void read_k8s_labels(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesSelector& out) {
  if (!n.IsMap()) {
    r.error(n, p, "expected a mapping of label names to values ({app: billing}), got " + describe_kind(n));
    return;
  }
  if (n.size() == 0) {
    r.error(n, p, "an empty label mapping selects nothing; remove the key instead");
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node key = it->first, value = it->second;
    if (!key.IsScalar() || key.Scalar().empty() || !label_part(key.Scalar(), 253 + 1 + 63, true) ||
        std::count(key.Scalar().begin(), key.Scalar().end(), '/') > 1) {
      r.error(key, p, "expected a label name such as app or app.kubernetes.io/name, got " + describe_kind(key));
      continue;
    }
    const std::string ep = child_path(p, key.Scalar());
    if (!value.IsScalar() || !label_part(value.Scalar(), 63, false)) {
      r.error(value, ep, "expected a label value (at most 63 letters, digits, '-', '_' or '.'), got " +
                             describe_kind(value));
      continue;
    }
    out.labels[key.Scalar()] = value.Scalar();
  }
}

void check_k8s_selector(ConfigReader& r, const YAML::Node& n, const std::string& path, KubernetesSelector& out) {
  const bool written = r.written(child_path(path, "namespace")) || r.written(child_path(path, "serviceAccount")) ||
                       r.written(child_path(path, "labels"));
  if (out.empty() && !written) {
    r.error(n, path, "a k8s selector needs namespace, serviceAccount or labels");
  }
}

void read_k8s_api_server(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesConfig& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  // The bearer token goes with every request: never in clear.
  if (!s->starts_with("https://") || s->size() <= 8 || s->find_first_of(" \t\r\n?#") != std::string::npos ||
      s->size() > 2048) {
    r.error(n, p, "expected an https:// URL (the service account token is sent with every request), got " +
                      quote_for_message(*s));
    return;
  }
  while (s->ends_with("/")) s->pop_back();
  out.api_server = *s;
}

void read_k8s_node_name(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesConfig& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  if (!plain_name(*s)) r.error(n, p, "expected a node name, got " + quote_for_message(*s));
  else out.node_name = *s;
}

void read_k8s_node_name_env(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesConfig& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  const bool ok = std::all_of(s->begin(), s->end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
  if (!ok) r.error(n, p, "expected an environment variable name, got " + quote_for_message(*s));
  else out.node_name_env = *s;
}

void read_k8s_cgroup_root(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesConfig& out) {
  if (auto path = read_cgroup_path(r, n, p)) out.cgroup_root = *path;
}

template <std::string KubernetesConfig::*Member>
void read_k8s_file(ConfigReader& r, const YAML::Node& n, const std::string& p, KubernetesConfig& out) {
  if (auto file = r.file_path(n, p)) out.*Member = *file;
}

void check_kubernetes(ConfigReader&, const YAML::Node&, const std::string&, KubernetesConfig& out) {
  out.enabled = true;
}

// ---- policies -----------------------------------------------------------------

void read_rule_list(ConfigReader& r, const YAML::Node& n, const std::string& path, RuleList& out) {
  r.for_each(n, path, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = r.nonempty_text(e, ep);
    if (!s) return;
    if (s->starts_with("function:")) {
      auto name = r.take(e, ep, parse_function_name(std::string_view(*s).substr(9)));
      if (!name) return;
      if (std::find(out.functions.begin(), out.functions.end(), *name) != out.functions.end()) {
        r.error(e, ep, "function:" + *name + " is listed twice");
      } else {
        out.functions.push_back(*name);
      }
      return;
    }
    auto cls = statement_class_from_string(*s);
    if (!cls) {
      std::string msg = "expected a statement class (";
      for (size_t i = 0; i < kStatementClassNames.size(); ++i) {
        if (i > 0) msg += ' ';
        msg += kStatementClassNames[i];
      }
      msg += ") or function:NAME, got " + quote_for_message(*s);
      if (auto near = closest_match(*s, kStatementClassNames); !near.empty()) {
        msg += "; did you mean \"" + std::string(near) + "\"?";
      }
      r.error(e, ep, msg);
      return;
    }
    if (out.has(*cls)) {
      r.error(e, ep, std::string(to_string(*cls)) + " is listed twice");
      return;
    }
    out.classes.set(static_cast<size_t>(*cls));
  });
}
template <RuleList Policy::*List>
void read_rules(ConfigReader& r, const YAML::Node& n, const std::string& p, Policy& out) {
  read_rule_list(r, n, p, out.*List);
}

// '.'-separated globs: "schema.table" (2 parts) or "schema.table.column" (3);
// a "**" part stands for any number of parts. Split where the matchers split
// them (glob.h).
bool dotted_glob_has_shape(std::string_view g, size_t parts_wanted) {
  const std::vector<std::string_view> parts = split_dotted_glob(g);
  const bool empty_part = std::any_of(parts.begin(), parts.end(), [](std::string_view s) { return s.empty(); });
  return !empty_part && (dotted_glob_spans(parts) || parts.size() == parts_wanted);
}

template <std::vector<std::string> TableRules::*Globs>
void read_table_globs(ConfigReader& r, const YAML::Node& n, const std::string& p, TableRules& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = r.nonempty_text(e, ep);
    if (!s) return;
    if (!dotted_glob_has_shape(*s, 2)) {
      r.error(e, ep, "expected a \"schema.table\" glob (* within a name, ** across), got " + quote_for_message(*s));
      return;
    }
    (out.*Globs).push_back(*s);
  });
}

// A glob in two lists (or twice in one) would make the decision depend on an
// order nobody wrote down; the later one, in file order, is the mistake.
void check_tables(ConfigReader& r, const YAML::Node&, const std::string& path, TableRules& out) {
  struct Entry {
    const YAML::Node* node;  // never copied: assigning a YAML::Node rewrites the node it refers to
    std::string path;
    const std::string* glob;
  };
  std::vector<Entry> entries;
  for (auto [key, globs] : {std::pair{"allow", &out.allow}, {"deny", &out.deny}, {"approve", &out.approve}}) {
    const std::string list = child_path(path, key);
    for (size_t i = 0; i < globs->size(); ++i) {
      // A list's element, or the list's one scalar (`deny: hr.*`).
      const std::string element = item_path(list, i);
      const std::string at = r.written(element) != nullptr ? element : list;
      entries.push_back({r.written(at), at, &(*globs)[i]});
    }
  }
  auto place = [](const Entry& e) { return std::pair(e.node->Mark().line, e.node->Mark().column); };
  std::stable_sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) { return place(a) < place(b); });
  std::set<std::string> seen;
  for (const Entry& e : entries) {
    if (!seen.insert(*e.glob).second) {
      r.error(*e.node, e.path, quote_for_message(*e.glob) + " appears more than once in tables");
    }
  }
}

void read_mask_column(ConfigReader& r, const YAML::Node& n, const std::string& p, MaskRule& out) {
  auto s = r.nonempty_text(n, p);
  if (!s) return;
  if (!dotted_glob_has_shape(*s, 3)) {
    r.error(n, p,
            "expected a \"schema.table.column\" glob (* within a name, ** across), got " + quote_for_message(*s));
  }
  out.column = *s;
}

void read_mask_detect(ConfigReader& r, const YAML::Node& n, const std::string& p, MaskRule& out) {
  r.for_each(n, p, true, [&](const YAML::Node& e, const std::string& ep) {
    auto s = r.text(e, ep);
    if (!s) return;
    auto d = mask::parse_detector(*s);
    if (!d) {
      std::string names;
      for (size_t i = 0; i < mask::kDetectorCount; ++i) {
        if (i > 0) names += '|';
        names += mask::detector_name(static_cast<mask::Detector>(i));
      }
      r.error(e, ep, "expected one of " + names + ", got " + quote_for_message(*s));
    } else if (std::find(out.detect.begin(), out.detect.end(), *d) != out.detect.end()) {
      r.error(e, ep, std::string(mask::detector_name(*d)) + " is listed twice");
    } else {
      out.detect.push_back(*d);
    }
  });
  if (n.IsSequence() && n.size() == 0) r.error(n, p, "needs at least one detector");
}

void read_mask_with(ConfigReader& r, const YAML::Node& n, const std::string& p, MaskRule& out) {
  if (auto s = r.text(n, p)) {
    if (auto spec = r.take(n, p, mask::parse_mask_spec(*s))) out.with = *spec;
  }
}

void check_mask_rule(ConfigReader& r, const YAML::Node& n, const std::string& path, MaskRule&) {
  const bool column = r.written(child_path(path, "column")) != nullptr;
  const bool detect = r.written(child_path(path, "detect")) != nullptr;
  if (column && detect) {
    r.error(n, path, "a mask rule has either column or detect, not both");
  } else if (!column && !detect) {
    r.error(n, path, "a mask rule needs column: \"schema.table.column\" or detect: [...]");
  }
}

void check_policy(ConfigReader& r, const YAML::Node&, const std::string& path, Policy& out) {
  // A class or function in two lists would make the decision depend on an
  // evaluation order nobody wrote down: refuse it.
  const std::pair<const char*, const RuleList*> lists[] = {{"allow", &out.allow}, {"deny", &out.deny},
                                                           {"approve", &out.approve}};
  for (size_t a = 0; a < std::size(lists); ++a) {
    for (size_t b = a + 1; b < std::size(lists); ++b) {
      const YAML::Node* at = r.written(child_path(path, lists[b].first));
      if (at == nullptr) continue;
      const std::string where = child_path(path, lists[b].first);
      const std::string both_lists = std::string(" is in both ") + lists[a].first + " and " + lists[b].first;
      const auto both = lists[a].second->classes & lists[b].second->classes;
      for (size_t i = 0; i < kStatementClassCount; ++i) {
        if (both.test(i)) r.error(*at, where, std::string(kStatementClassNames[i]) + both_lists);
      }
      for (const std::string& fn : lists[b].second->functions) {
        const auto& other = lists[a].second->functions;
        if (std::find(other.begin(), other.end(), fn) != other.end()) r.error(*at, where, "function:" + fn + both_lists);
      }
    }
  }
  // One function for every detector hit keeps the engine's per-value work to
  // one pass.
  const MaskRule* first_detect = nullptr;
  for (size_t i = 0; i < out.mask.size(); ++i) {
    const MaskRule& rule = out.mask[i];
    if (rule.detect.empty()) continue;
    if (first_detect == nullptr) {
      first_detect = &rule;
    } else if (!(first_detect->with == rule.with)) {
      const std::string at = item_path(child_path(path, "mask"), i);
      r.error(*r.written(at), at,
              "detect rules of one policy must use the same function (" + first_detect->with.to_string() +
                  " above); merge them into one rule");
    }
  }
}

// ---- the tables -------------------------------------------------------------

constexpr Key<InterceptConfig> kInterceptKeys[] = {
    {"enabled", boolean<&InterceptConfig::enabled>, "(true: writing the section turns interception on)",
     "`false` keeps the section but attaches nothing."},
    {"cgroup", custom<InterceptConfig>("cgroup path", read_intercept_cgroup), "/",
     "Only processes in this cgroup v2 subtree (a path relative to the cgroup2 mount, no globs) are redirected."},
    {"ports", custom<InterceptConfig>("list of ports", read_intercept_ports), "[5432]",
     "Destination ports whose connects are redirected (at most 64)."},
    {"fail", choice<&InterceptConfig::fail, kFailModes>, "closed",
     "While the programs are attached but pgwarden is not serving (crashed or hung: its heartbeat is stale): "
     "`closed` makes a redirected connect fail at once with EPERM, `open` lets it go straight to the database. "
     "A clean stop detaches the programs, and connects then go straight to the database."},
    {"bpffs", custom<InterceptConfig>("path", read_bpffs), "/sys/fs/bpf/pgwarden",
     "Absolute path on a bpffs mount where the programs, links and maps are pinned, so a restarted pgwarden takes "
     "them over without a gap."},
    {"fast_path", boolean<&InterceptConfig::fast_path>, "true",
     "Bytes between the workload and pgwarden (both local) skip the TCP stack (sk_msg and a socket hash)."},
    {"heartbeat_timeout", duration<&InterceptConfig::heartbeat_timeout, 100, 60'000>, "1s",
     "How stale pgwarden's heartbeat (refreshed every 200ms) may get before `fail` applies; 100ms to 60s."},
    {"unix_paths", custom<InterceptConfig>("list of paths", read_intercept_unix_paths), "[]",
     "The database's unix sockets, as clients name them (`/var/run/postgresql/.s.PGSQL.5432`; at most 8; its /run or /var/run twin is intercepted too): a "
     "connect to one of them from `cgroup` goes to pgwarden's own socket beside `admin_socket` (Linux 6.7 or "
     "newer; on older kernels `status` says unix sockets are not intercepted). An upstream serves a path listed "
     "in its `match`."},
};
constexpr Section<InterceptConfig> kIntercept{kInterceptKeys, check_intercept};

constexpr Key<Upstream> kUpstreamKeys[] = {
    {"name", required(name<&Upstream::name>), "",
     "Names the upstream in policies, messages, logs and status: up to 63 letters, digits, `_`, `-` or `.`."},
    {"match", custom<Upstream>("list of address:port, CIDR:port or unix socket paths", read_upstream_match), "[]",
     "The original destinations this upstream serves: a redirected connection to one of them is served by this "
     "upstream (a path: an `intercept.unix_paths` socket). A destination may be claimed by one upstream only."},
    {"address", required(address<&Upstream::address>), "",
     "Where pgwarden connects (numeric `host:port` or `[v6]:port`; `localhost` is the only name)."},
    {"user", required(custom<Upstream>("text", read_upstream_user)), "",
     "The PostgreSQL role pgwarden logs in as (SCRAM-SHA-256, MD5 or cleartext, as the server asks); clients never "
     "see it or its password."},
    {"password_file", custom<Upstream>("path", read_password_file), "(no password)",
     "File holding the role's password (one trailing newline is ignored; at most 4096 bytes). A file others can "
     "read is a warning; the password never appears in a message."},
    {"tls", custom<Upstream>("`disable` | `prefer` | `require` | `verify-ca` | `verify-full`", read_upstream_tls),
     "prefer",
     "TLS to the upstream, as libpq's `sslmode`: `prefer` asks for it and goes on in plaintext if the server "
     "declines; `require` refuses plaintext; `verify-ca` also checks the server's certificate chain against "
     "`ca_file`; `verify-full` also checks that the certificate names `server_name`. A TLS session logs in with "
     "SCRAM-SHA-256-PLUS (channel binding) when the server offers it."},
    {"ca_file", custom<Upstream>("path", read_upstream_ca_file), "",
     "PEM file of the CA certificates the upstream's certificate chain must lead to; required by `verify-ca` and "
     "`verify-full`, and with `prefer` or `require` it makes them verify the chain too (as libpq does with a root "
     "certificate file). Read again on reload (SIGHUP), for new sessions."},
    {"server_name", custom<Upstream>("host name or IP address", read_upstream_server_name),
     "(the host part of `address`)",
     "The name sent as SNI and that `verify-full` checks against the certificate's subject alternative names "
     "(DNS name or IP address), for an `address` that is an IP address while the certificate names a host."},
    {"connect_timeout", duration<&Upstream::connect_timeout, 1>, "5s",
     "How long connecting to the upstream may take before the client gets FATAL 08006."},
    {"database", custom<Upstream>("text", read_upstream_database), "(the client's database name)",
     "The database pgwarden asks the upstream for, whatever the client named."},
};
constexpr Section<Upstream> kUpstream{kUpstreamKeys, check_upstream};

constexpr Key<KubernetesSelector> kK8sSelectorKeys[] = {
    {"namespace", custom<KubernetesSelector>("glob", read_k8s_name_glob<&KubernetesSelector::namespace_glob>), "",
     "The pod's namespace, from the Kubernetes API: a name or a glob (`*` any run of characters, `?` one)."},
    {"serviceAccount",
     custom<KubernetesSelector>("glob", read_k8s_name_glob<&KubernetesSelector::service_account_glob>), "",
     "The pod's service account (`spec.serviceAccountName`, without the namespace): a name or a glob."},
    {"labels", custom<KubernetesSelector>("mapping of label to value", read_k8s_labels), "",
     "Labels the pod must carry, each with exactly this value; other labels may be there too."},
};
constexpr Section<KubernetesSelector> kK8sSelector{kK8sSelectorKeys, check_k8s_selector};

constexpr Key<KubernetesConfig> kKubernetesKeys[] = {
    {"api_server", custom<KubernetesConfig>("https URL", read_k8s_api_server),
     "(in-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)",
     "The Kubernetes API server that pod uids are resolved through (a list and watch of this node's pods)."},
    {"token_file", custom<KubernetesConfig>("path", read_k8s_file<&KubernetesConfig::token_file>),
     "/var/run/secrets/kubernetes.io/serviceaccount/token",
     "The bearer token sent to the API server (read again at every reconnect, so a rotated token is picked up); "
     "its service account needs get, list and watch on pods."},
    {"ca_file", custom<KubernetesConfig>("path", read_k8s_file<&KubernetesConfig::ca_file>),
     "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "The CA the API server's certificate is checked against."},
    {"node_name", custom<KubernetesConfig>("text", read_k8s_node_name), "(from `node_name_env`)",
     "This node's name: only pods scheduled here are watched (`spec.nodeName`)."},
    {"node_name_env", custom<KubernetesConfig>("text", read_k8s_node_name_env), "NODE_NAME",
     "The environment variable holding the node name when `node_name` is not set (the DaemonSet sets it from "
     "`spec.nodeName`)."},
    {"cgroup_root", custom<KubernetesConfig>("cgroup path", read_k8s_cgroup_root), "/",
     "The kubelet's cgroup root (its `--cgroup-root`): a pod uid counts only from a cgroup whose `kubepods` or "
     "`kubepods.slice` level is directly below it, so a process that makes cgroups of its own elsewhere cannot "
     "claim a pod."},
};
constexpr Section<KubernetesConfig> kKubernetes{kKubernetesKeys, check_kubernetes};

constexpr Key<Unsupported> kOidcKeys[] = {
    {"subject", not_yet<Unsupported>("list of texts"), "", "Subjects of an OIDC ID token a person presents as password."},
    {"email", not_yet<Unsupported>("list of texts"), "", "Email addresses of the token."},
    {"groups", not_yet<Unsupported>("list of texts"), "", "Groups the token must name."},
};
constexpr Section<Unsupported> kOidc{kOidcKeys};

constexpr Key<IdentityRule> kMatchKeys[] = {
    {"cgroup", custom<IdentityRule>("cgroup glob", read_match_cgroup), "",
     "A glob on the cgroup path `/proc/PID/cgroup` shows (from `/`): `*` stays within one segment, `**` spans "
     "segments."},
    {"uid", custom<IdentityRule>("list of integers", read_match_ids<&IdentityRule::uid>), "",
     "User ids, from the kernel at connect time (eBPF) or SO_PEERCRED (unix socket)."},
    {"gid", custom<IdentityRule>("list of integers", read_match_ids<&IdentityRule::gid>), "", "Group ids, likewise."},
    {"comm", custom<IdentityRule>("list of texts", read_match_comm), "",
     "Process names as the kernel reports them (at most 15 bytes), matched exactly."},
    {"source", custom<IdentityRule>("list of addresses or CIDRs", read_match_source), "",
     "Peer addresses of explicit TCP clients, which carry no kernel identity (no ports)."},
    {"pod_uid", custom<IdentityRule>("list of texts", read_match_k8s_ids<&IdentityRule::pod_uid, 36>), "",
     "Kubernetes pod uids, read from the kubelet's cgroup names (systemd and cgroupfs drivers)."},
    {"container_id", custom<IdentityRule>("list of texts", read_match_k8s_ids<&IdentityRule::container_id, 64>), "",
     "Container ids (64 hex digits; containerd, CRI-O and docker), read from the cgroup names."},
    {"k8s", section<&IdentityRule::k8s, kK8sSelector>, "",
     "Kubernetes selectors, matched against what the API server says about the pod whose uid the cgroup path "
     "names (see `kubernetes`). A pod not resolved (yet) matches no rule with `k8s`."},
    {"oidc", future_section<IdentityRule, kOidc>, "", "Selectors on an OIDC ID token."},
};
constexpr Section<IdentityRule> kMatch{kMatchKeys};

constexpr Key<IdentityRule> kIdentityKeys[] = {
    {"name", required(name<&IdentityRule::name>), "", "Names the identity in policies, messages and logs."},
    {"match", required(inline_section<kMatch>), "",
     "What a workload must show, all from the kernel, never from the client: every field given must match, and a "
     "field the workload does not have does not match. Identities are tried in order; the first that matches "
     "wins."},
};
constexpr Section<IdentityRule> kIdentity{kIdentityKeys};

constexpr Key<TableRules> kTablesKeys[] = {
    {"allow", custom<TableRules>("list of globs", read_table_globs<&TableRules::allow>), "[]",
     "When not empty, every relation a statement uses must match one (naming a view is enough)."},
    {"deny", custom<TableRules>("list of globs", read_table_globs<&TableRules::deny>), "[]",
     "A statement that uses a matching relation, or one a name could resolve to, is denied."},
    {"approve", custom<TableRules>("list of globs", read_table_globs<&TableRules::approve>), "[]",
     "Likewise, but requires approval (refused for now, saying so)."},
};
constexpr Section<TableRules> kTables{kTablesKeys, check_tables};

constexpr Key<MaskRule> kMaskRuleKeys[] = {
    {"column", custom<MaskRule>("schema.table.column glob", read_mask_column), "",
     "The column(s) this rule masks, in every result shape and in anything derived from them."},
    {"detect", custom<MaskRule>("list of detectors", read_mask_detect), "",
     "Content detectors run on other text and JSON values, masking what they find."},
    {"with", required(custom<MaskRule>("mask function", read_mask_with)), "", "What a masked value becomes."},
};
constexpr Section<MaskRule> kMaskRule{kMaskRuleKeys, check_mask_rule};

constexpr Key<PolicyApproval> kPolicyApprovalKeys[] = {
    {"timeout", duration<&PolicyApproval::timeout, 1000>, "(approval.timeout)",
     "How long a statement of this policy waits for a decision before it is refused (42501 naming the request)."},
    {"notify", custom<PolicyApproval>("URL", read_webhook_url<&PolicyApproval::notify>), "(approval.notify)",
     "Webhook for this policy's requests and outcomes, instead of `approval.notify`."},
};
constexpr Section<PolicyApproval> kPolicyApproval{kPolicyApprovalKeys};

constexpr Key<Policy> kPolicyKeys[] = {
    {"identity", required(name<&Policy::identity>), "", "The identity this policy is for."},
    {"upstream", name<&Policy::upstream>, "(every upstream)", "The upstream it applies to."},
    {"allow", custom<Policy>("list of classes and function:NAME", read_rules<&Policy::allow>), "[]",
     "Statement classes and functions that may run. A class in no list is denied."},
    {"deny", custom<Policy>("list of classes and function:NAME", read_rules<&Policy::deny>), "[]",
     "Refused with 42501. deny beats approve beats allow; a class or function in two lists is an error."},
    {"approve", custom<Policy>("list of classes and function:NAME", read_rules<&Policy::approve>), "[]",
     "Statements held until people approve them (`pgwarden approvals`, the web console); denied or timed out, "
     "the client reads 42501 naming the request."},
    {"tables", section<&Policy::tables, kTables>, "", "Globs on `schema.table`, checked on every relation used."},
    {"mask", records<&Policy::mask, kMaskRule>, "[]", "What this identity never sees in clear."},
    {"unparseable", choice<&Policy::unparseable, kUnparseableActions>, "deny",
     "What happens to text the SQL parser cannot read: `deny` refuses it (a syntax error reaches the client "
     "as the server itself reports it: pgwarden has the server parse the text without running it; a text the "
     "server reads but pgwarden cannot is refused with 42501); `forward` lets it through unread."},
    {"strict", boolean<&Policy::strict>, "false",
     "Also refuse statements that use a masked column to filter, join, group, order or deduplicate, and make "
     "derived masked values a fixed `****`."},
    {"approval", section<&Policy::approval, kPolicyApproval>, "", "How this policy's held statements are approved."},
};
constexpr Section<Policy> kPolicy{kPolicyKeys, check_policy};

constexpr Key<RecordingConfig> kRecordingIndexKeys[] = {
    {"dsn_file", custom<RecordingConfig>("path", read_recording_index_dsn_file), "(no index: each node lists its own)",
     "A file holding a libpq connection string of a PostgreSQL database (it may be the approval store's) where "
     "each node writes a row per session: id, node, identity, upstream, times, statement counts, file. Read "
     "like a password file.",
     restart<&RecordingConfig::index_dsn_file>},
};
constexpr Section<RecordingConfig> kRecordingIndex{kRecordingIndexKeys};

constexpr Key<RecordingConfig> kRecordingKeys[] = {
    {"dir", custom<RecordingConfig>("path", read_recording_dir), "(no recording)",
     "Where each session's recording is written (one file per session, mode 0600): every client message, every "
     "message the client received (after masking) and every decision, hash-chained and signed. Verify with "
     "`pgwarden sessions verify`.",
     restart<&RecordingConfig::dir>},
    {"signing_key_file", custom<RecordingConfig>("path", read_recording_key_file), "",
     "The Ed25519 private key (PEM: `openssl genpkey -algorithm ed25519`) that signs each recording's hash chain; "
     "required with `dir`. A file others can read is refused.",
     restart<&RecordingConfig::signing_key_file>},
    {"required", boolean<&RecordingConfig::required>, "false",
     "`true`: no recording, no session — while recordings cannot be written, new sessions are refused with 53100 "
     "and running ones end; `false`: sessions go on and the failure shows in the log, `status` and /metrics."},
    {"max_bytes", custom<RecordingConfig>("size", read_recording_max_bytes), "(no limit)",
     "Retention: while the recordings in `dir` take more than this (e.g. `10GiB`), the oldest closed ones are "
     "removed (never one being written); logged and counted in `status` and /metrics.",
     restart<&RecordingConfig::max_bytes>},
    {"max_age", custom<RecordingConfig>("age", read_recording_max_age), "(no limit)",
     "Retention: closed recordings last written longer ago than this (`30d`, `12w`, `12h`) are removed.",
     restart<&RecordingConfig::max_age>},
    {"index", inline_section<kRecordingIndex>, "",
     "A session index in a control database, so that `sessions list --all` on any node shows every node's "
     "sessions."},
};
constexpr Section<RecordingConfig> kRecording{kRecordingKeys, check_recording};

constexpr Key<ApprovalConfig> kApprovalStoreKeys[] = {
    {"dsn_file", custom<ApprovalConfig>("path", read_store_dsn_file), "(requests kept in this daemon only)",
     "A file holding a libpq connection string of a PostgreSQL database that keeps one approval queue for every "
     "pgwarden node (schema created by pgwarden). Read like a password file.",
     restart<&ApprovalConfig::store_dsn_file>},
};
constexpr Section<ApprovalConfig> kApprovalStore{kApprovalStoreKeys};

constexpr Key<ApproverRules> kApproversKeys[] = {
    {"unix_users", custom<ApproverRules>("list of user names", read_user_names<&ApproverRules::unix_users>), "[]",
     "Users who may decide over the admin socket (it must be reachable to them: `admin_socket_group`)."},
    {"unix_groups", custom<ApproverRules>("list of group names", read_user_names<&ApproverRules::unix_groups>), "[]",
     "Unix groups whose members may decide over the admin socket."},
    {"console_users", custom<ApproverRules>("list of user names", read_user_names<&ApproverRules::console_users>),
     "[]", "Web console users (`pgwarden console url --user NAME`) who may decide."},
    {"min_approvals", integer<&ApproverRules::min_approvals, 1, 16>, "1",
     "Distinct approvers a statement needs (k of n); one denial ends the request."},
};
constexpr Section<ApproverRules> kApprovers{kApproversKeys};

constexpr Key<ApprovalConfig> kApprovalKeys[] = {
    {"timeout", duration<&ApprovalConfig::timeout, 1000>, "300s",
     "How long a held statement waits for a decision; then the client reads 42501 naming the request."},
    {"notify", custom<ApprovalConfig>("URL", read_webhook_url<&ApprovalConfig::notify>), "(no webhook)",
     "An http(s) URL that receives a JSON POST (with a `text` field, as Slack-style incoming webhooks want) for "
     "each new request and each outcome; retried with backoff until delivered."},
    {"store", inline_section<kApprovalStore>, "", "Where pending approvals are kept."},
    {"approvers", section<&ApprovalConfig::approvers, kApprovers>, "(root on the admin socket)", "Who may approve."},
};
constexpr Section<ApprovalConfig> kApproval{kApprovalKeys};

constexpr Key<TimeoutsConfig> kTimeoutsKeys[] = {
    {"client_startup", duration<&TimeoutsConfig::client_startup, 1000, 3'600'000>, "10s",
     "How long a client may take from connecting to a complete startup packet; then it is closed (a client that "
     "sends nothing or half a packet holds no connection for longer). 1s to 1h."},
    {"client_idle", duration<&TimeoutsConfig::client_idle>, "0s",
     "A session idle this long between transactions is ended with FATAL 57P05, like PostgreSQL's "
     "`idle_session_timeout` (inside a transaction it is never ended); `0s` turns it off."},
    {"upstream_login", duration<&TimeoutsConfig::upstream_login, 1000, 3'600'000>, "30s",
     "How long the upstream may take from accepting the connection to being ready for queries (authentication "
     "included); then the client gets FATAL 08006 naming the upstream. 1s to 1h. Connecting has its own "
     "`upstreams[].connect_timeout`."},
};
constexpr Section<TimeoutsConfig> kTimeouts{kTimeoutsKeys};

constexpr Key<TlsConfig> kTlsKeys[] = {
    {"cert_file", custom<TlsConfig>("path", read_tls_cert_file), "(no TLS for clients)",
     "PEM certificate (then any intermediates) pgwarden presents to clients that ask for TLS; its SANs should "
     "name the hosts clients dial (`sslmode=verify-full`). Re-read on reload. A certificate that has expired, is "
     "not valid yet or expires within 14 days is a warning at start, on reload and in `pgwarden policy check` "
     "(verifying clients refuse an expired one)."},
    {"key_file", custom<TlsConfig>("path", read_tls_key_file), "",
     "The certificate's PEM private key (required with `cert_file`; checked to match it)."},
    {"client", choice<&TlsConfig::client, kClientTlsModes>, "allow",
     "`allow`: an SSLRequest is answered `S` when `cert_file` is set; `require`: a TCP client that starts "
     "without TLS is refused (FATAL 08P01 naming `tls.client: require`; unix sockets never use TLS); "
     "`disable`: `N`, and direct TLS is refused."},
};
constexpr Section<TlsConfig> kTls{kTlsKeys, check_tls};

constexpr Key<Config> kConfigKeys[] = {
    {"listen", address<&Config::listen>, "127.0.0.1:15432",
     "TCP listener for explicit clients; redirected connections arrive here too. With `intercept` it must be an "
     "IPv4 address the workloads can reach from their network namespace.",
     restart<&Config::listen>},
    {"unix_socket", custom<Config>("path", read_unix_socket), "/run/pgwarden/.s.PGSQL.5432",
     "Explicit mode over a unix socket, identity from SO_PEERCRED; empty (`\"\"` or nothing) turns it off.",
     restart<&Config::unix_socket>},
    {"admin_socket", socket_path<&Config::admin_socket>, "/run/pgwarden/admin.sock",
     "The admin socket (HTTP/1.1 with JSON, mode 0600) that every command but `run` talks to; `curl "
     "--unix-socket` works.", restart<&Config::admin_socket>},
    {"admin_socket_group", custom<Config>("group name", read_admin_socket_group), "(none: root only)",
     "A unix group that may use the admin socket too (mode 0660): the people in `approval.approvers`.",
     restart<&Config::admin_socket_group>},
    {"console_listen", address<&Config::console_listen>, "(off)",
     "The web console (pending approvals, sessions, decisions): `pgwarden console url` prints its login URL. "
     "Keep it on loopback (or behind a TLS proxy): it is plain HTTP.", restart<&Config::console_listen>},
    {"metrics_listen", address<&Config::metrics_listen>, "(off)",
     "A TCP listener for Prometheus /metrics (also served on `admin_socket`).", restart<&Config::metrics_listen>},
    {"state_dir", custom<Config>("path", read_state_dir), "/var/lib/pgwarden",
     "Where the daemon keeps its state: the console's access tokens (mode 0600).", restart<&Config::state_dir>},
    {"workers", integer<&Config::workers, 0, 1024>, "0", "Loop threads (one io_uring each); `0` is one per CPU.",
     restart<&Config::workers>},
    {"max_message_size", custom<Config>("size", read_max_message_size), "64MiB",
     "The largest protocol message a client may send (8KiB to 1GiB); a larger one ends that connection with "
     "FATAL 08P01."},
    {"shutdown_grace", duration<&Config::shutdown_grace>, "30s",
     "On SIGTERM or SIGINT, how long sessions may take to reach the end of their transaction before the rest "
     "are ended."},
    {"timeouts", section<&Config::timeouts, kTimeouts>, "", "How long clients and upstreams may keep a session "
     "waiting; a reload applies to sessions that start after it."},
    {"log_level", choice<&Config::log_level, kLogLevels>, "info", "How much the daemon logs."},
    {"default", choice<&Config::default_action, kDefaultActions>, "deny",
     "For a workload no identity matches: `deny` refuses it at startup (FATAL 28000 naming its cgroup, uid and "
     "comm); `allow` serves it without any policy (nothing checked, nothing masked)."},
    {"explicit_upstream", name<&Config::explicit_upstream>, "(the only upstream, when there is one)",
     "The upstream for clients that reach pgwarden directly (`unix_socket`, or TCP to `listen`); required with "
     "several upstreams."},
    {"mask_hash_key_file", custom<Config>("path", read_mask_hash_key_file), "",
     "File holding the key of the `hash` mask function (HMAC-SHA256); required when a rule uses `hash`. Read "
     "like a password file."},
    {"tls", section<&Config::tls, kTls>, "(off: clients are answered N)",
     "TLS on the client leg, which pgwarden terminates (README: TLS)."},
    {"intercept", section<&Config::intercept, kIntercept>, "(no interception: explicit mode only)",
     "Transparent interception with eBPF: present, it is on.", restart<&Config::intercept>},
    {"kubernetes", section<&Config::kubernetes, kKubernetes>, "(in-cluster defaults when an identity uses `k8s`)",
     "Where pods are resolved for `k8s` selectors.", restart<&Config::kubernetes>},
    {"upstreams", required(records<&Config::upstreams, kUpstream>), "",
     "The databases pgwarden serves (at least one)."},
    {"identities", records<&Config::identities, kIdentity>, "[]", "Who a workload is."},
    {"policies", records<&Config::policies, kPolicy>, "[]",
     "What each identity may do on an upstream: the first policy for the identity whose upstream is this one or "
     "unset. A known identity without one is refused at startup."},
    {"recording", section<&Config::recording, kRecording>, "(off)", "Session recording."},
    {"approval", section<&Config::approval, kApproval>, "", "Approval of held statements."},
};
constexpr Section<Config> kConfig{kConfigKeys, cross_check};

}  // namespace

std::string schema::unknown_key_message(std::string_view key, std::span<const std::string_view> known) {
  std::string msg = "unknown key " + quote_for_message(key);
  if (key == "password") {
    msg += "; the password is never written in the config: put it in a file and name that file with password_file";
  } else if (auto near = closest_match(key, known); !near.empty()) {
    msg += "; did you mean \"" + std::string(near) + "\"?";
  } else {
    msg += " (known: ";
    for (size_t i = 0; i < known.size(); ++i) {
      if (i > 0) msg += ", ";
      msg += known[i];
    }
    msg += ')';
  }
  return msg;
}

std::string schema::format_ms(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

void read_config_document(ConfigReader& r, const YAML::Node& root, Config& out) { walk(r, root, "", kConfig, out); }

std::vector<KeyDoc> config_reference() {
  std::vector<KeyDoc> keys;
  describe(kConfig, "", false, keys);
  // A section whose every key is not supported yet is not supported either
  // (deepest first: a section's keys come after it).
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    KeyDoc& section = *it;
    bool any_child = false, any_supported = false;
    for (const KeyDoc& k : keys) {
      if (k.path.starts_with(section.path + ".") || k.path.starts_with(section.path + "[].")) {
        any_child = true;
        any_supported = any_supported || k.supported;
      }
    }
    if (any_child && !any_supported) section.supported = false;
  }
  return keys;
}

std::vector<std::string> restart_only_changes(const Config& running, const Config& loaded) {
  std::vector<std::string> changed;
  for (const Key<Config>& key : kConfigKeys) {
    if (key.restart != nullptr && !key.restart(running, loaded)) changed.emplace_back(key.name);
  }
  // The one nested key a reload cannot change: the engine opened the store
  // at start (the rest of `approval` applies to the next request).
  if (running.approval.store_dsn_file != loaded.approval.store_dsn_file) changed.emplace_back("approval.store");
  return changed;
}

}  // namespace pgw::policy
