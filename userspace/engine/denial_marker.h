// How a denied statement keeps PostgreSQL's own error semantics.
//
// When pgwarden refuses a statement, the client must see exactly what it
// would see had PostgreSQL itself failed it there: earlier pipelined
// messages still answered in order, the failed transaction block aborted,
// later extended-protocol messages skipped until Sync. Rather than imitate
// all of that, pgwarden sends the upstream, in place of the denied message,
// a harmless statement that fails at parse time: a lone identifier unique to
// this denial. PostgreSQL answers it with a syntax error naming that
// identifier, in the right place of the response stream, with the right
// effects; pgwarden replaces that ErrorResponse with its own 42501. The
// denied text never reaches the database.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace pgw::engine {

class DenialMarkers {
 public:
  // What the client reads instead of the upstream's error.
  struct Denial {
    std::string message;
    std::string sqlstate;
    std::string detail;
    int position = 0;
  };

  // The message to send upstream instead of a denied one: a Query for the
  // simple protocol (and FunctionCall), a Parse for the extended one. The
  // Parse keeps the client's statement name: it fails at raw parsing, before
  // the server would drop an unnamed statement or look the name up, so the
  // client's other prepared statements stay exactly as they were.
  std::string replace_query(Denial denial);
  std::string replace_parse(std::string_view statement_name, Denial denial);

  bool pending() const { return !pending_.empty(); }

  // If `error_body` (an ErrorResponse body from the upstream) is the answer
  // to one of our markers, returns the ErrorResponse message (whole, with
  // type and length) to send the client instead.
  std::optional<std::string> rewrite(std::string_view error_body);

  // At ReadyForQuery every marker sent before it has been answered or was
  // skipped (an earlier error in the same pipeline): forget them.
  void settle() { pending_.clear(); }

 private:
  struct Pending {
    std::string token;
    Denial denial;
  };
  std::string next_token(Denial denial);

  uint64_t counter_ = 0;
  std::deque<Pending> pending_;
};

}  // namespace pgw::engine
