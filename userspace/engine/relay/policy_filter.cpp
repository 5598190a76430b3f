#include "engine/relay/policy_filter.h"

#include <spdlog/spdlog.h>

#include "engine/engine_state.h"
#include "engine/relay/decision_event.h"
#include "engine/relay/settings_probe.h"
#include "pgwire/byte_io.h"
#include "pgwire/error_response.h"
#include "pgwire/message_types.h"
#include "pgwire/shown_value.h"
#include "policy/settings_confirmation.h"
#include "sql/statement_shape.h"

namespace pgw::relay {

namespace {

using Kind = Request::Kind;
using pgwire::BackendMsg;

// Without a catalog a view over a denied table looks like any table: when
// relations are involved and no snapshot could be loaded, refuse.
bool needs_catalog(const policy::Decision& d) {
  for (const auto& s : d.statements) {
    if (!s.relations.empty()) return true;
  }
  return false;
}

// The facts the tracker follows names by (the statements that define, drop
// or read a name, or change settings), as a cached decision keeps them.
std::shared_ptr<const std::vector<sql::StatementFacts>> effects_of(const policy::Decision& d) {
  if (!d.changes_session) return nullptr;
  auto effects = std::make_shared<std::vector<sql::StatementFacts>>();
  effects->reserve(d.statements.size());
  for (const auto& st : d.statements) effects->push_back(st.facts);
  return effects;
}

}  // namespace

PolicyFilter::PolicyFilter(engine::EngineState& state, engine::LoopMetrics& metrics, policy::DecisionCache& cache,
                           const ProtocolTracker& tracker, uint64_t session_id, std::string identity, std::string upstream, std::shared_ptr<engine::CatalogEntry> catalog,
                           engine::CatalogStore& catalogs, std::string login_user,
                           const policy::StartupSettings& startup_settings)
    : state_(state),
      metrics_(metrics),
      session_id_(session_id),
      cache_(cache),
      tracker_(tracker),
      identity_(std::move(identity)),
      upstream_(std::move(upstream)),
      catalog_(std::move(catalog)),
      catalogs_(catalogs),
      login_user_(login_user),
      sql_state_(
          [&] {
            policy::SessionSqlState::Start start;
            start.login_user = login_user;
            if (auto c = catalog_->current(); c && !c->default_search_path().empty()) {
              start.search_path = c->default_search_path();
            }
            policy::apply_startup_settings(start, startup_settings);
            return start;
          }(),
          tracker) {
  current_policy();
}

const policy::Config* PolicyFilter::current_config() {
  current_policy();
  return config_.get();
}

uint64_t PolicyFilter::current_generation() {
  current_policy();
  return config_generation_;
}

const policy::Policy* PolicyFilter::current_policy() {
  const uint64_t generation = state_.config_generation();
  if (config_ == nullptr || generation != config_generation_) {
    const bool reloaded = config_ != nullptr;
    config_ = state_.config();
    config_generation_ = generation;
    policy_ = config_->policy_for(identity_, upstream_);
    // The recording's header names the policy the session started under;
    // from here on the next statements are decided under this one.
    if (reloaded && capture_) {
      capture_->event({{"event", "policy_reloaded"},
                       {"config_generation", generation},
                       {"policy_hash", config_->sha256}});
    }
  }
  return policy_;
}

DecidedUnder PolicyFilter::now() {
  return {current_generation(), catalog_->version(), sql_state_.meaning_key()};
}

bool PolicyFilter::decided_now(const DecidedUnder& d) {
  return d.config_generation == current_generation() && d.catalog_version == catalog_->version() &&
         d.meaning_key == sql_state_.meaning_key();
}

// Decision and CachedDecision carry the same fields for the client.
template <typename D>
Verdict PolicyFilter::verdict_for(const D& d) const {
  if (d.action == policy::Action::allow) return Verdict::forward();
  Verdict v = Verdict::deny(d.message, d.sqlstate.empty() ? "42501" : d.sqlstate, d.detail, d.position);
  if (d.syntax_error) {
    v.server_checks_syntax = true;
    auto denial = policy::unparseable_denial(identity_, d.message);
    v.if_server_reads_message = std::move(denial.message);
    v.if_server_reads_detail = "PostgreSQL reads it; " + denial.detail;
  }
  return v;
}

Verdict PolicyFilter::no_policy() const {
  return Verdict::deny("pgwarden: no policy for identity " + identity_ + " on upstream " + upstream_);
}

const policy::DecisionCache::Context& PolicyFilter::cache_context(uint64_t catalog_version) {
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

Verdict PolicyFilter::decide_text(Request& r, bool need_facts, const policy::Decision** full) {
  const policy::Policy* policy = current_policy();
  if (policy == nullptr) return no_policy();
  SqlText& text = *r.text;
  text.standard_conforming_strings = sql_state_.may_be_standard_strings();
  auto catalog = catalog_->current();
  const policy::DecisionCache::Context& context = cache_context(catalog ? catalog->version() : 0);
  if (!need_facts) {
    const policy::CachedDecision* cached = cache_.find(context, text.sql);
    // A statement that needs approval is decided in full below: the
    // request people see names its classes and rule.
    if (cached != nullptr) decided_classes_ = cached->classes;
    if (cached != nullptr && cached->action == policy::Action::deny) return verdict_for(*cached);
    if (cached != nullptr && cached->action == policy::Action::allow) {
      cached->apply_to(sql_state_, cached->confirm_settings);
      text.effects = cached->effects;
      text.effects_unknown = cached->forwarded_unparsed;
      if (text.effects) r.decided = now();
      Verdict v;
      v.confirm_settings = cached->confirm_settings;
      return v;
    }
  }
  last_decision_ = policy::decide_sql(*policy, text.parsed(policy::parse_options_for(sql_state_)), sql_state_,
                                      catalog.get());
  for (const auto& st : last_decision_.statements) decided_classes_.add(st.facts.classes);
  if (catalog == nullptr && last_decision_.action != policy::Action::deny && needs_catalog(last_decision_)) {
    return Verdict::deny("pgwarden: cannot check the relations of this statement: the catalog of upstream " +
                         upstream_ + " is not available (see pgwarden's log)");
  }
  if (last_decision_.cacheable && catalog != nullptr) cache_.insert(context, text.sql, last_decision_);
  if (full != nullptr) *full = &last_decision_;
  if (last_decision_.action == policy::Action::deny) return verdict_for(last_decision_);
  // A Query that needs approval waits here; a Parse does not (nothing runs
  // at Parse): its Bind waits, when the parameters people approve are known.
  if (last_decision_.action == policy::Action::approve && r.kind != Kind::parse) {
    if (auto held = hold_unless_approved(r, last_decision_, text.sql)) return std::move(*held);
  }
  r.decided = now();
  // When the engine will ask the server right after the statement runs, a
  // computed set_config name leaves no unknowns: a Query's question comes
  // before anything else is decided. A Parse runs nothing: its settings
  // count at each Execute (on_execute), which is asked about too.
  if (r.kind != Kind::parse) sql_state_.apply(last_decision_, last_decision_.confirm_settings);
  text.effects = effects_of(last_decision_);
  text.effects_unknown = last_decision_.forwarded_unparsed;
  if (last_decision_.changes_catalog) ran_ddl_ = true;
  Verdict v;
  v.confirm_settings = last_decision_.confirm_settings;
  return v;
}

Verdict PolicyFilter::redecide(Request& r, const sql::StatementFacts& facts, std::string_view sql) {
  const policy::Policy* policy = current_policy();
  if (policy == nullptr) return no_policy();
  auto catalog = catalog_->current();
  const policy::Decision d = policy::decide_facts(*policy, facts, sql_state_, catalog.get());
  if (d.action == policy::Action::approve) {
    if (auto held = hold_unless_approved(r, d, sql)) return std::move(*held);
    return Verdict::forward();
  }
  return verdict_for(d);
}

policy::Decision PolicyFilter::decide_prepared_again(const std::shared_ptr<const sql::StatementFacts>& facts) {
  const policy::Policy* policy = current_policy();
  policy::Decision d;
  if (policy == nullptr || !facts) {
    // Cannot be decided again: it needs approval as it did at Parse.
    d.action = policy::Action::approve;
    d.rule = "approve";
    d.message = "pgwarden: a prepared statement that needs approval, for " + identity_;
    return d;
  }
  auto catalog = catalog_->current();
  return policy::decide_facts(*policy, *facts, sql_state_, catalog.get());
}

std::optional<Verdict> PolicyFilter::hold_unless_approved(Request& r, const policy::Decision& d,
                                                          std::string_view sql) {
  if (r.approved) return std::nullopt;  // people said yes: it runs, once
  approval::Ask ask;
  ask.sql = std::string(sql);
  ask.rule = d.rule;
  ask.message = d.message;
  sql::ClassSet classes;
  for (const auto& st : d.statements) classes.add(st.facts.classes);
  for (auto c : classes.list()) ask.classes.emplace_back(sql::to_string(c));
  ask.shape = sql::statement_shape(sql);
  if (auto* queue = state_.approvals()) {
    if (auto approver = queue->standing_grant(identity_, ask.shape)) {
      spdlog::info("approval: a standing grant by {} lets {} run a statement of shape {} ({})", *approver, identity_,
                   ask.shape, d.rule);
      return std::nullopt;
    }
  } else {
    return Verdict::deny(d.message, "42501", "pgwarden's approval queue is not running.");
  }
  return Verdict::hold(std::move(ask));
}

Verdict PolicyFilter::on_request(Request& r, const ClientMessage& message) {
  switch (r.kind) {
    case Kind::query:
    case Kind::parse:
    case Kind::bind:
    case Kind::execute:
    case Kind::function_call: break;
    default: return Verdict::forward();
  }
  const auto started = std::chrono::steady_clock::now();
  decided_classes_ = {};
  Verdict v = decide(r, message);
  metrics_.decision_latency.record(std::chrono::steady_clock::now() - started);
  if (r.kind != Kind::execute) count(r, v);
  return v;
}

void PolicyFilter::count(const Request& r, const Verdict& v) {
  const policy::Action action =
      v.denied() ? policy::Action::deny : v.held() ? policy::Action::approve : policy::Action::allow;
  metrics_.count(action, decided_classes_);
  // A statement counts once, at the message that runs it (Query, Bind,
  // FunctionCall); a Parse only when it is refused or held, since then no
  // Bind follows. Relaxed single-writer counters: no allocation, no lock.
  if (info_ != nullptr && (r.kind != Kind::parse || action != policy::Action::allow)) {
    engine::SessionInfo::bump(action == policy::Action::allow  ? info_->statements_allowed
                              : action == policy::Action::deny ? info_->statements_denied
                                                               : info_->statements_held);
  }
  if (capture_) record_decision(r, v, action);
  if (action == policy::Action::allow) return;
  engine::FedDecision d;
  d.time = std::chrono::system_clock::now();
  d.session = session_id_;
  d.identity = identity_;
  d.action = v.held() ? "approve" : "deny";
  d.classes = decided_classes_.to_string();
  d.rule = v.held() ? v.ask.rule : v.detail;
  d.message = v.held() ? v.ask.message : v.message;
  if (r.text) d.sql = r.text->sql;
  else if (v.held()) d.sql = v.ask.sql;
  state_.decisions().add(std::move(d));
}

// Every decision, in the recording (decision_event.h: cheap when allowed).
void PolicyFilter::record_decision(const Request& r, const Verdict& v, policy::Action action) {
  if (action == policy::Action::allow) {
    allowed_decision_event(allowed_event_, decided_classes_, to_string(r.kind));
    capture_->event_json(allowed_event_);
    return;
  }
  capture_->event(refused_decision_event(policy::to_string(action), decided_classes_, to_string(r.kind),
                                         v.held() ? v.ask.rule : v.detail, v.held() ? v.ask.message : v.message));
}

Verdict PolicyFilter::decide(Request& r, const ClientMessage& message) {
  switch (r.kind) {
    case Kind::query: return on_query(r);
    case Kind::parse: return on_parse(r);
    case Kind::bind: return on_bind(r, std::get<pgwire::Bind>(message));
    case Kind::execute: return on_execute(r);
    case Kind::function_call: return on_function_call(r, std::get<pgwire::FunctionCall>(message));
    default: return Verdict::forward();
  }
}

Verdict PolicyFilter::on_query(Request& r) { return decide_text(r, false, nullptr); }

Verdict PolicyFilter::on_parse(Request& r) {
  // A prepared statement keeps the facts it was decided on: a Bind under
  // another policy decides them again.
  const policy::Decision* d = nullptr;
  Verdict v = decide_text(r, true, &d);
  v.confirm_settings = false;  // nothing runs yet: asked at Execute
  if (!v.stops() && d != nullptr && r.defines) {
    if (d->statements.size() == 1) {
      r.defines->policy.facts = std::make_shared<const sql::StatementFacts>(d->statements[0].facts);
    }
    // Each Bind of it needs people's approval (or a standing grant).
    if (d->action == policy::Action::approve) r.defines->policy.needs_approval = true;
    r.decided = now();
  }
  return v;
}

Verdict PolicyFilter::on_bind(Request& r, const pgwire::Bind& bind) {
  const auto candidates = tracker_.statement_candidates(r.statement_name);
  if (candidates.empty()) {
    // Not prepared as far as pgwarden saw: the server has no such statement
    // (and would refuse the Bind), or it was made where pgwarden could not
    // decide it. Either way it does not run.
    return Verdict::deny("pgwarden: bind of prepared statement \"" + r.statement_name + "\" denied by policy for " +
                             identity_,
                         "42501", "pgwarden did not see \"" + r.statement_name + "\" prepared in this session.");
  }
  // Approval goes with the statement the Bind runs, if it runs at all.
  // A Parse of the name earlier in this batch (no Sync between) is what it
  // binds: when that Parse fails, the server skips this Bind too. A Parse
  // in an earlier batch may have been skipped (an error before it in its
  // batch): then the Bind binds whatever the name held before, and every
  // candidate may be what runs.
  if (!r.approved) {
    const auto& latest = candidates.back();
    const bool same_batch = latest != tracker_.held_statement(r.statement_name) &&
                            latest->parsed_in_cycle == tracker_.cycles_sent();
    std::optional<policy::Decision> asked;
    std::shared_ptr<PreparedStatement> shown;
    std::string sql;
    for (const auto& s : candidates) {
      if (same_batch && s != latest) continue;
      // SQL PREPARE's statements are decided again too: PREPARE p AS
      // UPDATE ... needs approval for each execution, as EXECUTE p does.
      if (!s->policy.needs_approval && !s->from_sql_prepare) continue;
      const policy::Decision d = decide_prepared_again(s->policy.facts);
      if (d.action == policy::Action::deny) return verdict_for(d);
      if (d.action != policy::Action::approve) continue;
      const std::string text = s->source.text ? s->source.text->sql : std::string();
      if (!asked) {
        asked = d;
        shown = s;
        sql = text;
      } else if (sql != text) {
        // People approve every statement the Bind may run.
        sql += "\n-- or, if the server skipped a Parse of this name in an earlier batch:\n" + text;
      }
    }
    if (asked) {
      if (auto held = hold_unless_approved(r, *asked, sql)) {
        held->ask.parameters = pgwire::shown_values(bind.parameter_formats, bind.parameters, shown->parameter_types);
        return std::move(*held);
      }
    }
  }
  for (const auto& s : candidates) {
    if (s->policy.facts) decided_classes_.add(s->policy.facts->classes);
    if (decided_now(s->policy.decided)) continue;
    // Decided under another policy, catalog or session meaning (a reload,
    // SET search_path ...): the server re-plans, pgwarden decides again.
    if (!s->policy.facts) {
      return Verdict::deny("pgwarden: prepared statement \"" + r.statement_name + "\" denied by policy for " +
                           identity_, "42501", "Its statement cannot be decided again.");
    }
    Verdict v = redecide(r, *s->policy.facts, s->source.text ? s->source.text->sql : std::string());
    if (v.stops()) return v;
    s->policy.decided = now();
  }
  r.decided = now();
  return Verdict::forward();
}

Verdict PolicyFilter::on_execute(Request& r) {
  bool confirm = false;
  const auto portals = tracker_.portal_candidates(r.name);
  for (const auto& p : portals) {
    confirm = confirm || must_confirm_settings(*p);
    if (decided_now(p->policy.decided)) continue;
    // A portal bound or a cursor declared under another policy: what it
    // runs is decided again before it runs.
    for (const auto& facts : tracker_.cursor(r.name)) {
      const TextRef source = p->source();
      Verdict v = redecide(r, *facts, source.text ? source.text->sql : std::string());
      if (v.stops()) return v;
    }
    p->policy.decided = now();
  }
  // What the portal runs changes the settings now, each time it runs (a
  // Parse alone changed nothing): a protocol statement's own settings, or
  // those of the query a SQL PREPARE or DECLARE holds, which run now.
  for (const auto& p : portals) {
    switch (p->origin) {
      case Portal::Origin::bind:
        if (p->statement) {
          if (p->statement->policy.facts) sql_state_.apply_run(*p->statement->policy.facts, confirm);
          continue;
        }
        for (const auto& s : tracker_.statement_candidates(p->statement_name))
          if (s->policy.facts) sql_state_.apply_run(*s->policy.facts, confirm);
        continue;
      case Portal::Origin::declare:
        for (const auto& facts : tracker_.cursor(r.name))
          if (facts) sql_state_.apply_run(*facts, confirm);
        continue;
      case Portal::Origin::unknown:
        // Opened by a function: its query is not known (asked about above).
        sql_state_.apply_unknown_run(confirm);
        continue;
    }
  }
  Verdict v;
  v.confirm_settings = confirm;
  return v;
}

bool PolicyFilter::must_confirm_settings(const Portal& p) {
  auto unseen = [this](const std::shared_ptr<const sql::StatementFacts>& f) {
    // Cheap for the common case: no function call, no computed set_config.
    if (f && f->functions.empty() && !f->has_flag(sql::kUnknownSetting)) return false;
    const policy::Policy* policy = current_policy();
    if (policy == nullptr || !policy::policy_needs_settings_confirmation(*policy)) return false;
    auto catalog = catalog_->current();
    // A set_config() in the query a PREPARE or DECLARE holds is never a
    // top-level SELECT of its own, so it counts as one that may not run:
    // may_set_reported_setting asks about it.
    return !f || policy::may_change_settings_unseen(*f, catalog.get()) || policy::may_set_reported_setting(*f);
  };
  if (p.origin == Portal::Origin::declare) {
    for (const auto& facts : tracker_.cursor(p.name))
      if (unseen(facts)) return true;
    return false;
  }
  if (p.origin == Portal::Origin::unknown) {
    // A function's cursor runs a query pgwarden never saw.
    const policy::Policy* policy = current_policy();
    return policy != nullptr && policy::policy_needs_settings_confirmation(*policy);
  }
  if (p.statement) return unseen(p.statement->policy.facts);
  for (const auto& s : tracker_.statement_candidates(p.statement_name))
    if (unseen(s->policy.facts)) return true;
  return false;
}

Verdict PolicyFilter::on_function_call(Request& r, const pgwire::FunctionCall& call) {
  const policy::Policy* policy = current_policy();
  if (policy == nullptr) return no_policy();
  auto catalog = catalog_->current();
  const policy::Decision d = policy::decide_function_call(*policy, call.function, catalog.get());
  Verdict v;
  if (d.action == policy::Action::approve) {
    if (auto held = hold_unless_approved(r, d, "-- FunctionCall of function oid " + std::to_string(call.function))) {
      // People see the arguments they approve, as a Bind's parameters.
      held->ask.parameters = pgwire::shown_values(call.argument_formats, call.arguments, {});
      return std::move(*held);
    }
  } else {
    v = verdict_for(d);
  }
  if (!v.denied() && policy::policy_needs_settings_confirmation(*policy)) {
    v.confirm_settings =
        policy::function_may_change_settings_unseen(catalog ? catalog->function(call.function) : nullptr);
  }
  return v;
}

bool PolicyFilter::wants(char type, const Answer& a) const {
  if (a.request && a.request->settings_probe &&
      (type == pgwire::type_byte(BackendMsg::DataRow) || type == pgwire::type_byte(BackendMsg::ErrorResponse))) {
    return true;
  }
  return type == pgwire::type_byte(BackendMsg::ParameterStatus) || type == pgwire::type_byte(BackendMsg::ReadyForQuery);
}

RelayFilter::Outcome PolicyFilter::on_settings_answer(char type, std::string_view body, const Request& probe) {
  const policy::Policy* policy = current_policy();
  if (type == pgwire::type_byte(BackendMsg::ErrorResponse)) {
    auto err = pgwire::ErrorResponse::decode(body);
    // In a failed transaction block: the statement's transaction was
    // aborted, and its setting changes with it.
    if (err && err->sqlstate() == "25P02") return Outcome::forward;
    failure_ = "pgwarden: the session was ended: pgwarden could not confirm the session's settings after a statement "
               "that may have changed them (" +
               (err ? std::string(err->sqlstate()) + ": " + std::string(err->message()) : std::string("no error text")) +
               ")";
    failure_sqlstate_ = "42501";
    return Outcome::fail;
  }
  auto settings = read_settings_row(body);
  if (!settings) {
    failure_ = "the answer to pgwarden's settings probe: " + settings.error();
    return Outcome::fail;
  }
  if (policy != nullptr) {
    if (auto change = policy::forbidden_change(*policy, *settings, login_user_)) {
      failure_ = "pgwarden: the session was ended: a statement changed the session's settings where its text does "
                 "not show (" + *change + "), and the policy for " + identity_ + " does not allow role";
      failure_sqlstate_ = "42501";
      return Outcome::fail;
    }
  }
  // After a simple Query outside a transaction block its transaction has
  // ended: what the server says holds.
  const bool certain = probe.kind == Kind::query && tracker_.transaction_status() == 'I';
  sql_state_.confirm(*settings, probe.settings_cycle, certain);
  return Outcome::forward;
}

RelayFilter::Outcome PolicyFilter::on_answer(char type, std::string_view whole, const Answer& a, std::string&) {
  const std::string_view body = whole.substr(pgwire::kHeaderSize);
  if (a.request && a.request->settings_probe &&
      (type == pgwire::type_byte(BackendMsg::DataRow) || type == pgwire::type_byte(BackendMsg::ErrorResponse))) {
    return on_settings_answer(type, body, *a.request);
  }
  if (type == pgwire::type_byte(BackendMsg::ParameterStatus)) {
    pgwire::ByteReader r(body);
    std::string_view name, value;
    if (r.read_cstring(name) && r.read_cstring(value)) sql_state_.on_parameter_status(name, value);
  } else if (type == pgwire::type_byte(BackendMsg::ReadyForQuery)) {
    // Before the tracker counts it: the cycle answered is still the current one.
    if (!body.empty()) sql_state_.on_ready_for_query(body[0]);
    // DDL is seen by pgwarden's catalog connection once its transaction has
    // ended (committed or not: one load too many is harmless).
    if (ran_ddl_ && !body.empty() && body[0] == 'I') {
      ran_ddl_ = false;
      catalogs_.refresh(catalog_);
    }
  }
  return Outcome::forward;
}

}  // namespace pgw::relay
