// Message builders and a relay harness for the relay's unit tests: client
// messages go through the relay as the engine sends them, server messages
// come back through it, and the test reads what each side received.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/relay/relay.h"
#include "pgwire/data_row.h"
#include "pgwire/empty_message.h"
#include "pgwire/error_response.h"
#include "pgwire/frame.h"
#include "pgwire/frontend_messages.h"
#include "pgwire/row_description.h"
#include "sql/analyze.h"

namespace pgw::relay::testing {

inline std::string simple(char type, std::string_view body = {}) {
  std::string out(1, type);
  const uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  out.append(body);
  return out;
}

template <typename M>
std::string encoded(const M& m) {
  std::string out;
  pgwire::encode(m, out);
  return out;
}

inline std::string query(std::string_view sql) { return encoded(pgwire::Query{sql}); }
inline std::string parse(std::string_view name, std::string_view sql) {
  pgwire::Parse p;
  p.statement = name;
  p.query = sql;
  return encoded(p);
}
inline std::string bind(std::string_view portal, std::string_view statement) {
  pgwire::Bind b;
  b.portal = portal;
  b.statement = statement;
  return encoded(b);
}
inline std::string describe(char target, std::string_view name) { return encoded(pgwire::Describe{target, name}); }
inline std::string execute(std::string_view portal, int32_t max_rows = 0) {
  return encoded(pgwire::Execute{portal, max_rows});
}
inline std::string close(char target, std::string_view name) { return encoded(pgwire::Close{target, name}); }
inline std::string sync() { return simple('S'); }

// Server messages.
inline std::string parse_complete() { return simple('1'); }
inline std::string bind_complete() { return simple('2'); }
inline std::string close_complete() { return simple('3'); }
inline std::string no_data() { return simple('n'); }
inline std::string command_complete(std::string_view tag) { return simple('C', std::string(tag) + '\0'); }
inline std::string ready(char status = 'I') { return simple('Z', std::string(1, status)); }
inline std::string error(std::string_view sqlstate, std::string_view message) {
  std::string out;
  pgwire::build_error_response({"ERROR", std::string(sqlstate), std::string(message)}, out);
  return out;
}
inline std::string row_description(std::initializer_list<pgwire::FieldDescription> fields) {
  std::string out;
  pgwire::encode_row_description(std::span<const pgwire::FieldDescription>(fields.begin(), fields.size()), out);
  return out;
}
inline pgwire::FieldDescription field(std::string_view name, uint32_t table, int16_t column, uint32_t type = 25) {
  pgwire::FieldDescription f;
  f.name = name;
  f.table = table;
  f.column = column;
  f.type = type;
  f.type_size = -1;
  f.type_modifier = -1;
  return f;
}
inline std::string data_row(std::initializer_list<std::string_view> values) {
  std::string out;
  pgwire::DataRowWriter w(out);
  for (auto v : values) w.add(v);
  w.finish();
  return out;
}

// The type bytes of the messages in a stream.
inline std::string types_of(std::string_view stream) {
  std::string types;
  while (stream.size() >= 5) {
    types.push_back(stream[0]);
    const uint32_t len = (static_cast<uint8_t>(stream[1]) << 24) | (static_cast<uint8_t>(stream[2]) << 16) |
                         (static_cast<uint8_t>(stream[3]) << 8) | static_cast<uint8_t>(stream[4]);
    stream.remove_prefix(std::min<size_t>(stream.size(), len + 1));
  }
  return types;
}

// What the policy filter tells the tracker about texts in a session: the
// facts of every statement (the tracker follows names by them). Tests that
// need no policy decisions use it in the policy filter's place.
class FactsFilter final : public RelayFilter {
 public:
  Verdict on_request(Request& r, const ClientMessage&) override {
    if (!r.text) return Verdict::forward();
    auto analysis = sql::analyze(r.text->sql);
    if (!analysis.ok()) {
      r.text->effects_unknown = true;
      return Verdict::forward();
    }
    r.text->effects = std::make_shared<const std::vector<sql::StatementFacts>>(analysis.statements);
    if (r.defines && analysis.statements.size() == 1) {
      r.defines->policy.facts = std::make_shared<const sql::StatementFacts>(analysis.statements[0]);
    }
    return Verdict::forward();
  }
  bool wants(char, const Answer&) const override { return false; }
  Outcome on_answer(char, std::string_view, const Answer&, std::string&) override { return Outcome::forward; }
  const std::string& failure() const override { return failure_; }

 private:
  std::string failure_;
};

// A relay fed whole messages from both sides.
struct RelayHarness {
  Relay relay{1};
  std::string upstream;  // what the server received
  std::string client;    // what the client received
  bool failed = false;
  std::string failure;  // why the relay ended the session

  // Returns false when the relay refused the message (a denial marker went
  // upstream instead).
  bool send(const std::string& whole) {
    const char type = whole[0];
    if (!Relay::wants_client(type)) {
      relay.on_client_header(type);
      upstream += whole;
      return true;
    }
    std::string out;
    switch (relay.on_client_message(type, whole, out)) {
      case Relay::Outcome::forward: upstream += whole; return true;
      case Relay::Outcome::replace:
        upstream += out;
        return out.find(whole) != std::string::npos;  // an injected prefix, or a marker
      case Relay::Outcome::drop: return true;
      case Relay::Outcome::hold: return false;  // kept by the relay until release_held()
      case Relay::Outcome::fail: failed = true; failure = relay.failure(); return false;
    }
    return false;
  }
  void server(const std::string& whole) {
    const char type = whole[0];
    if (!relay.wants_server(type)) {
      if (relay.on_server_header(type) == Relay::Outcome::fail) { failed = true; failure = relay.failure(); }
      client += whole;
      return;
    }
    std::string out;
    switch (relay.on_server_message(type, whole, out)) {
      case Relay::Outcome::forward: client += whole; break;
      case Relay::Outcome::replace: client += out; break;
      case Relay::Outcome::drop: break;
      case Relay::Outcome::hold: failed = true; failure = "a server message cannot be held"; break;
      case Relay::Outcome::fail: failed = true; failure = relay.failure(); break;
    }
  }
  const ProtocolTracker& tracker() const { return relay.tracker(); }
};

}  // namespace pgw::relay::testing
