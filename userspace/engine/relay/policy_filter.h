// The policy link of the filter chain: every Query, Parse, Bind, Execute and
// FunctionCall of one session is decided against the policy of the session's
// identity on its upstream, with the loop thread's decision cache in front.
//
// The session's settings (search_path, role, string and encoding modes) are
// followed in SessionSqlState, which reads the protocol position and the
// session's names from the tracker. What a prepared statement or a portal was
// decided under is a note on the tracker's entry: a Bind or an Execute under
// another policy (a reload), catalog or session meaning decides it again
// before it runs. SQL EXECUTE and FETCH are decided with what the names may
// hold now, every time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/catalog_store.h"
#include "engine/engine_metrics.h"
#include "engine/recording_service.h"
#include "engine/session_registry.h"
#include "engine/relay/mask_filter.h"
#include "engine/relay/relay_filter.h"
#include "policy/config.h"
#include "policy/decision.h"
#include "policy/decision_cache.h"
#include "policy/session_sql_state.h"
#include "policy/startup_settings.h"

namespace pgw::engine {
class EngineState;
}

namespace pgw::relay {

class PolicyFilter final : public RelayFilter, public MaskFilter::PolicySide {
 public:
  PolicyFilter(engine::EngineState& state, engine::LoopMetrics& metrics, policy::DecisionCache& cache,
               const ProtocolTracker& tracker, uint64_t session_id, std::string identity, std::string upstream, std::shared_ptr<engine::CatalogEntry> catalog,
               engine::CatalogStore& catalogs, std::string login_user,
               const policy::StartupSettings& startup_settings);

  Verdict on_request(Request& request, const ClientMessage& message) override;
  bool wants(char type, const Answer& answer) const override;
  Outcome on_answer(char type, std::string_view whole, const Answer& answer, std::string& out) override;
  const std::string& failure() const override { return failure_; }
  std::string_view failure_sqlstate() const override { return failure_sqlstate_; }

  // Decisions also go to the session's recording from now on.
  void record_to(std::shared_ptr<engine::SessionCapture> capture) { capture_ = std::move(capture); }
  // The session's statement counts (`sessions list`, the session index).
  void count_statements_into(engine::SessionInfo* info) { info_ = info; }

  // MaskFilter::PolicySide
  const policy::Config& config() override { return *current_config(); }
  uint64_t config_generation() override { return current_generation(); }
  const policy::Policy* policy() override { return current_policy(); }
  std::shared_ptr<const policy::Catalog> catalog() const override { return catalog_->current(); }
  std::vector<std::vector<std::string>> search_paths() const override { return sql_state_.search_paths(); }
  bool client_encoding_is_utf8() const override { return sql_state_.encoding_is_utf8(); }

 private:
  const policy::Config* current_config();
  uint64_t current_generation();
  // The policy in force now: a reload applies from the next message.
  const policy::Policy* current_policy();
  bool decided_now(const DecidedUnder& d);
  DecidedUnder now();

  Verdict on_query(Request& r);
  Verdict on_parse(Request& r);
  Verdict on_bind(Request& r, const pgwire::Bind& bind);
  Verdict on_execute(Request& r);
  Verdict on_function_call(Request& r, const pgwire::FunctionCall& call);
  // Decides a statement text through the cache; applies its effects to the
  // session state when allowed and tells the tracker what it does to names.
  Verdict decide_text(Request& r, bool need_facts, const policy::Decision** full);
  // A prepared statement or cursor decided again under what is in force now.
  Verdict redecide(Request& r, const sql::StatementFacts& facts, std::string_view sql);
  policy::Decision decide_prepared_again(const std::shared_ptr<const sql::StatementFacts>& facts);
  // An `approve` decision: the statement is held for people (a hold
  // verdict), unless they already approved this request or a standing
  // grant covers it (nothing: it runs as if allowed).
  std::optional<Verdict> hold_unless_approved(Request& r, const policy::Decision& d, std::string_view sql);
  template <typename D>  // policy::Decision or policy::CachedDecision
  Verdict verdict_for(const D& d) const;
  Verdict no_policy() const;
  // Whether what the portal runs may change settings unseen, under a policy
  // for which that matters (policy/settings_confirmation.h).
  bool must_confirm_settings(const Portal& portal);
  // The server's answer to pgwarden's settings probe.
  Outcome on_settings_answer(char type, std::string_view body, const Request& probe);

  Verdict decide(Request& r, const ClientMessage& message);
  // For /metrics and the console's feed.
  void count(const Request& r, const Verdict& v);
  void record_decision(const Request& r, const Verdict& v, policy::Action action);

  engine::EngineState& state_;
  engine::LoopMetrics& metrics_;
  std::shared_ptr<engine::SessionCapture> capture_;
  engine::SessionInfo* info_ = nullptr;  // the session's, lives as long as it
  std::string allowed_event_;  // the allowed decision's event, rebuilt in place
  const uint64_t session_id_;
  // The classes of the text or statement just decided (for count()).
  sql::ClassSet decided_classes_;
  policy::DecisionCache& cache_;
  const ProtocolTracker& tracker_;
  const std::string identity_;
  const std::string upstream_;
  std::shared_ptr<engine::CatalogEntry> catalog_;
  engine::CatalogStore& catalogs_;
  const std::string login_user_;  // the upstream user: the session authorization the policy expects
  bool ran_ddl_ = false;  // forwarded DDL: refresh the catalog when its transaction ends
  std::shared_ptr<const policy::Config> config_;
  uint64_t config_generation_ = 0;
  const policy::Policy* policy_ = nullptr;
  policy::SessionSqlState sql_state_;
  policy::Decision last_decision_;
  std::string failure_;
  std::string failure_sqlstate_;
  // The cache context is rebuilt only when something in it changed (most
  // statements of a session share one).
  const policy::DecisionCache::Context& cache_context(uint64_t catalog_version);
  std::optional<policy::DecisionCache::Context> context_;
  uint64_t context_generation_ = 0;
  uint64_t context_catalog_ = 0;
  std::string context_meaning_;
};

}  // namespace pgw::relay
