// The relay of one session at message level: the protocol tracker and the
// filter chain, between the engine's byte plumbing and the filters.
//
// The engine slices each direction into messages (message_slicer.h) and asks
// the relay which ones it must see whole; everything else passes as ranges of
// the receive buffers. For each client message the server answers the relay
// begins a request, lets the filters decide, and queues it; a refused
// message is replaced by a denial marker (denial_markers.h) so that the
// server answers it with an error in the right place of the stream, which
// the relay turns into pgwarden's own. For each server message the tracker
// says what it answers and the interested filters may rewrite or drop it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/relay/protocol_tracker.h"
#include "engine/relay/relay_filter.h"
#include "engine/relay/settings_probe.h"

namespace pgw::relay {

class Relay {
 public:
  explicit Relay(uint64_t session_id) : session_id_(session_id) {}

  void add_filter(std::unique_ptr<RelayFilter> filter) { filters_.push_back(std::move(filter)); }
  ProtocolTracker& tracker() { return tracker_; }
  const ProtocolTracker& tracker() const { return tracker_; }

  // hold (client messages only): the message waits for people to decide
  // (held_ask()); nothing more of the client's is decided until
  // release_held().
  enum class Outcome : uint8_t { forward, replace, drop, fail, hold };

  // ---- client → server
  // Whether a client message of this type must be assembled whole (those
  // with a body the tracker or a filter reads).
  static bool wants_client(char type);
  // A message not assembled, at its header (Sync, Flush, copy data, ...).
  void on_client_header(char type);
  // A whole client message; a replacement (or prefix + the message) is
  // written to `out`. fail: the session must end (failure() says why).
  Outcome on_client_message(char type, std::string_view whole, std::string& out);

  // ---- server → client
  // Asked at each server message's header, before any of its bytes: whether
  // the relay must see it whole. A message not wanted is taken into account
  // at once (it has no body anyone reads).
  bool wants_server(char type);
  // The header of a message wants_server() declined.
  Outcome on_server_header(char type);
  Outcome on_server_message(char type, std::string_view whole, std::string& out);

  const std::string& failure() const { return failure_; }
  // The SQLSTATE of a failure of policy (a forbidden role change); empty for
  // a result pgwarden could not check.
  const std::string& failure_sqlstate() const { return failure_sqlstate_; }

  // A settings probe is outstanding (settings_probe.h): the engine must not
  // pass the client's next messages on until it is answered (or skipped).
  bool holding_client() const { return probe_last_ != nullptr || held_.has_value(); }

  // ---- approvals
  // The ask of the message held for approval, or null.
  const approval::Ask* held_ask() const { return held_ ? &held_->ask : nullptr; }
  // People decided. Approved (`refusal` empty): the held message goes on as
  // if the policy allowed it, once. Otherwise it is refused in its place of
  // the stream with `refusal`. What goes to the server is written to `out`.
  Outcome release_held(std::optional<Verdict> refusal, std::string& out);
 private:
  Outcome fail(std::string why);
  void ask_settings(uint64_t cycle, bool extended, std::string& out);
  void release_if_answered();
  void advance(char type, std::string_view body);
  std::string marker_for(Request& request, std::string_view original_name, Verdict verdict);

  const uint64_t session_id_;
  ProtocolTracker tracker_;
  std::vector<std::unique_ptr<RelayFilter>> filters_;
  // The answer of the message whose header was just read (wants_server()).
  Answer pending_answer_;
  bool pending_wanted_ = false;
  std::string scratch_;
  std::string failure_;
  std::string failure_sqlstate_;
  // The last request of the outstanding settings probe.
  std::shared_ptr<const Request> probe_last_;
  // A client message held for approval, as it came.
  struct Held {
    char type = 0;
    std::string whole;
    approval::Ask ask;
  };
  std::optional<Held> held_;
  bool releasing_approved_ = false;  // on_client_message() is making the held message again
};

}  // namespace pgw::relay
