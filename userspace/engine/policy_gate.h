// The statement gate backed by the policy engine (userspace/policy): every
// Query, Parse, Bind and FunctionCall of one session is decided against the
// policy of the session's identity on its upstream, with a per-thread
// decision cache in front, and the session's SQL state (search_path, role,
// prepared statements, string and encoding modes) follows what the upstream
// reports.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/catalog_store.h"
#include "engine/mask_models.h"
#include "engine/result_masker.h"
#include "engine/statement_gate.h"
#include "policy/config.h"
#include "policy/decision.h"
#include "policy/decision_cache.h"
#include "policy/session_sql_state.h"

namespace pgw::engine {

class EngineState;

// It is also what the session's ResultMasker asks for the mask rules in
// force and the session state lineage depends on.
class PolicyGate final : public StatementGate, public ResultMasker::Source {
 public:
  PolicyGate(EngineState& state, policy::DecisionCache& cache, MaskModels& mask_models, std::string identity,
             std::string upstream, std::shared_ptr<CatalogEntry> catalog, CatalogStore& catalogs,
             std::string login_user);

  // Whether the policy in force has mask rules (the session then follows
  // its results with a ResultMasker).
  bool masks();

  // ResultMasker::Source
  Result<std::shared_ptr<MaskHandle>> mask_handle() override;
  bool standard_conforming_strings() const override { return sql_state_.may_be_standard_strings(); }
  std::vector<std::string> search_path() const override;

  GateVerdict on_query(std::string_view sql) override;
  GateVerdict on_parse(std::string_view statement, std::string_view sql) override;
  GateVerdict on_bind(std::string_view portal, std::string_view statement) override;
  GateVerdict on_function_call(uint32_t function_oid) override;
  void on_sync() override { sql_state_.on_cycle_sent(); }
  void on_close(char kind, std::string_view name) override;
  void on_upstream(char type, std::string_view body) override;

 private:
  // The policy in force now: a reload applies from the next statement.
  const policy::Policy* current_policy();
  GateVerdict verdict_for(const policy::Decision& d);
  GateVerdict verdict_for(const policy::CachedDecision& d);
  // Decides a statement text through the cache; applies its effects to the
  // session state when allowed.
  GateVerdict decide_text(std::string_view sql, const policy::Decision** full);

  EngineState& state_;
  policy::DecisionCache& cache_;
  MaskModels& mask_models_;
  const std::string identity_;
  const std::string upstream_;
  std::shared_ptr<CatalogEntry> catalog_;
  CatalogStore& catalogs_;
  std::shared_ptr<const policy::Config> config_;
  uint64_t config_generation_ = 0;
  const policy::Policy* policy_ = nullptr;
  policy::SessionSqlState sql_state_;
  policy::Decision last_decision_;  // kept for record_prepared after Parse
  // The meaning key each prepared statement was decided under: a Bind after
  // it changed (SET search_path ...) decides the statement again.
  std::unordered_map<std::string, std::string> prepared_under_;
  // The cache context is rebuilt only when something in it changed (most
  // statements of a session share one).
  const policy::DecisionCache::Context& cache_context(uint64_t catalog_version);
  std::optional<policy::DecisionCache::Context> context_;
  uint64_t context_generation_ = 0;
  uint64_t context_catalog_ = 0;
  std::string context_meaning_;
};

}  // namespace pgw::engine
