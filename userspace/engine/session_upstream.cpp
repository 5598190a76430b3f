// The upstream side: connecting through the ring, logging in with the
// configured credential, and forwarding cancel requests.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>

#include "engine/catalog_store.h"
#include "engine/relay/mask_filter.h"
#include "engine/relay/policy_filter.h"
#include "engine/recording_service.h"
#include "engine/session.h"
#include "policy/kubernetes_cgroup.h"
#include "engine/worker.h"
#include "pgwire/backend_messages.h"
#include "pgwire/byte_io.h"
#include "pgwire/error_response.h"
#include "pgwire/message_types.h"
#include "pgwire/startup.h"

namespace pgw::engine {

void Session::connect_upstream(const policy::NetAddress& address, std::chrono::milliseconds timeout) {
  if (phase_ != Phase::kCancel) phase_ = Phase::kConnect;
  if (!login_) login_.emplace();
  sockaddr_storage addr{};
  socklen_t addr_len = address.to_sockaddr(addr);
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail("08006", std::string("pgwarden: cannot create a socket to the upstream: ") + strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (kernel::Interceptor* icpt = worker_.state().interceptor()) {
    // The engine's own connection must never be redirected back to itself,
    // even when the engine runs inside the intercepted cgroup.
    if (auto st = icpt->exclude_own_socket(fd); !st) {
      ::close(fd);
      fail("08006", "pgwarden: cannot exempt the upstream socket from interception: " + st.error());
      return;
    }
    own_socket_registered_ = true;
  }
  upstream_.fd = fd;
  upstream_addr_ = addr;
  upstream_addr_len_ = addr_len;

  io_uring_sqe* sqe = worker_.ring().sqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&upstream_addr_), upstream_addr_len_);
  io_uring_sqe_set_data64(sqe, pack_op(this, OpKind::kUpstreamConnect));
  sqe->flags |= IOSQE_IO_LINK;
  ++in_flight_;
  login_->connect_timeout.tv_sec = timeout.count() / 1000;
  login_->connect_timeout.tv_nsec = (timeout.count() % 1000) * 1000000;
  sqe = worker_.ring().sqe();
  io_uring_prep_link_timeout(sqe, &login_->connect_timeout, 0);
  io_uring_sqe_set_data64(sqe, pack_op(this, OpKind::kConnectTimeout));
  ++in_flight_;
}

void Session::on_connected(const io_uring_cqe& cqe) {
  forget_own_socket();
  if (phase_ == Phase::kClosing || close_after_flush_) return;
  if (cqe.res < 0) {
    const std::string why = cqe.res == -ECANCELED ? "connect timed out" : strerror(-cqe.res);
    if (phase_ == Phase::kCancel) {
      close("cancel: upstream unreachable: " + why);
      return;
    }
    fail("08006", "pgwarden: upstream \"" + upstream_name_ + "\" is unreachable: " + why);
    return;
  }
  if (phase_ == Phase::kCancel) {
    // Over TLS when the session it cancels used TLS (session_upstream_tls.cpp).
    if (login_->tls_context) {
      request_upstream_tls();
    } else {
      send_cancel_request();
    }
    return;
  }
  phase_ = Phase::kLogin;
  login_->started = std::chrono::steady_clock::now();
  choose_upstream_tls();
  if (policy::tls_attempted(*upstream_config_)) {
    request_upstream_tls();  // the login starts once TLS is settled
    return;
  }
  start_upstream_login();
}

void Session::send_cancel_request() {
  std::string packet;
  pgwire::encode(pgwire::CancelRequest{login_->cancel_process_id, login_->cancel_key}, packet);
  login_->cancel_sent = true;
  queue_owned(upstream_, std::move(packet));
  send_next(upstream_, OpKind::kUpstreamSend);
}

// The StartupMessage, over TLS when the endpoint has a channel, and the
// login that answers the server's authentication requests.
void Session::start_upstream_login() {
  pgwire::StartupMessage startup;
  startup.protocol_version = startup_->protocol_version;
  startup.parameters.emplace_back("user", upstream_config_->user);
  startup.parameters.emplace_back("database", upstream_config_->database.value_or(startup_->database));
  for (const auto& kv : startup_->settings) startup.parameters.push_back(kv);
  for (const auto& kv : startup_->protocol_options) startup.parameters.push_back(kv);
  std::string bytes;
  pgwire::encode(startup, bytes);
  std::optional<std::string> password;
  if (upstream_config_->password) password = upstream_config_->password->reveal();
  // Over TLS, SCRAM may bind to the server's certificate.
  std::optional<std::string> end_point;
  if (upstream_.tls) end_point = upstream_.tls->tls_server_end_point();
  login_->login.emplace(upstream_config_->user, std::move(password), std::move(end_point));
  queue_owned(upstream_, std::move(bytes));
  send_next(upstream_, OpKind::kUpstreamSend);
  arm_receive(upstream_, OpKind::kUpstreamRecv);
}

// Messages from the upstream until its first ReadyForQuery. The client sees
// AuthenticationOk (it authenticated to nobody), the upstream's
// ParameterStatus and notices, a BackendKeyData of pgwarden's own, and the
// ReadyForQuery; then the session relays.
void Session::on_login_bytes() {
  LoginState& l = *login_;
  size_t consumed = 0;
  for (;;) {
    auto next = pgwire::extract_message(std::string_view(l.upstream_in).substr(consumed));
    if (!next) {
      fail("08P01", "pgwarden: upstream sent an invalid message during login: " + next.error());
      return;
    }
    if (!next->has_value()) break;
    const pgwire::Message msg = **next;
    const std::string_view raw = std::string_view(l.upstream_in).substr(consumed, msg.size);
    consumed += msg.size;

    switch (static_cast<pgwire::BackendMsg>(msg.type)) {
      case pgwire::BackendMsg::Authentication: {
        auto step = l.login->on_authentication(msg.body);
        if (!step) {
          fail("28P01", "pgwarden: could not log in to upstream \"" + upstream_name_ + "\" as \"" +
                            upstream_config_->user + "\": " + step.error());
          return;
        }
        if (!step->reply.empty()) {
          queue_owned(upstream_, std::move(step->reply));
          send_next(upstream_, OpKind::kUpstreamSend);
        }
        if (step->outcome == UpstreamLogin::Outcome::kAuthenticated) {
          l.authenticated = true;
          spdlog::debug("session {}: upstream \"{}\": {}{}{}", session_name(id_), upstream_name_,
                        upstream_.tls ? upstream_.tls->describe() : std::string("plaintext"),
                        l.login->sasl_mechanism().empty() ? "" : ", ",
                        l.login->sasl_mechanism());
          pgwire::encode_authentication_ok(l.to_client);
        }
        break;
      }
      case pgwire::BackendMsg::ErrorResponse: {
        auto err = pgwire::ErrorResponse::decode(msg.body);
        const std::string_view state = err ? err->sqlstate() : std::string_view{};
        if (!l.authenticated && (state == "28P01" || state == "28000")) {
          // The upstream's text names the configured user; the client gets
          // pgwarden's own words and the operator the log line.
          fail("28P01", "pgwarden: upstream \"" + upstream_name_ + "\" rejected the configured credential for \"" +
                            upstream_config_->user + "\"");
          return;
        }
        // Other startup errors (no such database, too many connections)
        // are the client's business and pass through unchanged.
        l.to_client.append(raw);
        queue_owned(client_, std::move(l.to_client));
        l.to_client.clear();
        close_reason_ = "upstream refused the session: " + std::string(err ? err->message() : "error");
        close_after_flush_ = true;
        submit_shutdown(upstream_.fd);
        send_next(client_, OpKind::kClientSend);
        return;
      }
      case pgwire::BackendMsg::BackendKeyData: {
        auto key = pgwire::BackendKeyData::decode(msg.body);
        if (!key) {
          fail("08P01", "pgwarden: upstream sent an invalid BackendKeyData: " + key.error());
          return;
        }
        CancelTarget target;
        target.upstream = upstream_addr_;
        target.upstream_len = upstream_addr_len_;
        target.process_id = key->process_id;
        target.secret_key = std::string(key->secret_key);
        target.session_id = id_;
        if (upstream_.tls) {
          // Its cancel goes over TLS too, with the same checks.
          target.tls = l.tls_context;
          target.tls_server_name = l.tls_server_name;
          target.tls_check_host = l.tls_check_host;
        }
        target.upstream_name = upstream_name_;
        issued_cancel_key_ = worker_.state().cancels().issue(target);
        upstream_cancel_target_ = target;
        pgwire::encode(pgwire::BackendKeyData{issued_cancel_key_->first, issued_cancel_key_->second},
                       l.to_client);
        break;
      }
      case pgwire::BackendMsg::ParameterStatus: {
        // What the session starts with: the server's word, after the
        // client's startup settings and the role's and database's
        // defaults (ALTER ROLE ... SET standard_conforming_strings = off).
        pgwire::ByteReader r(msg.body);
        std::string_view name, value;
        if (r.read_cstring(name) && r.read_cstring(value)) l.reported.emplace_back(name, value);
        l.to_client.append(raw);
        break;
      }
      case pgwire::BackendMsg::NegotiateProtocolVersion:  // the client negotiates with the real server
      case pgwire::BackendMsg::NoticeResponse:
        l.to_client.append(raw);
        break;
      case pgwire::BackendMsg::ReadyForQuery:
        l.to_client.append(raw);
        l.upstream_in.erase(0, consumed);
        enter_relay();
        return;
      default:
        fail("08P01", "pgwarden: upstream sent unexpected message " + pgwire::describe_type(msg.type) +
                          " during login");
        return;
    }
  }
  l.upstream_in.erase(0, consumed);
  arm_receive(upstream_, OpKind::kUpstreamRecv);
}

void Session::forget_own_socket() {
  if (!own_socket_registered_) return;
  own_socket_registered_ = false;
  if (kernel::Interceptor* icpt = worker_.state().interceptor()) icpt->forget_own_socket(upstream_.fd);
}

void Session::enter_relay() {
  phase_ = Phase::kRelay;
  phase_reached_relay_ = true;
  info_ = std::make_shared<SessionInfo>();
  info_->id = id_;
  info_->name = session_name(id_);
  info_->identity = identity_name_;
  info_->workload = policy::describe(identity_);
  info_->upstream = upstream_name_;
  info_->user = startup_->user;
  info_->database = startup_->database;
  info_->started = std::chrono::system_clock::now();
  worker_.state().sessions().add(info_);
  const auto client_max =
      static_cast<uint32_t>(std::min<uint64_t>(config_->max_message_size, pgwire::kDefaultMaxMessageSize));
  relay_.emplace(client_max, id_);
  if (RecordingService* recordings = worker_.state().recordings()) {
    // No recording, no session (recording.required): refused before
    // anything of it runs.
    if (const std::string why = recordings->refusing(); !why.empty()) {
      fail("53100", "pgwarden: session refused: it cannot be recorded (" + why + ")");
      return;
    }
    capture_ = recordings->open(info_, recording_header());
    capture_->set_resume([worker = &worker_, id = id_] {
      worker->post([worker, id] {
        if (Session* s = worker->find_session(id)) s->recording_caught_up();
      });
    });
  }
  std::string to_client = std::move(login_->to_client);
  std::string upstream_in = std::move(login_->upstream_in);
  policy::StartupSettings reported = std::move(login_->reported);
  login_.reset();
  // The server waits for the client after ReadyForQuery, so little can
  // follow it (an asynchronous notice); whatever did is forwarded, in order,
  // and passes the slicer so that its framing starts aligned.
  if (!upstream_in.empty()) {
    struct Discard : MessageSlicer::Sink {
      void pass_range(size_t, size_t) override {}
      void pass_bytes(std::string_view) override {}
      void message(char, std::string_view) override {}
    } discard;
    if (!relay_->upstream_slicer.feed(upstream_in, [](char) { return false; }, discard)) {
      fail("08P01", "pgwarden: invalid message from upstream: " + relay_->upstream_slicer.error());
      return;
    }
  }
  to_client.append(upstream_in);
  if (capture_) capture_->server_bytes(to_client);
  queue_owned(client_, std::move(to_client));
  send_next(client_, OpKind::kClientSend);
  if (policy_ != nullptr && !start_filters(reported)) return;  // the client is read once the catalog is there
  arm_receive(client_, OpKind::kClientRecv);
  if (draining_) end_if_draining_and_idle();
}

// The header of the session's recording: who, where, with what.
nlohmann::json Session::recording_header() const {
  nlohmann::json identity = {{"name", identity_name_}};
  if (identity_.cgroup_path) identity["cgroup"] = *identity_.cgroup_path;
  if (identity_.pid) identity["pid"] = *identity_.pid;
  if (identity_.uid) identity["uid"] = *identity_.uid;
  if (identity_.gid) identity["gid"] = *identity_.gid;
  if (identity_.comm) identity["comm"] = *identity_.comm;
  if (identity_.source) identity["source"] = identity_.source->to_string();
  if (identity_.cgroup_path) {
    if (auto pod = policy::parse_kubernetes_cgroup(*identity_.cgroup_path).pod_uid) identity["pod_uid"] = *pod;
  }
  if (identity_.pod) {
    identity["namespace"] = identity_.pod->namespace_name;
    identity["pod"] = identity_.pod->name;
    identity["serviceAccount"] = identity_.pod->service_account;
  }
  nlohmann::json startup = nlohmann::json::object();
  for (const auto& [name, value] : startup_->settings) startup[name] = value;
  return {{"pgwarden_session", id_},
          {"node", node_name()},
          {"identity", identity},
          {"upstream", upstream_name_},
          {"database", startup_->database},
          {"user", startup_->user},
          {"startup_parameters", startup},
          {"pgwarden_version", PGWARDEN_VERSION_STRING},
          {"config", config_->source},
          {"config_generation", config_generation_},
          {"policy_hash", config_->sha256}};
}

// The settings the session starts with, in the order they took effect: the
// client's, then what the server reported at login (the last word).
policy::StartupSettings Session::session_start_settings(const policy::StartupSettings& reported) const {
  policy::StartupSettings all = startup_->settings;
  all.insert(all.end(), reported.begin(), reported.end());
  return all;
}

// Every statement of a session whose identity has a policy goes through the
// policy filter, and its results through the mask filter: a reload may add
// mask rules, and they must apply from the next statement. Returns false
// while the session waits for its catalog.
bool Session::start_filters(const policy::StartupSettings& reported) {
  engine::CatalogStore* catalogs = worker_.state().catalogs();
  const std::string database = upstream_config_->database.value_or(startup_->database);
  bool ready = false;
  Worker* worker = &worker_;
  const uint64_t id = id_;
  auto entry = catalogs->get(*upstream_config_, database, [worker, id] {
    worker->post([worker, id] {
      if (Session* s = worker->find_session(id)) s->catalog_ready();
    });
  }, ready);
  relay::Relay& r = relay_->relay;
  auto policy = std::make_unique<relay::PolicyFilter>(worker_.state(), worker_.metrics(), worker_.decision_cache(),
                                                      r.tracker(), id_, identity_name_, upstream_name_, std::move(entry), *catalogs,
                                                      upstream_config_->user, session_start_settings(reported));
  auto mask = std::make_unique<relay::MaskFilter>(*policy, worker_.mask_models(), r.tracker(), identity_name_, id_,
                                                  &worker_.metrics());
  if (capture_) policy->record_to(capture_);
  policy->count_statements_into(info_.get());
  r.add_filter(std::move(policy));
  r.add_filter(std::move(mask));
  relay_->waiting_for_catalog = !ready;
  return ready;
}

void Session::catalog_ready() {
  if (phase_ != Phase::kRelay || !relay_->waiting_for_catalog) return;
  relay_->waiting_for_catalog = false;
  if (relay_->held_client_chunk) {
    auto [buffer_id, length] = *relay_->held_client_chunk;
    relay_->held_client_chunk.reset();
    relay_from_client(std::string_view(reinterpret_cast<const char*>(worker_.buffers().data(buffer_id)), length),
                      buffer_id);
  } else if (!relay_->held_client_plain.empty()) {
    const std::string held = std::move(relay_->held_client_plain);
    relay_->held_client_plain.clear();
    relay_from_client(held, std::nullopt);
  } else {
    arm_receive(client_, OpKind::kClientRecv);
  }
  if (draining_) end_if_draining_and_idle();
}

void Session::send_cancel(const CancelTarget& target) {
  phase_ = Phase::kCancel;
  login_.emplace();
  login_->cancel_process_id = target.process_id;
  login_->cancel_key = target.secret_key;
  login_->tls_context = target.tls;
  login_->tls_server_name = target.tls_server_name;
  login_->tls_check_host = target.tls_check_host;
  upstream_name_ = target.upstream_name;
  auto address =
      policy::NetAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&target.upstream), target.upstream_len);
  if (!address) {
    close("cancel: bad upstream address");
    return;
  }
  // A cancel is only useful soon; do not let it hold a draining engine.
  connect_upstream(*address, std::chrono::milliseconds(2000));
}

}  // namespace pgw::engine
