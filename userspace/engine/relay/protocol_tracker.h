// The one record of a session's protocol state: what the client asked, what
// the server will answer, and what the session's names stand for.
//
// Like pgbouncer's `outstanding_requests` queue (src/objects.c), every client
// message the server answers becomes a Request at the back of a queue, and
// every server message is matched against the request at its front:
//
//   Query          → per statement [RowDescription DataRow* | CopyOut… | CopyIn…]
//                    CommandComplete (or EmptyQueryResponse) …, ReadyForQuery;
//                    an ErrorResponse ends the statements, ReadyForQuery follows
//   Parse → ParseComplete            Bind → BindComplete
//   Describe statement → ParameterDescription, RowDescription | NoData
//   Describe portal → RowDescription | NoData
//   Execute → DataRow* / CopyOut… / CopyIn…, then CommandComplete |
//             PortalSuspended | EmptyQueryResponse
//   Close → CloseComplete            Sync → ReadyForQuery
//   FunctionCall → FunctionCallResponse, ReadyForQuery
//   an ErrorResponse to an extended-protocol message: the server skips every
//   message up to the next Sync (Queries and FunctionCalls included)
//
// Names bind when the server confirms them, never when the client sends
// them: a prepared statement at ParseComplete or at the CommandComplete of
// PREPARE, a portal at BindComplete or at the CommandComplete of DECLARE. A
// refused definition never replaces what the name held. Until the answer
// comes, a definition in flight is a *candidate*: what a later message refers
// to may be it or what the name held before, and decisions check both.
// Portals end with their transaction (WITH HOLD cursors outlive a committed
// one); PostgreSQL's one namespace per kind is kept: SQL PREPARE and protocol
// statements share one, DECLARE cursors and protocol portals the other.
//
// Filters (relay_filter.h) read the tracker and write their notes on the
// statements and portals it keeps (entries.h); they never keep protocol state
// of their own. Nothing here knows sockets or rings.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/relay/entries.h"
#include "policy/session_protocol.h"

namespace pgw::engine {
class MaskHandle;
}

namespace pgw::relay {

// What pgwarden sent upstream in place of a refused message, and what the
// client reads when the server answers it (see denial_marker.h).
struct Denial {
  std::string token;  // the unique word the server's error will name
  std::string message;
  std::string sqlstate = "42501";
  std::string detail;
  int position = 0;
  // A parse probe (Verdict::server_checks_syntax) the server read: 42501.
  std::string if_server_reads_message;
  std::string if_server_reads_detail;
};

struct Request {
  enum class Kind : uint8_t {
    query,
    parse,
    bind,
    describe_statement,
    describe_portal,
    execute,
    close_statement,
    close_portal,
    sync,
    function_call,
  };
  Kind kind = Kind::query;
  std::string name;            // parse: the statement; bind, describe, execute, close: the portal or statement
  std::string statement_name;  // bind: the statement it binds
  std::shared_ptr<SqlText> text;                  // query, parse
  std::shared_ptr<PreparedStatement> defines;     // parse: what the name holds once confirmed
  bool injected = false;       // pgwarden's own (a Describe, a settings probe): its answers are not the client's
  // pgwarden's question about the settings after a statement that may have
  // changed them unseen (settings_probe.h), and that statement's cycle
  // (cycles_sent() before it).
  bool settings_probe = false;
  uint64_t settings_cycle = 0;
  bool answered = false;  // answered in full, or skipped after an error: out of the queue
  std::optional<Denial> denial;
  // query: sent as Parse of the unnamed statement and Sync, so that the
  // server parses the text without running it (denial_markers.h).
  bool parse_probe = false;
  // Made again from a held message that people approved: an `approve`
  // decision lets it run (once).
  bool approved = false;

  // Progress, as the server's answers arrive.
  bool started = false;        // some answer to it has arrived
  bool failed = false;         // an ErrorResponse answered it
  size_t statements_done = 0;  // query: CommandCompletes so far (the running statement's index)
  std::vector<std::shared_ptr<PreparedStatement>> pending_statements;  // query: PREPAREs in flight
  std::vector<std::shared_ptr<Portal>> pending_portals;               // query: DECLAREs in flight; bind: the portal
  // The policy filter's note: the policy the request was decided under.
  // Statements and portals it defines inherit it.
  DecidedUnder decided;
  // The mask filter's notes: the mask rules in force when it was sent (null:
  // none), by which its answers are masked; whether what it runs reads
  // masked values (an error at commit, of a WITH HOLD cursor, answers a
  // later request of the same transaction: see transaction_read_masked()).
  std::shared_ptr<engine::MaskHandle> mask_handle;
  bool reads_masked = false;

  bool ends_cycle() const { return kind == Kind::query || kind == Kind::sync || kind == Kind::function_call; }
};

std::string_view to_string(Request::Kind kind);  // "Parse", "Describe (portal)", ...

// What a server message answered, for the filters that look at it.
struct Answer {
  // The request it answers; null for a message that answers nothing (a
  // notice, a notification or a parameter report while idle, a FATAL).
  std::shared_ptr<const Request> request;
  // query: the statement the message belongs to (before CommandComplete
  // moved on); execute, describe portal: the portal as the server held it.
  size_t statement_index = 0;
  std::shared_ptr<Portal> portal;
  // The message ended what it answered (CommandComplete, ReadyForQuery, ...)
  bool ends_statement = false;
};

class ProtocolTracker final : public policy::SessionProtocol {
 public:
  ProtocolTracker();

  // ---- client → server, in the order messages are forwarded ---------------
  // A request for a message the server answers. The filters look at it (and
  // may deny it or set its text) before commit() queues it.
  std::shared_ptr<Request> begin(Request::Kind kind);
  void commit(std::shared_ptr<Request> request);
  // Flush, CopyData, CopyDone, CopyFail and Terminate get no answer of their
  // own; nothing to track.

  // ---- server → client, in two steps per message ----------------------------
  // What the message answers, as the state stands before it: the filters
  // look at it with this. An error when the server said something the queue
  // does not allow (a desync: the session must end rather than relay
  // unchecked data).
  Result<Answer> answer(char type);
  // Then takes it into account (only after answer() accepted it). `body` is
  // needed for CommandComplete (its tag) and ReadyForQuery (the status);
  // other types are followed by type alone.
  void advance(char type, std::string_view body);
  // Which server message types advance() needs the body of.
  static bool needs_body(char type);

  // ---- what decisions read -----------------------------------------------------
  uint64_t cycles_sent() const override { return cycles_sent_; }
  uint64_t cycles_answered() const override { return cycles_answered_; }
  bool transaction_clean() const override { return transaction_clean_; }
  uint64_t position_version() const override { return position_version_; }
  char transaction_status() const { return transaction_status_; }
  // A request of the transaction in progress on the server read masked
  // values (its requests' `reads_masked` notes, since the last idle
  // ReadyForQuery).
  bool transaction_read_masked() const { return transaction_read_masked_; }
  // Nothing outstanding: every request has been answered.
  bool idle() const { return queue_.empty(); }
  // Extended-protocol messages were sent since the last Sync: the server is
  // in an extended batch (a Sync pgwarden added would end it).
  bool extended_batch_open() const { return extended_batch_open_; }
  size_t outstanding() const { return queue_.size(); }

  // Client side: everything a name may stand for when the next message runs
  // (what the server holds, and definitions in flight).
  std::vector<std::shared_ptr<PreparedStatement>> statement_candidates(std::string_view name) const;
  std::vector<std::shared_ptr<Portal>> portal_candidates(std::string_view name) const;
  // Server side: what the name holds as of the answers read so far (null:
  // nothing pgwarden knows of). Rows are attributed with these: they arrive
  // after every answer that shaped them.
  std::shared_ptr<PreparedStatement> held_statement(std::string_view name) const;
  std::shared_ptr<Portal> held_portal(std::string_view name) const;
  // A name may have been defined or dropped where pgwarden could not follow
  // (a statement forwarded unparsed, a server answer it could not attribute):
  // what it holds is only a guess, and masking must assume the worst.
  bool names_uncertain() const { return names_uncertain_; }

  // policy::SessionProtocol: the facts behind the candidates.
  policy::FactsList prepared(std::string_view name) const override;
  policy::FactsList cursor(std::string_view name) const override;

  // Every statement and portal the server holds (a reload re-decides them).
  template <typename F>
  void for_each_held(F&& f) const {
    for (const auto& [name, s] : statements_) f(*s);
    for (const auto& [name, p] : portals_) f(*p);
  }

 private:
  void start(Request& r);
  void add_defined_by_execute(Request& r);
  void add_pending_names(Request& r, const std::vector<TextRef>& sources);
  std::optional<TextRef> names_made_by(TextRef statement) const;
  std::optional<TextRef> names_made_by(const PreparedStatement& s) const;
  std::optional<TextRef> names_made_by(const Portal& p) const;
  void confirm_statement(const std::shared_ptr<PreparedStatement>& s);
  void confirm_portal(const std::shared_ptr<Portal>& p);
  void drop_pending(Request& r);
  void apply_command(Request& r, std::string_view tag);
  void apply_effects(Request& r, const sql::StatementFacts& effects, const TextRef& source, std::string_view tag);
  void end_transaction(bool committed);
  void pop_front();
  void skip_to_sync();
  Result<Answer> desync(std::string what);

  std::deque<std::shared_ptr<Request>> queue_;
  std::unordered_map<std::string, std::shared_ptr<PreparedStatement>> statements_;
  std::unordered_map<std::string, std::shared_ptr<Portal>> portals_;
  // Definitions sent and not answered yet, in the order sent.
  std::vector<std::shared_ptr<PreparedStatement>> statements_in_flight_;
  std::vector<std::shared_ptr<Portal>> portals_in_flight_;

  uint64_t cycles_sent_ = 0;
  uint64_t cycles_answered_ = 0;
  uint64_t position_version_ = 0;  // bumped whenever the three above change
  bool transaction_clean_ = true;
  char transaction_status_ = 'I';
  uint64_t transaction_epoch_ = 0;  // counts idle ReadyForQuery: portals know when they were made
  bool copy_out_ = false;
  bool skipping_ = false;  // the server discards messages until the client's next Sync
  bool extended_batch_open_ = false;
  bool transaction_read_masked_ = false;
  bool names_uncertain_ = false;
};

}  // namespace pgw::relay
