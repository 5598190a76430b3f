// Follows a session's result stream and masks it.
//
// The relay tells the masker every client message it forwards that shapes
// the answers (Query, Parse, Bind, Describe, Execute, Close, Sync,
// FunctionCall) and shows it every upstream message that may carry values.
// Each forwarded client message pushes what the server will answer to it
// onto a queue; the server's messages are matched against that queue in
// order, so every RowDescription, DataRow and CopyData is attributed to the
// statement it answers:
//
//   Query      → per statement: RowDescription, DataRow*, CommandComplete
//                (or CopyOutResponse, CopyData*, CopyDone, CommandComplete),
//                ..., ReadyForQuery; an error ends the Query
//   Parse → ParseComplete, Bind → BindComplete, Close → CloseComplete,
//   Describe statement → ParameterDescription, RowDescription | NoData,
//   Describe portal → RowDescription | NoData, Execute → DataRow*,
//   CommandComplete | PortalSuspended | EmptyQueryResponse,
//   Sync → ReadyForQuery; an error skips everything up to the Sync
//
// A RowDescription becomes a RowPlan (result_plan.h) with the statement's
// lineage; each DataRow is rewritten by it. An Execute of a portal the
// client never described gets a Describe injected in front of it, whose
// answer the client never sees: the masker must know the row shape before
// the first row. Statements that would carry masked values away (writes,
// set_config, pg_notify), filter on them under `strict: true`, or COPY them
// in binary are refused before they run.
//
// Anything that does not fit the queue (a protocol desync) ends the session
// rather than forwarding rows that were not checked.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/mask_models.h"
#include "engine/statement_gate.h"
#include "mask/copy_rewriter.h"
#include "mask/row_plan.h"
#include "pgwire/frontend_messages.h"

namespace pgw::engine {

class ResultMasker {
 public:
  // What the masker needs from the session's policy side.
  class Source {
   public:
    virtual ~Source() = default;
    // The mask rules in force now (null: this policy masks nothing).
    virtual Result<std::shared_ptr<MaskHandle>> mask_handle() = 0;
    virtual bool standard_conforming_strings() const = 0;
    // The schemas an unqualified COPY table name is looked up in.
    virtual std::vector<std::string> search_path() const = 0;
  };

  ResultMasker(Source& source, std::string identity, uint64_t session_id);

  // --- client side, in the order messages are forwarded. The on_* calls
  // that return a verdict are made after the policy allowed the message; a
  // deny means a denial marker takes its place (and on_*_denied follows).
  GateVerdict on_query(std::string_view sql);
  void on_query_denied();
  GateVerdict on_parse(std::string_view statement, std::string_view sql);
  void on_parse_denied(std::string_view statement);
  void on_bind(std::string_view portal, std::string_view statement);
  void on_describe(char kind, std::string_view name);
  // Bytes to send before the Execute (an injected Describe), or empty.
  std::string on_execute(std::string_view portal);
  void on_close(char kind, std::string_view name);
  void on_sync();
  GateVerdict on_function_call(uint32_t function_oid);

  void on_function_call_denied();

  // --- upstream side
  // Whether the relay must assemble this message whole and show it.
  bool wants(char type);
  enum class Outcome : uint8_t { forward, replace, drop, fail };
  // `whole` is the message with its header. A replacement is appended to
  // `out` (which may already hold earlier messages of the same chunk).
  Outcome on_upstream(char type, std::string_view whole, std::string& out);
  // For fail: what went wrong (the session ends with it).
  const std::string& failure() const { return failure_; }

 private:
  // A statement's lineage: one entry of a traced list. A null handle: the
  // policy masked nothing when it was sent; a null list under a handle: it
  // did not parse, nothing is known and every computed column is masked.
  struct LineageRef {
    std::shared_ptr<MaskHandle> handle;
    std::shared_ptr<const LineageList> list;
    size_t index = 0;
    const sql::StatementLineage* get() const { return list && index < list->size() ? &(*list)[index] : nullptr; }
  };
  // Portals as the client sees them (what each was bound to, whether it
  // asked for the row shape) ...
  struct ClientPortal {
    LineageRef statement;
    bool described = false;
  };
  // ... and as the server's answers have shown them so far: a client may
  // pipeline a new Bind of a portal while rows of the previous one are
  // still coming, so the two must not share state.
  struct ServerPortal {
    bool planned = false;
    mask::RowPlan plan;
  };
  struct Expect {
    enum class Kind : uint8_t {
      query, parse, bind, describe_statement, describe_portal, execute, close, sync, function_call
    };
    Kind kind = Kind::query;
    bool injected = false;  // describe_portal pgwarden sent: its answer is swallowed
    char close_target = 0;
    std::string name;       // the portal (bind, describe_portal, execute, close 'P') or statement
    LineageRef ref;         // the statement(s) the answer belongs to
    size_t statement_index = 0;  // query: the statement running now
  };

  GateVerdict check(const LineageList& list, const MaskHandle& handle) const;
  GateVerdict untraceable_statement() const;
  // Follows FETCH / EXECUTE to the DECLARE / PREPARE they refer to.
  const sql::StatementLineage* resolve(const sql::StatementLineage* lineage) const;
  const sql::StatementLineage* current_statement(const Expect& e) const;
  void remember_names(const LineageRef& ref);
  Result<std::shared_ptr<MaskHandle>> handle_now();
  bool front_reads_masked() const;

  Outcome on_row_description(std::string_view body, std::string& out);
  Outcome on_data_row(std::string_view whole, std::string& out);
  Outcome on_copy_out(std::string_view body);
  Outcome on_copy_data(std::string_view whole, std::string& out);
  void statement_done();  // CommandComplete / EmptyQueryResponse / PortalSuspended
  void pop_front();
  void pop_until_sync();
  Outcome fail(std::string why);
  void log_untraceable(const std::vector<std::string>& names) const;

  Source& source_;
  const std::string identity_;
  const uint64_t session_id_;
  std::deque<Expect> expects_;
  std::unordered_map<std::string, LineageRef> statements_;    // protocol-level prepared statements
  std::unordered_map<std::string, ClientPortal> client_portals_;
  std::unordered_map<std::string, ServerPortal> server_portals_;
  std::unordered_map<std::string, LineageRef> cursors_;       // DECLARE name
  std::unordered_map<std::string, LineageRef> sql_prepared_;  // PREPARE name

  // The result being streamed now.
  bool rows_active_ = false;
  mask::RowPlan rows_plan_;                 // a simple Query's current result
  ServerPortal* execute_portal_ = nullptr;  // an Execute's portal (its plan)
  bool copy_active_ = false;
  bool copy_header_pending_ = false;
  mask::RowPlan copy_plan_;
  mask::CopyFormat copy_format_;
  std::string failure_;
};

}  // namespace pgw::engine
