// One client connection and the upstream connection it is paired with.
//
// A session is an explicit state machine driven by io_uring completions:
//
//   kReadStartup ─► kIdentify ─► kConnect ─► kLogin ─► kRelay
//        │                           ▲
//        └─ CancelRequest ─► kCancel ┘ (its own short connection)
//   any phase ─► kClosing (no new operations; freed when none is in flight)
//
// Each phase has its own file and its own state, which exists only while the
// phase needs it: session_startup.cpp (startup packet, identity),
// session_upstream.cpp (connect, login, cancel), session_relay.cpp (the
// relay: message slicing and the relay's tracker and filter chain,
// engine/relay/). This file holds what every phase uses: the two endpoints,
// sends and receives, and closing.
//
// In kRelay bytes move without copies: a receive lands in a provided buffer,
// that buffer is sent on as is and handed back to the kernel when the send
// completes. Each direction has at most one receive in flight, and a side is
// read again only once everything received from it has been sent on: a slow
// reader stops the writer (backpressure), and memory per session is bounded
// by one buffer per direction whatever the result size.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/instance_name.h"
#include "engine/cancel_registry.h"
#include "engine/transport.h"
#include "engine/message_slicer.h"
#include "engine/op.h"
#include "engine/relay/relay.h"
#include "engine/session_registry.h"
#include "engine/startup_params.h"
#include "engine/upstream_login.h"
#include "pgwire/frame.h"
#include "pgwire/tls_channel.h"
#include "policy/config.h"
#include "policy/identity.h"

namespace pgw::engine {

class Worker;


// Part of a received chunk as the relay passes it on: a range of the receive
// buffer, or bytes pgwarden wrote in its place (`owned` not empty).
struct RelayPiece {
  size_t offset = 0;
  size_t length = 0;
  bool is_owned = false;
  std::string owned;
};

// Bytes waiting to be sent to one endpoint: a provided buffer lent by the
// kernel (relay) or bytes pgwarden wrote itself (startup, errors).
struct Segment {
  int32_t buffer_id = -1;  // -1: `owned` holds the bytes
  const uint8_t* data = nullptr;
  uint32_t length = 0;
  uint32_t sent = 0;
  std::string owned;
};

// One side of the session. With `tls` set, what the socket carries is TLS
// records: receives are decrypted into owned plaintext before the phase
// (and the relay) sees them, and everything queued is encrypted as it is
// queued (session_tls.cpp); without it, relay bytes stay in the provided
// buffers they arrived in.
struct Endpoint {
  int fd = -1;
  bool recv_in_flight = false;
  bool send_in_flight = false;
  bool eof = false;
  bool waiting_for_buffer = false;  // a receive found no free buffer (ENOBUFS) nor a spare
  int32_t spare_buffer = -1;        // the spare the receive in flight reads into (-1: none)
  bool waiting_for_recording = false;  // not read until the recording catches up
  std::deque<Segment> out;          // to be sent to this endpoint
  uint64_t bytes_in = 0;            // received from this endpoint
  uint64_t bytes_out = 0;           // sent to this endpoint
  std::unique_ptr<pgwire::TlsChannel> tls;
};

class alignas(16) Session {
 public:
  Session(Worker& worker, uint64_t id, int client_fd, Transport transport, const sockaddr_storage& peer);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  // A session with no client that only delivers a CancelRequest upstream.
  void send_cancel(const CancelTarget& target);
  void on_completion(OpKind kind, const io_uring_cqe& cqe);

  // The engine is shutting down: end the session at its next idle point
  // (between transactions), or now when it has not started relaying.
  void drain();
  // The grace period is over.
  void terminate(std::string_view why);
  // Shutdown must finish: close without waiting to flush anything.
  void terminate_now() { close("shutdown: closed without flushing"); }
  // A receive that found no free buffer may be retried.
  void retry_receives();
  // The catalog this session's policy decisions need has been loaded.
  void catalog_ready();
  // The recording thread took the bytes this session's capture held back
  // (SessionCapture::pause_if_behind): read again.
  void recording_caught_up();
  // The client's cgroup path, resolved off the loop thread (empty: gone).
  void cgroup_resolved(std::string path);

  // People decided the statement this session holds (session_approval.cpp).
  void approval_decided(const approval::Outcome& outcome);

  bool finished() const { return phase_ == Phase::kClosing && in_flight_ == 0; }
  // Called once a second (session_timeouts.cpp): ends a session whose
  // client or upstream kept it waiting longer than `timeouts` allow.
  void check_deadline(std::chrono::steady_clock::time_point now);
  uint64_t id() const { return id_; }

 private:
  enum class Phase : uint8_t { kReadStartup, kIdentify, kConnect, kLogin, kRelay, kCancel, kClosing };

  // --- I/O primitives and closing (session.cpp)
  void arm_receive(Endpoint& from, OpKind kind);
  // The ring had no buffer: receive into a spare instead; false when none is left.
  bool arm_spare_receive(Endpoint& from, OpKind kind);
  void send_next(Endpoint& to, OpKind kind);
  // Bytes for the peer; encrypted first when the endpoint speaks TLS.
  void queue_owned(Endpoint& to, std::string bytes);
  // Bytes that go on the socket as they are (TLS records, the 'S' answer).
  void queue_wire(Endpoint& to, std::string bytes);
  // Queues a range of a receive buffer (taking a reference to it).
  void queue_buffer(Endpoint& to, uint16_t buffer_id, uint32_t offset, uint32_t length);
  void release_buffer(uint16_t buffer_id);
  void on_receive(Endpoint& from, bool from_client, const io_uring_cqe& cqe);
  // A received chunk, in the receive buffer (buffer_id) or owned plaintext
  // (none: decrypted TLS), handed to the phase that wants it.
  void deliver(Endpoint& from, bool from_client, std::string_view chunk, std::optional<uint16_t> buffer_id);
  void release_if(std::optional<uint16_t> buffer_id) {
    if (buffer_id) release_buffer(*buffer_id);
  }
  void on_sent(Endpoint& to, bool to_client, const io_uring_cqe& cqe);
  void on_peer_closed(bool client_side);
  void release_segments(Endpoint& ep);
  // Sends a FATAL ErrorResponse to the client, then closes both sides.
  void fail(std::string_view sqlstate, std::string message);
  void close(std::string reason);
  void submit_shutdown(int fd);

  // --- TLS on an endpoint (session_tls.cpp)
  // The client asked for TLS (SSLRequest answered 'S', or direct TLS).
  void start_client_tls(bool direct);
  // Ciphertext received on a TLS endpoint.
  void on_tls_bytes(Endpoint& from, bool from_client, std::string_view ciphertext);
  // Moves what the channel wrote (records, alerts) to the send queue.
  void flush_tls(Endpoint& to);
  bool tls_counted_ = false;  // counted in EngineState's TLS sessions
  bool direct_tls_ = false;   // PostgreSQL 17 direct TLS (no SSLRequest): ALPN is required

  // --- startup phase (session_startup.cpp)
  void on_startup_bytes();
  void identify();
  void resolve_cgroup(uint64_t cgroup_id);
  void start_proc_read();
  void on_proc_file(OpKind kind, const io_uring_cqe& cqe);
  void resolve_pod();
  void identified();

  // --- upstream connection and login (session_upstream.cpp)
  void connect_upstream(const policy::NetAddress& address, std::chrono::milliseconds timeout);
  void on_connected(const io_uring_cqe& cqe);
  void start_upstream_login();
  void send_cancel_request();
  void on_login_bytes();
  // --- TLS to the upstream (session_upstream_tls.cpp)
  void choose_upstream_tls();
  void request_upstream_tls();
  void on_ssl_answer(std::string_view bytes);
  void upstream_tls_established();
  void upstream_tls_failed(const std::string& why);
  void enter_relay();
  bool start_filters(const policy::StartupSettings& reported);
  policy::StartupSettings session_start_settings(const policy::StartupSettings& reported) const;
  void forget_own_socket();

  // --- relay (session_relay.cpp)
  void relay_from_client(std::string_view chunk, std::optional<uint16_t> buffer_id);
  // The client's bytes, from a receive buffer (buffer_id) or held ones
  // (none); false when the session failed.
  bool relay_client_bytes(std::string_view chunk, std::optional<uint16_t> buffer_id);
  // The relay is holding the client's messages, or has some held: nothing
  // more is read from the client until they have gone.
  bool client_paused() const {
    return relay_ && (relay_->relay.holding_client() || !relay_->held_client.empty());
  }
  // The settings probe was answered: what the client sent meanwhile goes on.
  void resume_client();
  void relay_from_upstream(std::string_view chunk, std::optional<uint16_t> buffer_id);
  void read_ahead(Endpoint& from, const Endpoint& to, OpKind kind);
  void queue_pieces(Endpoint& to, std::string_view chunk, std::optional<uint16_t> buffer_id);
  bool idle_between_transactions() const;
  void end_if_draining_and_idle();

  // --- approvals (session_approval.cpp)
  // The relay holds a message for approval: ask the queue.
  void hold_for_approval();
  // The client canceled or went away.
  void withdraw_approval(std::string why);
  bool waiting_for_approval() const { return !approval_id_.empty(); }

  Worker& worker_;
  const uint64_t id_;
  const Transport transport_;
  const sockaddr_storage peer_;
  const std::chrono::steady_clock::time_point started_;
  std::shared_ptr<const policy::Config> config_;  // the config this session started under
  uint64_t config_generation_ = 0;                // ... and its generation

  Phase phase_ = Phase::kReadStartup;
  uint32_t in_flight_ = 0;
  bool close_after_flush_ = false;
  bool draining_ = false;
  bool phase_reached_relay_ = false;
  std::shared_ptr<SessionInfo> info_;  // published for status while relaying
  std::string close_reason_;

  Endpoint client_;
  Endpoint upstream_;

  // --- who the client is and where it goes: known from identify on.
  std::optional<ClientStartup> startup_;
  policy::WorkloadIdentity identity_;  // from the kernel (SO_PEERCRED + /proc, or the eBPF record)
  std::optional<policy::NetAddress> original_destination_;  // intercepted connections only
  std::optional<std::string> original_unix_path_;           // intercepted unix connections only
  bool fast_path_ = false;
  std::string identity_name_ = "-";
  const policy::Upstream* upstream_config_ = nullptr;
  const policy::Policy* policy_ = nullptr;  // null: statements are not checked (default: allow)
  std::string upstream_name_ = "-";
  // The upstream backend's cancel key, and the one the client got instead.
  std::optional<CancelTarget> upstream_cancel_target_;
  std::optional<std::pair<int32_t, std::string>> issued_cancel_key_;
  sockaddr_storage upstream_addr_{};
  socklen_t upstream_addr_len_ = 0;
  bool own_socket_registered_ = false;

  // --- startup phase: whole packets are needed, so bytes accumulate here.
  // The user-provided constructors here and in LoginState are for clang
  // (the sanitizer build): it decides whether a nested struct with default
  // member initializers is default-constructible while Session is still
  // incomplete, answers no, and then refuses std::optional's in_place and
  // emplace() (llvm-project issue 36032).
  struct StartupState {
    StartupState() {}
    std::string client_in;
    int encryption_requests = 0;
  };
  std::optional<StartupState> startup_state_{std::in_place};
  struct ProcRead {
    int step = 0;  // 0: cgroup, 1: comm
    int fd = -1;
    std::string path;
    char buf[1024];
  } proc_;

  // --- connect and login, or a cancel connection.
  struct LoginState {
    LoginState() {}
    std::optional<UpstreamLogin> login;
    std::string upstream_in;
    std::string to_client;  // messages collected for the client during login
    policy::StartupSettings reported;  // the server's ParameterStatus during login
    bool authenticated = false;
    __kernel_timespec connect_timeout{};
    std::chrono::steady_clock::time_point started{};  // the upstream accepted (timeouts.upstream_login)
    // A cancel connection: the key it delivers.
    int32_t cancel_process_id = 0;
    std::string cancel_key;
    bool cancel_sent = false;  // the CancelRequest is queued (the connection ends once it is out)
    // TLS to the upstream (session_upstream_tls.cpp): where the SSLRequest
    // stands, and the context and checks the channel is made with.
    enum class TlsStage : uint8_t { kNone, kAwaitAnswer, kHandshake, kDone };
    TlsStage tls_stage = TlsStage::kNone;
    std::shared_ptr<const pgwire::TlsContext> tls_context;
    std::string tls_server_name;
    bool tls_check_host = false;
  };
  std::optional<LoginState> login_;

  // --- relay: message boundaries of both streams, the relay of the
  // session's tracker and filters (empty when nothing is inspected).
  struct RelayState {
    MessageSlicer client_slicer;
    MessageSlicer upstream_slicer;
    std::vector<RelayPiece> pieces;  // reused for every chunk
    relay::Relay relay;
    bool waiting_for_catalog = false;
    std::optional<std::pair<uint16_t, uint32_t>> held_client_chunk;  // received while waiting for it
    std::string held_client_plain;  // the same, decrypted from TLS
    // Client bytes not yet decided, held while the relay waits for the
    // server's answer to its settings probe (Relay::holding_client()).
    std::string held_client;
    std::string scratch;  // a rewritten message before it joins the chunk's pieces
    bool failed = false;  // the relay lost track: nothing more is forwarded
    RelayState(uint32_t client_max, uint64_t session_id)
        : client_slicer(client_max), upstream_slicer(pgwire::kDefaultMaxMessageSize), relay(session_id) {}
  };
  std::optional<RelayState> relay_;
  // timeouts.client_idle: since when the session has been idle, and the
  // client's byte count then (a change means it was not idle after all).
  std::chrono::steady_clock::time_point idle_since_{};
  uint64_t idle_mark_ = 0;
  // This session's recording (recording.dir), or null.
  std::shared_ptr<class SessionCapture> capture_;
  nlohmann::json recording_header() const;
  bool ended_for_recording(std::optional<uint16_t> buffer_id);
  // The approval request the held message waits for ("" : none).
  std::string approval_id_;
  std::chrono::milliseconds approval_timeout_{0};
};

}  // namespace pgw::engine
