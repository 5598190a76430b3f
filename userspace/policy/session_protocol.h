// What a session's protocol tracker tells the policy: how far the server has
// answered what the engine forwarded, and which statements the session's
// names may stand for.
//
// The engine's protocol tracker (engine/relay/protocol_tracker.h) is the one
// implementation on the data path; SessionSqlState and decide() only read
// it. `policy explain` and tests use StandaloneProtocol: every cycle
// answered, nothing prepared, unless a test says otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sql/statement_facts.h"

namespace pgw::policy {

using FactsList = std::vector<std::shared_ptr<const sql::StatementFacts>>;

class SessionProtocol {
 public:
  virtual ~SessionProtocol() = default;

  // Query, Sync and FunctionCall messages forwarded: each is one cycle,
  // ended by one ReadyForQuery (or skipped after an extended-protocol error).
  virtual uint64_t cycles_sent() const = 0;
  // Cycles the server has ended so far.
  virtual uint64_t cycles_answered() const = 0;
  // No ErrorResponse and no ROLLBACK since the last idle ReadyForQuery.
  virtual bool transaction_clean() const = 0;
  // Changes whenever one of the three above does (cached readings compare it).
  virtual uint64_t position_version() const = 0;

  // The facts of every statement the prepared statement `name` may be when
  // the next statement runs: SQL PREPARE and protocol Parse share one
  // namespace; a definition the server has not answered yet may or may not
  // take effect, so it is listed beside the one it would replace. Empty: the
  // session has no such statement as far as pgwarden saw.
  virtual FactsList prepared(std::string_view name) const = 0;
  // The same for cursors (SQL DECLARE; protocol portals share the
  // namespace): the facts of the query each may run.
  virtual FactsList cursor(std::string_view name) const = 0;
};

// A protocol position with nothing in flight, for callers that decide one
// statement on its own. Tests move it by hand.
class StandaloneProtocol final : public SessionProtocol {
 public:
  uint64_t cycles_sent() const override { return sent; }
  uint64_t cycles_answered() const override { return answered; }
  bool transaction_clean() const override { return clean; }
  uint64_t position_version() const override {
    return (moves << 56) ^ (sent << 32) ^ (answered << 1) ^ (clean ? 0 : 1);
  }
  FactsList prepared(std::string_view name) const override { return find(statements, name); }
  FactsList cursor(std::string_view name) const override { return find(cursors, name); }

  uint64_t sent = 0;
  uint64_t answered = 0;
  bool clean = true;
  uint64_t moves = 0;  // tests bump it when they change the fields above
  std::map<std::string, FactsList, std::less<>> statements;
  std::map<std::string, FactsList, std::less<>> cursors;

 private:
  static FactsList find(const std::map<std::string, FactsList, std::less<>>& m, std::string_view name) {
    auto it = m.find(name);
    return it == m.end() ? FactsList{} : it->second;
  }
};

}  // namespace pgw::policy
