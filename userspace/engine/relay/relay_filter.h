// A link of the relay's filter chain: something that looks at the messages of
// a session as the protocol tracker attributes them.
//
//   client ──► [policy] ──► [mask] ──► upstream        requests, in order
//   client ◄── [policy] ◄── [mask] ◄── upstream        answers, in order
//
// A filter sees each client message the server answers before it is
// forwarded (it may refuse it) and the server messages it asks for, with the
// request they answer. It reads the tracker and writes its notes on the
// tracker's requests, statements and portals (entries.h); protocol state of
// its own it has none. Filters know messages and the tracker, never sockets
// or rings. Approval (a statement held until a person decides) and the
// recorder plug in here the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "approval/approval_request.h"
#include "engine/relay/protocol_tracker.h"
#include "pgwire/frontend_messages.h"

namespace pgw::relay {

// A client message the server answers, decoded once for every filter.
using ClientMessage =
    std::variant<pgwire::Query, pgwire::Parse, pgwire::Bind, pgwire::Describe, pgwire::Execute, pgwire::Close,
                 pgwire::FunctionCall, std::monostate /* Sync */>;

struct Verdict {
  // hold: the policy says people must approve it first. Nothing of it
  // reaches the server; the relay keeps it, and the client's later
  // messages, until a decision (Relay::release_held()).
  enum class Action : uint8_t { forward, deny, hold };
  Action action = Action::forward;
  // deny: what the client reads, starting with "pgwarden:".
  std::string message;
  std::string sqlstate = "42501";
  std::string detail;  // which rule decided, which part of a multi-statement string
  int position = 0;    // 1-based character position (syntax errors), 0: none
  // forward, Execute only: pgwarden must learn the portal's row shape before
  // its first row; the relay sends a Describe of its own first.
  bool describe_first = false;
  // forward, Query, Execute or FunctionCall: it may change settings where
  // its text does not show; the relay asks the server what they are right
  // after it and holds the client's next messages until the answer is in
  // (settings_probe.h).
  bool confirm_settings = false;
  // deny, Query only: refused because pgwarden's parser cannot read it. The
  // relay may have the server parse it without running it: when the server
  // refuses it too, the client reads the server's own error (its code, hint
  // and detail included); when the server reads it, the client reads
  // if_server_reads (42501: pgwarden's parser is behind the server's).
  bool server_checks_syntax = false;
  std::string if_server_reads_message;
  std::string if_server_reads_detail;
  // hold: what people are asked (the relay adds the statement hash).
  approval::Ask ask;

  static Verdict forward() { return {}; }
  static Verdict deny(std::string message, std::string sqlstate = "42501", std::string detail = {},
                      int position = 0) {
    Verdict v;
    v.action = Action::deny;
    v.message = std::move(message);
    v.sqlstate = std::move(sqlstate);
    v.detail = std::move(detail);
    v.position = position;
    return v;
  }
  static Verdict hold(approval::Ask ask) {
    Verdict v;
    v.action = Action::hold;
    v.ask = std::move(ask);
    return v;
  }
  bool denied() const { return action == Action::deny; }
  bool held() const { return action == Action::hold; }
  // Stops the chain: later filters do not see it.
  bool stops() const { return action != Action::forward; }
};

class RelayFilter {
 public:
  virtual ~RelayFilter() = default;

  // A client message, its request begun (not yet queued). Filters run in
  // chain order; the first denial or hold stops the chain. A request made
  // again from a held message that people approved has `approved` set.
  virtual Verdict on_request(Request& request, const ClientMessage& message) = 0;

  // Server side. Whether this filter must see a message of `type`, whole,
  // answering `answer` (asked at the message's header; cheap).
  virtual bool wants(char type, const Answer& answer) const = 0;
  enum class Outcome : uint8_t { forward, replace, drop, fail };
  // `whole` is the message with its header; a replacement is appended to
  // `out`. fail ends the session (failure() says why).
  virtual Outcome on_answer(char type, std::string_view whole, const Answer& answer, std::string& out) = 0;
  virtual const std::string& failure() const = 0;
  // The SQLSTATE the client reads when fail ends the session for a reason
  // of policy; empty: pgwarden could not check a result (XX000).
  virtual std::string_view failure_sqlstate() const { return {}; }
};

}  // namespace pgw::relay
