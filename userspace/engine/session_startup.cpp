// The client's startup phase: encryption negotiation, the StartupMessage or a
// CancelRequest, and who the client is (from the kernel, never from what it
// says).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>

#include "engine/cgroup_resolver.h"
#include "engine/kubernetes_watch.h"
#include "engine/proc_identity.h"
#include "engine/session.h"
#include "engine/worker.h"
#include "kernel/cgroup_v2.h"
#include "pgwire/startup.h"
#include "policy/kubernetes_cgroup.h"
#include "policy/startup_settings.h"

namespace pgw::engine {

void Session::on_startup_bytes() {
  std::string& client_in = startup_state_->client_in;
  // PostgreSQL 17's direct TLS: a ClientHello instead of a startup packet
  // (a TLS handshake record starts with 0x16; as a packet length that would
  // be over 300 MB, so nothing valid is mistaken for it).
  if (!client_.tls && startup_state_->encryption_requests == 0 && !client_in.empty() && client_in[0] == 0x16) {
    if (transport_ != Transport::kTcp || !config_->tls.offered()) {
      close("direct TLS connection, but TLS is not offered (tls.cert_file, tls.client)");
      return;
    }
    start_client_tls(true);
    if (!client_.tls) return;
    const std::string hello = std::move(client_in);
    client_in.clear();
    on_tls_bytes(client_, true, hello);
    return;
  }
  auto packet = pgwire::extract_startup_packet(client_in);
  if (!packet) {
    fail("08P01", "pgwarden: invalid startup packet: " + packet.error());
    return;
  }
  if (!packet->has_value()) {
    arm_receive(client_, OpKind::kClientRecv);
    return;
  }
  const std::string_view whole = **packet;
  const bool trailing_bytes = whole.size() < client_in.size();
  auto decoded = pgwire::decode_startup_packet(whole);
  if (!decoded) {
    fail("08P01", "pgwarden: invalid startup packet: " + decoded.error());
    return;
  }

  if (std::holds_alternative<pgwire::SslRequest>(*decoded) ||
      std::holds_alternative<pgwire::GssEncRequest>(*decoded)) {
    // A client must wait for the one-byte answer before sending more; bytes
    // that arrived early would otherwise be taken as the next phase's
    // (CVE-2021-23222 class). PostgreSQL refuses them the same way.
    if (trailing_bytes) {
      fail("08P01", "pgwarden: received unencrypted data after an encryption request");
      return;
    }
    if (++startup_state_->encryption_requests > 2) {
      fail("08P01", "pgwarden: too many encryption requests");
      return;
    }
    if (client_.tls) {
      fail("08P01", "pgwarden: encryption request inside TLS");
      return;
    }
    client_in.clear();
    // 'S' for an SSLRequest when a certificate is set (and tls.client is
    // not disable), else 'N': the client then goes on in plaintext or
    // gives up (sslmode=require). TCP only: libpq never asks on a unix socket.
    const bool tls = std::holds_alternative<pgwire::SslRequest>(*decoded) && transport_ == Transport::kTcp &&
                     config_->tls.offered();
    std::string answer;
    if (tls) {
      answer.push_back('S');
    } else {
      pgwire::encode_encryption_refused(answer);
    }
    queue_wire(client_, std::move(answer));
    send_next(client_, OpKind::kClientSend);
    // Whatever arrives from now on is the TLS handshake: bytes a client
    // sent behind its SSLRequest were refused above, and plaintext sent
    // after the 'S' fails the handshake (CVE-2021-23214).
    if (tls) start_client_tls(false);
    arm_receive(client_, OpKind::kClientRecv);
    return;
  }
  if (trailing_bytes) {
    fail("08P01", "pgwarden: client sent data before authentication completed");
    return;
  }

  if (auto* cancel = std::get_if<pgwire::CancelRequest>(&*decoded)) {
    const pgwire::CancelRequest request = *cancel;
    startup_state_.reset();
    auto target = worker_.state().cancels().find(request.process_id, request.secret_key);
    if (!target) {
      // PostgreSQL ignores unknown keys silently; so does pgwarden (the log
      // says it, for whoever investigates).
      phase_ = Phase::kCancel;
      spdlog::info("session {}: cancel request with an unknown key ignored", session_name(id_));
      close("cancel request with an unknown key");
      return;
    }
    // A statement held for approval has not reached the server: the cancel
    // withdraws the request (the client reads 57014), and nothing is sent.
    if (auto* approvals = worker_.state().approvals();
        approvals != nullptr && approvals->withdraw_session(target->session_id, "the client canceled it")) {
      phase_ = Phase::kCancel;
      close("cancel request: withdrew a held statement");
      return;
    }
    send_cancel(*target);
    return;
  }

  if (!client_.tls && transport_ == Transport::kTcp && config_->tls.client == policy::ClientTls::require) {
    fail("08P01", "pgwarden: this connection must use TLS (tls.client: require); connect with sslmode=require "
                  "or stronger");
    return;
  }
  auto vetted = vet_startup(std::get<pgwire::StartupMessage>(*decoded));
  startup_state_.reset();
  if (auto* refusal = std::get_if<StartupRefusal>(&vetted)) {
    fail(refusal->sqlstate, refusal->message);
    return;
  }
  startup_ = std::move(std::get<ClientStartup>(vetted));
  identify();
}

void Session::identify() {
  phase_ = Phase::kIdentify;
  // Keep a receive on the client through identify, connect and login: a
  // client that goes away is noticed at once (and one that talks out of
  // turn is refused).
  arm_receive(client_, OpKind::kClientRecv);
  if (transport_ == Transport::kUnixIntercepted) {
    // Redirected by connect_unix: the hook recorded who connected and which
    // database socket they named, under the client socket's inode.
    const kernel::Interceptor* icpt = worker_.state().interceptor();
    if (auto record = icpt != nullptr ? icpt->record_for_accepted_unix(client_.fd) : std::nullopt) {
      identity_.pid = record->pid;
      identity_.uid = record->uid;
      identity_.gid = record->gid;
      identity_.comm = record->comm;
      original_unix_path_ = record->original_path;
      resolve_cgroup(record->cgroup_id);
      return;
    }
    // Dialled directly (or its record aged out): an explicit unix client,
    // named by SO_PEERCRED like one on unix_socket.
  }
  if (transport_ == Transport::kUnix || transport_ == Transport::kUnixIntercepted) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(client_.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      fail("28000", std::string("pgwarden: cannot identify the client: SO_PEERCRED: ") + strerror(errno));
      return;
    }
    identity_.pid = static_cast<uint32_t>(cred.pid);
    identity_.uid = cred.uid;
    identity_.gid = cred.gid;
    start_proc_read();
    return;
  }
  if (const kernel::Interceptor* icpt = worker_.state().interceptor()) {
    // A redirected connection: the connect hook recorded who connected and
    // where to, and handed the record to this accepted socket.
    if (auto record = icpt->record_for_accepted(client_.fd)) {
      identity_.pid = record->pid;
      identity_.uid = record->uid;
      identity_.gid = record->gid;
      identity_.comm = record->comm;
      const sockaddr_storage dst = record->destination();
      original_destination_ = policy::NetAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
      fast_path_ = record->fast_path;
      resolve_cgroup(record->cgroup_id);
      return;
    }
  }
  // Explicit TCP clients carry no kernel identity: only their address.
  identity_.source = policy::NetAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer_), sizeof peer_);
  identified();
}

// The cgroup's path: a lookup when a session of that cgroup came before,
// else the resolver's thread finds it and the session goes on when it is
// back (a tree walk must not hold up the loop thread).
void Session::resolve_cgroup(uint64_t cgroup_id) {
  CgroupResolver* resolver = worker_.state().cgroups();
  if (resolver == nullptr || cgroup_id == 0) {
    identified();
    return;
  }
  if (auto path = resolver->cached(cgroup_id)) {
    identity_.cgroup_path = std::move(*path);
    identified();
    return;
  }
  Worker* worker = &worker_;
  const uint64_t id = id_;
  resolver->resolve(cgroup_id, [worker, id](std::string path) {
    worker->post([worker, id, path = std::move(path)]() mutable {
      if (Session* s = worker->find_session(id)) s->cgroup_resolved(std::move(path));
    });
  });
}

void Session::cgroup_resolved(std::string path) {
  if (phase_ != Phase::kIdentify || close_after_flush_) return;
  // Empty: the cgroup is gone already; no cgroup selector matches then.
  if (!path.empty()) identity_.cgroup_path = std::move(path);
  identified();
}

// /proc/PID/cgroup and /proc/PID/comm are read through the ring (open, read,
// close), like every other operation, so a loop thread never blocks.
void Session::start_proc_read() {
  static constexpr const char* kFiles[] = {"cgroup", "comm"};
  if (proc_.step >= 2) {
    identified();
    return;
  }
  proc_.path = "/proc/" + std::to_string(*identity_.pid) + "/" + kFiles[proc_.step];
  io_uring_sqe* sqe = worker_.ring().sqe();
  io_uring_prep_openat(sqe, AT_FDCWD, proc_.path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  io_uring_sqe_set_data64(sqe, pack_op(this, OpKind::kFileOpen));
  ++in_flight_;
}

void Session::on_proc_file(OpKind kind, const io_uring_cqe& cqe) {
  if (kind == OpKind::kFileOpen) {
    if (phase_ == Phase::kClosing) {
      if (cqe.res >= 0) ::close(cqe.res);
      return;
    }
    if (cqe.res < 0) {
      // The process is gone already: identify it by what SO_PEERCRED gave.
      ++proc_.step;
      start_proc_read();
      return;
    }
    proc_.fd = cqe.res;
    io_uring_sqe* sqe = worker_.ring().sqe();
    io_uring_prep_read(sqe, proc_.fd, proc_.buf, sizeof proc_.buf - 1, 0);
    io_uring_sqe_set_data64(sqe, pack_op(this, OpKind::kFileRead));
    ++in_flight_;
    return;
  }
  if (kind == OpKind::kFileRead) {
    if (cqe.res > 0 && phase_ != Phase::kClosing) {
      std::string_view text(proc_.buf, static_cast<size_t>(cqe.res));
      if (proc_.step == 0) {
        if (auto path = kernel::cgroup_path_from_proc(text)) identity_.cgroup_path = *path;
      } else {
        identity_.comm = comm_from_proc(text);
      }
    }
    io_uring_sqe* sqe = worker_.ring().sqe();
    io_uring_prep_close(sqe, proc_.fd);
    io_uring_sqe_set_data64(sqe, pack_op(this, OpKind::kFileClose));
    proc_.fd = -1;
    ++in_flight_;
    return;
  }
  // kFileClose
  if (phase_ == Phase::kClosing || close_after_flush_) return;
  ++proc_.step;
  start_proc_read();
}

// The pod the cgroup path names, from the cache the Kubernetes watch keeps
// (one atomic load: the loop thread never waits for the API server). An open
// session keeps the pod it was identified with: a pod deleted later does not
// end its sessions, as a process that left its cgroup would not either.
void Session::resolve_pod() {
  if (!identity_.cgroup_path) return;
  const auto uid = policy::parse_kubernetes_cgroup(*identity_.cgroup_path).pod_uid;
  if (!uid) return;
  if (!policy::in_kubelet_tree(*identity_.cgroup_path, config_->kubernetes.cgroup_root)) {
    identity_.pod_unresolved = "the cgroup is not in the kubelet's tree (kubernetes.cgroup_root " +
                               config_->kubernetes.cgroup_root + ")";
    return;
  }
  if (const KubernetesWatch* watch = worker_.state().kubernetes()) {
    auto found = watch->pods().find(*uid);
    identity_.pod = std::move(found.pod);
    identity_.pod_unresolved = std::move(found.why_not);
  } else if (config_->wants_kubernetes()) {
    identity_.pod_unresolved = "the Kubernetes resolver is not running (restart pgwarden after adding k8s selectors)";
  }
}

void Session::identified() {
  const policy::Config& config = *config_;
  resolve_pod();
  const policy::IdentityRule* rule = policy::match_identity(config, identity_);
  if (rule != nullptr) {
    identity_name_ = rule->name;
  } else if (config.default_action == policy::DefaultAction::deny) {
    fail("28000", "pgwarden: no identity matches this workload (" + policy::describe(identity_) +
                      ") and the default is deny");
    return;
  } else {
    identity_name_ = "(default)";
  }

  if (original_destination_ && *original_destination_ == config.listen) {
    // A workload in the intercepted cgroup that dialled pgwarden directly:
    // kernel identity, explicit upstream.
    original_destination_.reset();
  }
  if (original_unix_path_) {
    upstream_config_ = policy::upstream_for_unix_path(config, *original_unix_path_);
    if (upstream_config_ == nullptr) {
      fail("08004", "pgwarden: no upstream serves " + *original_unix_path_ + " (add it to an upstream's match)");
      return;
    }
  } else if (original_destination_) {
    // Intercepted: the upstream is the one serving where the client meant
    // to go.
    upstream_config_ = policy::upstream_for_destination(config, *original_destination_);
    if (upstream_config_ == nullptr) {
      fail("08004", "pgwarden: no upstream serves " + original_destination_->to_string() +
                        " (add it to an upstream's match)");
      return;
    }
  } else {
    upstream_config_ = policy::explicit_upstream(config);
    if (upstream_config_ == nullptr) {
      fail("08004", "pgwarden: no upstream configured for explicit clients (set explicit_upstream)");
      return;
    }
  }
  upstream_name_ = upstream_config_->name;
  if (rule != nullptr) {
    // A known workload is held to its policy; one without a policy for this
    // upstream is refused, never let through unchecked.
    policy_ = config.policy_for(identity_name_, upstream_name_);
    if (policy_ == nullptr) {
      fail("28000", "pgwarden: identity \"" + identity_name_ + "\" has no policy for upstream \"" + upstream_name_ +
                        "\"");
      return;
    }    // Startup settings are SETs made before the first statement: the
    // policy judges them as it would judge the statement.
    for (const auto& [name, value] : startup_->settings) {
      if (auto refusal = policy::refuse_startup_setting(*policy_, name, value)) {
        fail("42501", *refusal);
        return;
      }
    }
  }
  spdlog::info("session {} opened: identity={} ({}) user={} database={} upstream={}{}", session_name(id_), identity_name_,
               policy::describe(identity_), startup_->user, startup_->database, upstream_name_,
               original_unix_path_     ? (" intercepted=" + *original_unix_path_)
               : original_destination_ ? (" intercepted=" + original_destination_->to_string() +
                                          (fast_path_ ? " fast_path" : ""))
                                       : std::string());
  connect_upstream(upstream_config_->address, upstream_config_->connect_timeout);
}

}  // namespace pgw::engine
