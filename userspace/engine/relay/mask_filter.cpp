#include "engine/relay/mask_filter.h"

#include <spdlog/spdlog.h>

#include "common/instance_name.h"
#include "engine/result_plan.h"
#include "engine/side_channels.h"
#include "mask/data_row_rewriter.h"
#include "pgwire/copy_messages.h"
#include "pgwire/frame.h"
#include "pgwire/message_types.h"
#include "pgwire/row_description.h"

namespace pgw::relay {

namespace {

using Kind = Request::Kind;
using pgwire::BackendMsg;
using Source = sql::RowSource;

// EXECUTE of a prepared DECLARE ... FETCH: a few hops at most; a loop would
// be a bug, so it is cut (and the rows masked as unknown).
constexpr int kMaxHops = 4;

// Appends a message header whose length is patched by finish_message().
size_t start_message(std::string& out, char type) {
  const size_t start = out.size();
  out.push_back(type);
  out.append(4, '\0');
  return start;
}

void finish_message(std::string& out, size_t start) {
  const auto length = static_cast<uint32_t>(out.size() - start - 1);
  char* p = out.data() + start + 1;
  p[0] = static_cast<char>(length >> 24);
  p[1] = static_cast<char>(length >> 16);
  p[2] = static_cast<char>(length >> 8);
  p[3] = static_cast<char>(length);
}

bool is(char type, BackendMsg m) { return type == pgwire::type_byte(m); }

}  // namespace

MaskFilter::MaskFilter(PolicySide& policy, engine::MaskModels& models, const ProtocolTracker& tracker,
                       std::string identity, uint64_t session_id, engine::LoopMetrics* metrics)
    : policy_(policy),
      models_(models),
      tracker_(tracker),
      identity_(std::move(identity)),
      session_id_(session_id),
      metrics_(metrics) {}

Result<MaskFilter::Handle> MaskFilter::handle_now() {
  const policy::Policy* policy = policy_.policy();
  if (policy == nullptr) return Handle();
  return models_.get(policy_.config(), policy_.config_generation(), *policy, policy_.catalog());
}

// ---- client side --------------------------------------------------------------

Verdict MaskFilter::untraceable() const {
  return Verdict::deny("pgwarden: a statement pgwarden cannot trace for masking denied by policy for " + identity_,
                       "42501", "It is too deeply nested or does not parse; simplify it.");
}

Verdict MaskFilter::check_lineages(const engine::LineageList& list, const Handle& handle, int hops) {
  if (auto denial = policy::masking_denial(list, handle->model(), identity_, "UTF8")) {
    return Verdict::deny(std::move(denial->message), "42501", std::move(denial->detail));
  }
  for (const auto& st : list) {
    if (st.source != Source::execute && st.source != Source::fetch) continue;
    if (hops >= kMaxHops) return untraceable();
    // What the name may run when this statement runs: every candidate.
    std::vector<TextRef> targets;
    if (st.source == Source::execute) {
      for (const auto& s : tracker_.statement_candidates(st.name)) targets.push_back(s->source);
    } else {
      for (const auto& p : tracker_.portal_candidates(st.name)) targets.push_back(p->source());
    }
    for (const TextRef& t : targets) {
      if (!t.text) continue;
      auto traced = handle->lineage(t.text->sql, t.text->standard_conforming_strings);
      if (!traced || t.index >= traced->size()) return untraceable();
      const engine::LineageList one{(*traced)[t.index]};
      if (Verdict v = check_lineages(one, handle, hops + 1); v.denied()) return v;
    }
  }
  return Verdict::forward();
}

namespace {

// Returns no rows and reads nothing masked (SET client_encoding back,
// transaction control).
bool quiet(const sql::StatementLineage& st) { return st.source == Source::none && !st.touches_masked; }

bool lineage_reads_masked(const sql::StatementLineage& st) {
  if (st.touches_masked || st.source == sql::RowSource::execute || st.source == sql::RowSource::fetch) return true;
  for (const auto& o : st.outputs) {
    if (o.taint != sql::Taint::clean) return true;
  }
  return false;
}

bool masks_a_column(const policy::MaskModel& model, policy::Oid relation) {
  for (const auto& c : model.copy_columns(relation))
    if (c.function != nullptr || c.taint != sql::Taint::clean) return true;
  return false;
}

// The relation `COPY name TO STDOUT` reads, looked up on every search path
// that may be in effect (an open transaction's SET, a set_config() that may
// not have run): null when no path finds it in the snapshot (a table
// pgwarden does not know of has no column rule; the detectors still run).
// When the paths may mean different tables that masking tells apart, or a
// table pgwarden cannot find has the name of a masked one, which columns to
// mask is a guess, and a guess must not decide: an error.
Result<const policy::CatalogRelation*> copy_table_relation(const sql::StatementLineage& st,
                                                           const engine::MaskHandle& handle,
                                                           const std::vector<std::vector<std::string>>& paths) {
  const policy::MaskModel& model = handle.model();
  const std::string name = st.copy_schema.empty() ? st.copy_table : st.copy_schema + "." + st.copy_table;
  std::vector<const policy::CatalogRelation*> found;
  bool some_path_unknown = false;
  for (const auto& path : paths) {
    for (const auto& c : policy::resolve(handle.catalog(), st.copy_schema, st.copy_table, path)) {
      if (c.any_schema()) some_path_unknown = true;
      if (!c.exists()) continue;
      if (std::find(found.begin(), found.end(), c.relation) == found.end()) found.push_back(c.relation);
      break;
    }
  }
  const bool name_is_masked = model.oracle().relation_is_masked(st.copy_schema, st.copy_table);
  if ((found.empty() || some_path_unknown) && name_is_masked) {
    return Error{"pgwarden: COPY of " + name + " refused: masking covers a table of that name, and pgwarden " +
                 (found.empty() ? std::string("finds none on the session's search_path in its catalog snapshot")
                                : std::string("cannot know the session's search_path")) +
                 "; qualify the table name (schema.table)"};
  }
  if (found.size() > 1) {
    for (const auto* relation : found) {
      if (!masks_a_column(model, relation->oid)) continue;
      return Error{"pgwarden: COPY of " + name + " refused: the session's search_path may be one where it is " +
                   found[0]->qualified() + " or one where it is " + found[1]->qualified() +
                   ", which are masked differently; qualify the table name (schema.table)"};
    }
  }
  return found.empty() ? nullptr : found.front();
}

}  // namespace

Verdict MaskFilter::check_text(const SqlText& text, const Handle& handle, Request& r) {
  auto list = handle->lineage(text.sql, text.standard_conforming_strings, text.parse ? &*text.parse : nullptr);
  if (!list) return untraceable();
  for (const auto& st : *list) r.reads_masked = r.reads_masked || lineage_reads_masked(st);
  if (!policy_.client_encoding_is_utf8()) {
    // Values are found and masked as UTF-8; in SJIS or BIG5 a byte that
    // looks like a quote or a digit can be half a character. Quiet
    // statements still run.
    for (const auto& st : *list) {
      if (!quiet(st)) return wrong_encoding();
    }
  }
  return check_lineages(*list, handle, 0);
}

Verdict MaskFilter::wrong_encoding() const {
  return Verdict::deny("pgwarden: statements while client_encoding is not UTF8 denied by policy for " + identity_,
                       "42501", "Masking is in force: SET client_encoding TO 'UTF8' first.");
}

// Runs whatever the client encoding (quiet).
bool MaskFilter::source_is_quiet(const TextRef& ref) const {
  if (!ref.text) return false;
  auto list = current_->lineage(ref.text->sql, ref.text->standard_conforming_strings);
  return list && ref.index < list->size() && quiet((*list)[ref.index]);
}

// A portal bound in the batch being sent has no statement yet: every
// statement its name may stand for must be quiet.
bool MaskFilter::portal_is_quiet(const Portal& p) const {
  if (p.origin != Portal::Origin::bind || p.statement) return source_is_quiet(p.source());
  const auto statements = tracker_.statement_candidates(p.statement_name);
  if (statements.empty()) return false;
  for (const auto& s : statements)
    if (!source_is_quiet(s->source)) return false;
  return true;
}

// A prepared statement checked under other rules (a reload added some) is
// checked again before it runs.
bool MaskFilter::source_reads_masked(const TextRef& ref) const {
  if (!ref.text) return true;
  auto list = current_->lineage(ref.text->sql, ref.text->standard_conforming_strings);
  if (!list || ref.index >= list->size()) return true;
  return lineage_reads_masked((*list)[ref.index]);
}

Verdict MaskFilter::check_statement(PreparedStatement& s, const Handle& handle) {
  if (s.mask.checked_with.lock() == handle) return Verdict::forward();
  if (!s.source.text) return untraceable();
  auto list = handle->lineage(s.source.text->sql, s.source.text->standard_conforming_strings);
  if (!list || s.source.index >= list->size()) return untraceable();
  const engine::LineageList one{(*list)[s.source.index]};
  if (Verdict v = check_lineages(one, handle, 0); v.denied()) return v;
  s.mask.checked_with = handle;
  return Verdict::forward();
}

Verdict MaskFilter::check_portal(const Portal& p, const Handle& handle) {
  const TextRef src = p.source();
  if (!src.text) return Verdict::forward();  // made where pgwarden could not see: its rows are masked as unknown
  auto list = handle->lineage(src.text->sql, src.text->standard_conforming_strings);
  if (!list || src.index >= list->size()) return untraceable();
  const engine::LineageList one{(*list)[src.index]};
  return check_lineages(one, handle, 0);
}

Verdict MaskFilter::on_function_call(const pgwire::FunctionCall& call, const Handle& handle) {
  // The fast-path result is one value with no RowDescription to plan by:
  // only functions known to be clean may be called this way.
  const policy::Catalog* catalog = handle->catalog();
  const policy::CatalogFunction* fn = catalog ? catalog->function(call.function) : nullptr;
  const sql::Taint taint =
      fn ? handle->model().oracle().function_taint(fn->schema, fn->name) : sql::Taint::untraceable;
  if (taint == sql::Taint::clean) return Verdict::forward();
  return Verdict::deny("pgwarden: fast-path call of " +
                           (fn ? fn->schema + "." + fn->name : "function " + std::to_string(call.function)) +
                           " denied by policy for " + identity_,
                       "42501", "Its result could carry masked values.");
}

Verdict MaskFilter::on_request(Request& r, const ClientMessage& message) {
  auto handle = handle_now();
  if (!handle) return Verdict::deny(handle.error(), "XX000");
  current_ = *handle;
  r.mask_handle = current_;
  if (!current_) return Verdict::forward();
  switch (r.kind) {
    case Kind::query:
      return check_text(*r.text, current_, r);
    case Kind::parse: {
      Verdict v = check_text(*r.text, current_, r);
      if (!v.denied() && r.defines) r.defines->mask.checked_with = current_;
      return v;
    }
    case Kind::bind: {
      // Values are found and masked as UTF-8 (check_text).
      const bool utf8 = policy_.client_encoding_is_utf8();
      const auto candidates = tracker_.statement_candidates(r.statement_name);
      if (!utf8 && candidates.empty()) return wrong_encoding();
      for (const auto& s : candidates) {
        if (!utf8 && !source_is_quiet(s->source)) return wrong_encoding();
        if (Verdict v = check_statement(*s, current_); v.denied()) return v;
        r.reads_masked = r.reads_masked || source_reads_masked(s->source);
      }
      return Verdict::forward();
    }
    case Kind::execute: {
      const bool utf8 = policy_.client_encoding_is_utf8();
      const auto candidates = tracker_.portal_candidates(r.name);
      if (!utf8 && candidates.empty()) return wrong_encoding();
      for (const auto& p : candidates) {
        if (!utf8 && !portal_is_quiet(*p)) return wrong_encoding();
        r.reads_masked = r.reads_masked || p->origin == Portal::Origin::unknown || source_reads_masked(p->source());
        if (p->origin == Portal::Origin::bind) {
          if (p->statement) {
            if (Verdict v = check_statement(const_cast<PreparedStatement&>(*p->statement), current_); v.denied())
              return v;
          }
        } else if (Verdict v = check_portal(*p, current_); v.denied()) {
          return v;
        }
      }
      // Rows come without a RowDescription: pgwarden must have seen the
      // shape, under these rules, before the first one.
      Verdict v = Verdict::forward();
      v.describe_first = !row_shape_known(r.name);
      return v;
    }
    case Kind::function_call:
      return on_function_call(std::get<pgwire::FunctionCall>(message), current_);
    default:
      return Verdict::forward();
  }
}

// Whether the portal an Execute of `name` will run has had, or will have
// had, its row shape described under the rules in force before its rows
// come, whichever of the candidates it is: one the server holds, when it
// was planned under these rules; one bound in this pipeline, when a
// Describe followed its Bind in the same cycle (the relay's own Describe
// counts); anything else (a cursor being declared, a name pgwarden never saw
// made) is not. A Bind that may fail leaves the portal held before in place.
bool MaskFilter::row_shape_known(const std::string& name) const {
  const auto held = tracker_.held_portal(name);
  const auto candidates = tracker_.portal_candidates(name);
  if (candidates.empty()) return false;
  for (const auto& p : candidates) {
    if (p == held) {
      if (!p->mask.planned || p->mask.planned_with.lock() != current_) return false;
    } else if (p->origin != Portal::Origin::bind || !p->described_with_bind) {
      return false;
    }
  }
  return true;
}

// ---- server side --------------------------------------------------------------

MaskFilter::Traced MaskFilter::resolve(TextRef ref, const Handle& handle) const {
  for (int hop = 0; hop < kMaxHops && ref.text; ++hop) {
    Traced t;
    t.list = handle->lineage(ref.text->sql, ref.text->standard_conforming_strings);
    if (!t.list || ref.index >= t.list->size()) return {};
    t.statement = &(*t.list)[ref.index];
    if (t.statement->source != Source::execute && t.statement->source != Source::fetch) return t;
    // Rows of what the name holds now: the server's answers so far say it.
    if (tracker_.names_uncertain()) return {};
    if (t.statement->source == Source::execute) {
      auto s = tracker_.held_statement(t.statement->name);
      if (!s) return {};
      ref = s->source;
    } else {
      auto p = tracker_.held_portal(t.statement->name);
      if (!p || p->uncertain) return {};
      ref = p->source();
    }
  }
  return {};
}

bool MaskFilter::reads_masked(const Answer& a) const {
  if (!a.request || !a.request->mask_handle) return false;
  // An error at commit (a WITH HOLD cursor materialized) answers whatever
  // ends the transaction.
  if (tracker_.transaction_read_masked() || a.request->reads_masked) return true;
  TextRef ref;
  if (a.request->kind == Kind::query) {
    ref = {a.request->text, a.statement_index};
  } else if (a.request->kind == Kind::execute || a.request->kind == Kind::describe_portal) {
    if (!a.portal) return true;
    ref = a.portal->source();
  } else if (a.request->kind == Kind::parse) {
    ref = {a.request->text, 0};
  } else if (a.request->kind == Kind::bind) {
    auto s = tracker_.held_statement(a.request->statement_name);
    if (!s) return true;
    ref = s->source;
  } else {
    return false;
  }
  if (!ref.text) return true;
  const Traced t = resolve(ref, a.request->mask_handle);
  if (t.statement == nullptr) return true;  // unknown: assume the worst
  if (t.statement->touches_masked) return true;
  for (const auto& o : t.statement->outputs) {
    if (o.taint != sql::Taint::clean) return true;
  }
  return false;
}

bool MaskFilter::wants(char type, const Answer& a) const {
  const Handle& h = a.request ? a.request->mask_handle : current_;
  if (!h) return false;
  switch (static_cast<BackendMsg>(type)) {
    case BackendMsg::RowDescription:
      return true;
    case BackendMsg::NoData:
      return a.request && a.request->kind == Kind::describe_portal;
    case BackendMsg::DataRow:
      if (a.request && a.request->kind == Kind::execute) {
        return !(a.portal && a.portal->mask.planned && !a.portal->mask.plan.needs_work());
      }
      return !(rows_.matches(a) && !rows_.copy && !rows_.plan.needs_work());
    case BackendMsg::CopyOutResponse:
      return true;
    case BackendMsg::CopyData:
      return rows_.matches(a) && rows_.copy && (rows_.copy_header_pending || rows_.plan.needs_work());
    case BackendMsg::ErrorResponse:
    case BackendMsg::NoticeResponse:
    case BackendMsg::NotificationResponse:
    case BackendMsg::ParameterStatus:
      return true;
    default:
      return false;
  }
}

RelayFilter::Outcome MaskFilter::fail(std::string why) {
  failure_ = std::move(why);
  spdlog::warn("session {}: masking: {}", session_name(session_id_), failure_);
  return Outcome::fail;
}

void MaskFilter::log_untraceable(const std::vector<std::string>& names) const {
  if (names.empty()) return;
  std::string list;
  for (const auto& n : names) {
    if (!list.empty()) list += ", ";
    list += n;
  }
  spdlog::info("session {}: masking: cannot trace column(s) {} to their source; content detectors applied",
               session_name(session_id_), list);
}

RelayFilter::Outcome MaskFilter::on_row_description(std::string_view body, const Answer& a) {
  const Request& r = *a.request;
  if (r.kind == Kind::describe_statement) return Outcome::forward;  // names and types, never values
  auto rd = pgwire::RowDescription::decode(body);
  if (!rd) return fail("malformed RowDescription: " + rd.error());
  engine::PlanNotes notes;
  if (r.kind == Kind::query) {
    const Traced t = resolve({r.text, a.statement_index}, r.mask_handle);
    rows_ = Stream{};
    rows_.request = &r;
    rows_.statement = a.statement_index;
    rows_.plan = engine::plan_for_rows(*rd, t.statement, r.mask_handle->model(), notes);
  } else if (r.kind == Kind::describe_portal && a.portal) {
    const Traced t = a.portal->uncertain ? Traced{} : resolve(a.portal->source(), r.mask_handle);
    a.portal->mask.plan = engine::plan_for_rows(*rd, t.statement, r.mask_handle->model(), notes);
    a.portal->mask.planned = true;
    a.portal->mask.planned_with = r.mask_handle;
  } else {
    return fail("a RowDescription pgwarden cannot attribute");
  }
  log_untraceable(notes.untraceable);
  return Outcome::forward;
}

RelayFilter::Outcome MaskFilter::on_no_data(const Answer& a) {
  if (a.portal) {
    a.portal->mask.plan = mask::RowPlan();
    a.portal->mask.planned = true;
    a.portal->mask.planned_with = a.request->mask_handle;
  }
  return Outcome::forward;
}

RelayFilter::Outcome MaskFilter::on_data_row(std::string_view whole, const Answer& a, std::string& out) {
  const mask::RowPlan* plan = nullptr;
  if (a.request->kind == Kind::execute) {
    if (!a.portal || !a.portal->mask.planned) {
      return fail("rows of portal \"" + a.request->name + "\" arrived before pgwarden knew their shape");
    }
    plan = &a.portal->mask.plan;
  } else {
    if (!rows_.matches(a) || rows_.copy) return fail("a DataRow arrived before its RowDescription");
    plan = &rows_.plan;
  }
  if (!plan->needs_work()) return Outcome::forward;
  const size_t start = start_message(out, pgwire::type_byte(BackendMsg::DataRow));
  auto r = mask::rewrite_data_row(whole.substr(pgwire::kHeaderSize), *plan, out);
  if (!r) {
    out.resize(start);
    return fail("a DataRow does not match its RowDescription: " + r.error());
  }
  if (*r == mask::Rewrite::unchanged) {
    out.resize(start);
    return Outcome::forward;
  }
  finish_message(out, start);
  if (metrics_ != nullptr) engine::bump(metrics_->masked_rows);
  return Outcome::replace;
}

RelayFilter::Outcome MaskFilter::on_copy_out(std::string_view body, const Answer& a) {
  const Request& r = *a.request;
  rows_ = Stream{};
  rows_.request = &r;
  rows_.statement = a.statement_index;
  rows_.copy = true;
  auto response = pgwire::CopyOutResponse::decode(body);
  if (!response) return fail("malformed CopyOutResponse: " + response.error());
  TextRef ref;
  if (r.kind == Kind::query) ref = {r.text, a.statement_index};
  else if (a.portal && (!a.portal->uncertain || a.portal->origin == Portal::Origin::bind)) {
    // A portal that runs COPY was made by a Bind (neither DECLARE nor a
    // function's cursor can hold a COPY), and every Bind passes through the
    // tracker: after a ROLLBACK TO SAVEPOINT such a portal may be gone, but if
    // it still answers, it is the one pgwarden saw bound.
    ref = a.portal->source();
  }
  const Traced t = resolve(ref, r.mask_handle);
  const sql::StatementLineage* st = t.statement;
  if (st == nullptr || (st->source != Source::copy_table && st->source != Source::copy_query)) {
    return fail("a COPY pgwarden cannot attribute to a COPY statement");
  }
  const policy::CatalogRelation* relation = nullptr;
  if (st->source == Source::copy_table) {
    auto chosen = copy_table_relation(*st, *r.mask_handle, policy_.search_paths());
    if (!chosen) return fail(chosen.error());
    relation = *chosen;
  }
  engine::PlanNotes notes;
  auto plan = engine::plan_for_copy(*st, relation, response->column_formats.size(), r.mask_handle->model(), notes);
  if (!plan) return fail(plan.error());
  log_untraceable(notes.untraceable);
  rows_.plan = std::move(*plan);
  if (response->format != pgwire::kFormatText && rows_.plan.needs_work()) {
    return fail("a binary COPY of values pgwarden must mask");
  }
  rows_.copy_format = engine::copy_format_of(*st);
  // PostgreSQL 15 sends a header line in text format too.
  rows_.copy_header_pending = st->copy_header;
  return Outcome::forward;
}

RelayFilter::Outcome MaskFilter::on_copy_data(std::string_view whole, const Answer&, std::string& out) {
  if (rows_.copy_header_pending) {
    // The CSV header line holds column names, not values.
    rows_.copy_header_pending = false;
    return Outcome::forward;
  }
  if (!rows_.plan.needs_work()) return Outcome::forward;
  const size_t start = start_message(out, pgwire::type_byte(BackendMsg::CopyData));
  auto r = mask::rewrite_copy_data(whole.substr(pgwire::kHeaderSize), rows_.copy_format, rows_.plan, out);
  if (!r) {
    out.resize(start);
    return fail("a COPY row pgwarden cannot split into its columns: " + r.error());
  }
  if (*r == mask::Rewrite::unchanged) {
    out.resize(start);
    return Outcome::forward;
  }
  finish_message(out, start);
  if (metrics_ != nullptr) engine::bump(metrics_->masked_rows);
  return Outcome::replace;
}

RelayFilter::Outcome MaskFilter::on_answer(char type, std::string_view whole, const Answer& a, std::string& out) {
  const std::string_view body = whole.substr(pgwire::kHeaderSize);
  switch (static_cast<BackendMsg>(type)) {
    case BackendMsg::RowDescription:
      return on_row_description(body, a);
    case BackendMsg::NoData:
      return on_no_data(a);
    case BackendMsg::DataRow:
      return on_data_row(whole, a, out);
    case BackendMsg::CopyOutResponse:
      return on_copy_out(body, a);
    case BackendMsg::CopyData:
      return on_copy_data(whole, a, out);
    case BackendMsg::ErrorResponse:
    case BackendMsg::NoticeResponse: {
      const engine::SideChannelRules rules = engine::side_channel_rules(
          Result<Handle>(a.request ? a.request->mask_handle : current_), reads_masked(a));
      auto scrubbed = engine::scrub_error_or_notice(type, body, rules);
      if (!scrubbed) return Outcome::forward;
      out.append(*scrubbed);
      return Outcome::replace;
    }
    case BackendMsg::NotificationResponse:
    case BackendMsg::ParameterStatus: {
      const bool notification = is(type, BackendMsg::NotificationResponse);
      const engine::SideChannelRules rules = notification
                                                 ? engine::notification_rules(Result<Handle>(current_))
                                                 : engine::side_channel_rules(Result<Handle>(current_), false);
      auto scrubbed = notification ? engine::scrub_notification(body, rules)
                                   : engine::scrub_parameter_status(body, rules);
      if (!scrubbed) return Outcome::forward;
      if (scrubbed->empty()) return Outcome::drop;
      out.append(*scrubbed);
      return Outcome::replace;
    }
    default:
      return Outcome::forward;
  }
}

}  // namespace pgw::relay
