// The masking link of the filter chain: results are masked by the mask rules
// of the session's policy.
//
// Before a message runs, statements that would carry masked values away
// (writes, set_config, pg_notify, advisory locks, ...), filter on them under
// `strict: true`, or cannot be traced are refused; so are prepared
// statements and cursors whose statement fails that check under the rules in
// force now (a reload). An Execute of a portal whose row shape pgwarden has
// not seen under those rules gets a Describe of pgwarden's own in front of it.
//
// Every RowDescription, DataRow and CopyData arrives attributed by the
// tracker to the statement it answers: a simple Query's statement by index,
// an Execute's portal as the server held it when the rows came. A row shape
// becomes a RowPlan (result_plan.h) with the statement's lineage, followed
// through EXECUTE and FETCH to what the names held; a name pgwarden could
// not follow is masked as the worst case. Errors, notices, notifications and
// parameter reports are scrubbed (side_channels.h). Rows that fit no plan end
// the session rather than pass unchecked.
#pragma once

#include <memory>
#include <string>

#include "engine/mask_models.h"
#include "policy/catalog.h"
#include "policy/config.h"
#include "engine/engine_metrics.h"
#include "engine/relay/relay_filter.h"
#include "mask/copy_rewriter.h"
#include "mask/row_plan.h"

namespace pgw::relay {

class MaskFilter final : public RelayFilter {
 public:
  // What masking needs of the policy side (PolicyFilter in a session).
  class PolicySide {
   public:
    virtual ~PolicySide() = default;
    virtual const policy::Config& config() = 0;
    virtual uint64_t config_generation() = 0;
    virtual const policy::Policy* policy() = 0;  // null: no policy, nothing masked
    virtual std::shared_ptr<const policy::Catalog> catalog() const = 0;
    // Every search path that may be in effect (expanded, as
    // SessionSqlState::search_paths): an unqualified COPY table is looked up
    // on each.
    virtual std::vector<std::vector<std::string>> search_paths() const = 0;
    // False when the client may be reading another encoding than UTF-8 (a
    // SET client_encoding): masking reads and writes values as UTF-8.
    virtual bool client_encoding_is_utf8() const = 0;
  };

  // `metrics`: where rows masked are counted (none in unit tests).
  MaskFilter(PolicySide& policy, engine::MaskModels& models, const ProtocolTracker& tracker, std::string identity,
             uint64_t session_id, engine::LoopMetrics* metrics = nullptr);

  Verdict on_request(Request& request, const ClientMessage& message) override;
  bool wants(char type, const Answer& answer) const override;
  Outcome on_answer(char type, std::string_view whole, const Answer& answer, std::string& out) override;
  const std::string& failure() const override { return failure_; }

 private:
  using Handle = std::shared_ptr<engine::MaskHandle>;
  // A statement's lineage, kept alive with the list it is part of.
  struct Traced {
    std::shared_ptr<const engine::LineageList> list;
    const sql::StatementLineage* statement = nullptr;
  };

  Result<Handle> handle_now();
  // Client side: the checks before a message runs.
  Verdict check_text(const SqlText& text, const Handle& handle, Request& r);
  Verdict check_statement(PreparedStatement& s, const Handle& handle);
  Verdict check_portal(const Portal& p, const Handle& handle);
  // The statements of `list`, and what their EXECUTE / FETCH may run (every
  // candidate), refused as masking_denial() says.
  Verdict check_lineages(const engine::LineageList& list, const Handle& handle, int hops);
  Verdict untraceable() const;
  Verdict wrong_encoding() const;
  Verdict on_function_call(const pgwire::FunctionCall& call, const Handle& handle);
  bool row_shape_known(const std::string& portal) const;
  // Whether a statement of a text reads masked values (under the rules now).
  bool source_reads_masked(const TextRef& ref) const;
  bool source_is_quiet(const TextRef& ref) const;
  bool portal_is_quiet(const Portal& p) const;

  // Server side: what the rows of a statement are, following EXECUTE and
  // FETCH through what the server holds; an empty statement when unknown.
  Traced resolve(TextRef ref, const Handle& handle) const;
  bool reads_masked(const Answer& answer) const;
  Outcome on_row_description(std::string_view body, const Answer& answer);
  Outcome on_no_data(const Answer& answer);
  Outcome on_data_row(std::string_view whole, const Answer& answer, std::string& out);
  Outcome on_copy_out(std::string_view body, const Answer& answer);
  Outcome on_copy_data(std::string_view whole, const Answer& answer, std::string& out);
  Outcome fail(std::string why);
  void log_untraceable(const std::vector<std::string>& names) const;

  PolicySide& policy_;
  engine::MaskModels& models_;
  const ProtocolTracker& tracker_;
  const std::string identity_;
  const uint64_t session_id_;
  engine::LoopMetrics* const metrics_;
  Handle current_;  // the rules at the last client message (for messages that answer nothing)

  // The result streaming now: a simple Query's statement and its plan.
  struct Stream {
    const Request* request = nullptr;
    size_t statement = 0;
    bool copy = false;
    bool copy_header_pending = false;
    mask::RowPlan plan;
    mask::CopyFormat copy_format;
    bool matches(const Answer& a) const { return request == a.request.get() && statement == a.statement_index; }
  } rows_;
  std::string failure_;
};

}  // namespace pgw::relay
