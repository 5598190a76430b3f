// The decision point for what a client asks the database to run.
//
// The relay hands the gate every message that can make the database do
// something (Query, Parse, Bind, FunctionCall, Close), whole, before a byte
// of it is forwarded. The gate answers forward or deny; it never sees result
// data. Its implementation (the policy engine) keeps whatever per-session
// state it needs (prepared statements, search_path, role).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgw::engine {

struct GateVerdict {
  enum class Action : uint8_t { kForward, kDeny };
  Action action = Action::kForward;
  // For kDeny: what the client reads, starting with "pgwarden:".
  std::string message;
  std::string sqlstate = "42501";
  std::string detail;  // which rule decided, which part of a multi-statement string
  int position = 0;    // 1-based character position (syntax errors), 0: none

  static GateVerdict forward() { return {}; }
  static GateVerdict deny(std::string message, std::string sqlstate = "42501", std::string detail = {},
                          int position = 0) {
    return {Action::kDeny, std::move(message), std::move(sqlstate), std::move(detail), position};
  }
};

class StatementGate {
 public:
  virtual ~StatementGate() = default;
  virtual GateVerdict on_query(std::string_view sql) = 0;
  virtual GateVerdict on_parse(std::string_view statement, std::string_view sql) = 0;
  virtual GateVerdict on_bind(std::string_view portal, std::string_view statement) = 0;
  virtual GateVerdict on_function_call(uint32_t function_oid) = 0;
  // A Sync: the upstream will end this extended-protocol cycle with a
  // ReadyForQuery.
  virtual void on_sync() = 0;
  // 'S' statement or 'P' portal closed (Close message).
  virtual void on_close(char kind, std::string_view name) = 0;
  // What the upstream reports that changes session state the gate tracks:
  // CommandComplete ('C'), ParameterStatus ('S'), ErrorResponse ('E') and
  // ReadyForQuery ('Z'), in stream order, with their bodies.
  virtual void on_upstream(char type, std::string_view body) = 0;
};

}  // namespace pgw::engine
