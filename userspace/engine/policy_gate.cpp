#include "engine/policy_gate.h"

#include <spdlog/spdlog.h>

#include "engine/engine_state.h"
#include "pgwire/byte_io.h"
#include "pgwire/error_response.h"

namespace pgw::engine {

namespace {

// Without a catalog a view over a denied table looks like any table: when
// relations are involved and no snapshot could be loaded, refuse.
bool needs_catalog(const policy::Decision& d) {
  for (const auto& s : d.statements) {
    if (!s.relations.empty()) return true;
  }
  return false;
}

}  // namespace

PolicyGate::PolicyGate(EngineState& state, policy::DecisionCache& cache, MaskModels& mask_models,
                       std::string identity, std::string upstream, std::shared_ptr<CatalogEntry> catalog,
                       CatalogStore& catalogs, std::string login_user)
    : state_(state),
      cache_(cache),
      mask_models_(mask_models),
      identity_(std::move(identity)),
      upstream_(std::move(upstream)),
      catalog_(std::move(catalog)),
      catalogs_(catalogs),
      sql_state_([&] {
        policy::SessionSqlState::Start start;
        start.login_user = login_user;
        if (auto c = catalog_->current(); c && !c->default_search_path().empty()) {
          start.search_path = c->default_search_path();
        }
        return start;
      }()) {
  current_policy();
}

const policy::Policy* PolicyGate::current_policy() {
  const uint64_t generation = state_.config_generation();
  if (config_ == nullptr || generation != config_generation_) {
    config_ = state_.config();
    config_generation_ = generation;
    policy_ = config_->policy_for(identity_, upstream_);
  }
  return policy_;
}

bool PolicyGate::masks() {
  const policy::Policy* policy = current_policy();
  return policy != nullptr && !policy->mask.empty();
}

Result<std::shared_ptr<MaskHandle>> PolicyGate::mask_handle() {
  const policy::Policy* policy = current_policy();
  if (policy == nullptr) return std::shared_ptr<MaskHandle>();
  return mask_models_.get(*config_, config_generation_, *policy, catalog_->current());
}

std::vector<std::string> PolicyGate::search_path() const {
  auto paths = sql_state_.search_paths();
  if (paths.empty()) return {};
  return std::move(paths.front());
}

GateVerdict PolicyGate::verdict_for(const policy::Decision& d) {
  if (d.action == policy::Action::allow) return GateVerdict::forward();
  return GateVerdict::deny(d.message, d.sqlstate.empty() ? "42501" : d.sqlstate, d.detail, d.position);
}

GateVerdict PolicyGate::verdict_for(const policy::CachedDecision& d) {
  if (d.action == policy::Action::allow) return GateVerdict::forward();
  return GateVerdict::deny(d.message, d.sqlstate.empty() ? "42501" : d.sqlstate, d.detail, d.position);
}

GateVerdict PolicyGate::decide_text(std::string_view sql, const policy::Decision** full) {
  const policy::Policy* policy = current_policy();
  if (policy == nullptr) {
    return GateVerdict::deny("pgwarden: no policy for identity " + identity_ + " on upstream " + upstream_);
  }
  auto catalog = catalog_->current();
  const policy::DecisionCache::Context& context = cache_context(catalog ? catalog->version() : 0);
  if (full == nullptr) {
    if (const policy::CachedDecision* cached = cache_.find(context, sql)) {
      if (cached->action == policy::Action::allow) cached->apply_to(sql_state_);
      return verdict_for(*cached);
    }
  }
  last_decision_ = policy::decide_sql(*policy, sql, sql_state_, catalog.get());
  if (catalog == nullptr && last_decision_.action == policy::Action::allow && needs_catalog(last_decision_)) {
    return GateVerdict::deny("pgwarden: cannot check the relations of this statement: the catalog of upstream " +
                             upstream_ + " is not available (see pgwarden's log)");
  }
  if (last_decision_.cacheable && catalog != nullptr) cache_.insert(context, sql, last_decision_);
  if (last_decision_.action == policy::Action::allow) {
    sql_state_.apply(last_decision_);
    if (last_decision_.changes_catalog) catalogs_.refresh(catalog_);
  }
  if (full != nullptr) *full = &last_decision_;
  return verdict_for(last_decision_);
}

const policy::DecisionCache::Context& PolicyGate::cache_context(uint64_t catalog_version) {
  const std::string& meaning = sql_state_.meaning_key();
  if (!context_ || context_generation_ != config_generation_ || context_catalog_ != catalog_version ||
      context_meaning_ != meaning) {
    context_.emplace(identity_, upstream_, config_generation_, catalog_version, meaning);
    context_generation_ = config_generation_;
    context_catalog_ = catalog_version;
    context_meaning_ = meaning;
  }
  return *context_;
}

GateVerdict PolicyGate::on_query(std::string_view sql) {
  GateVerdict v = decide_text(sql, nullptr);
  // A Query always gets its ReadyForQuery, denied (marker) or not.
  sql_state_.on_cycle_sent();
  // A simple Query destroys the unnamed prepared statement.
  if (!prepared_under_.empty()) {
    static const std::string kUnnamed;
    sql_state_.forget_prepared(kUnnamed);
    prepared_under_.erase(kUnnamed);
  }
  return v;
}

GateVerdict PolicyGate::on_parse(std::string_view statement, std::string_view sql) {
  const policy::Decision* d = nullptr;
  GateVerdict v = decide_text(sql, &d);
  const std::string name(statement);
  if (v.action == GateVerdict::Action::kForward && d != nullptr && d->statements.size() == 1) {
    sql_state_.record_prepared(name, d->statements[0].facts);
    prepared_under_[name] = sql_state_.meaning_key();
  } else if (v.action == GateVerdict::Action::kForward && d != nullptr && d->statements.size() > 1) {
    // The server refuses several statements in one Parse itself.
    sql_state_.forget_prepared(name);
  } else {
    sql_state_.forget_prepared(name);
    prepared_under_.erase(name);
  }
  return v;
}

GateVerdict PolicyGate::on_bind(std::string_view /*portal*/, std::string_view statement) {
  const std::string name(statement);
  const sql::StatementFacts* facts = sql_state_.prepared(name);
  if (facts == nullptr) return GateVerdict::forward();  // the server says it does not exist
  auto it = prepared_under_.find(name);
  if (it != prepared_under_.end() && it->second == sql_state_.meaning_key()) return GateVerdict::forward();
  // The session's meaning changed since Parse (search_path, role, policy):
  // the server re-plans, so pgwarden decides again.
  const policy::Policy* policy = current_policy();
  if (policy == nullptr) {
    return GateVerdict::deny("pgwarden: no policy for identity " + identity_ + " on upstream " + upstream_);
  }
  auto catalog = catalog_->current();
  policy::Decision d = policy::decide_facts(*policy, *facts, sql_state_, catalog.get());
  if (d.action == policy::Action::allow) prepared_under_[name] = sql_state_.meaning_key();
  return verdict_for(d);
}

GateVerdict PolicyGate::on_function_call(uint32_t function_oid) {
  const policy::Policy* policy = current_policy();
  sql_state_.on_cycle_sent();
  if (policy == nullptr) {
    return GateVerdict::deny("pgwarden: no policy for identity " + identity_ + " on upstream " + upstream_);
  }
  auto catalog = catalog_->current();
  return verdict_for(policy::decide_function_call(*policy, function_oid, catalog.get()));
}

void PolicyGate::on_close(char kind, std::string_view name) {
  if (kind != 'S') return;
  sql_state_.forget_prepared(std::string(name));
  prepared_under_.erase(std::string(name));
}

void PolicyGate::on_upstream(char type, std::string_view body) {
  switch (type) {
    case 'E':
      sql_state_.on_server_error();
      break;
    case 'C': {
      pgwire::ByteReader r(body);
      std::string_view tag;
      if (r.read_cstring(tag)) sql_state_.on_command_complete(tag);
      break;
    }
    case 'S': {
      pgwire::ByteReader r(body);
      std::string_view name, value;
      if (r.read_cstring(name) && r.read_cstring(value)) sql_state_.on_parameter_status(name, value);
      break;
    }
    case 'Z':
      if (!body.empty()) sql_state_.on_ready_for_query(body[0]);
      break;
    default:
      break;
  }
}

}  // namespace pgw::engine
