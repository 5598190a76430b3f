#include "engine/result_masker.h"

#include <spdlog/spdlog.h>

#include "engine/result_plan.h"
#include "engine/side_channels.h"
#include "mask/data_row_rewriter.h"
#include "pgwire/byte_io.h"
#include "pgwire/copy_messages.h"
#include "pgwire/frame.h"
#include "pgwire/row_description.h"

namespace pgw::engine {

namespace {

using Kind = sql::RowSource;

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

}  // namespace

ResultMasker::ResultMasker(Source& source, std::string identity, uint64_t session_id)
    : source_(source), identity_(std::move(identity)), session_id_(session_id) {}

Result<std::shared_ptr<MaskHandle>> ResultMasker::handle_now() { return source_.mask_handle(); }

// --- client side -----------------------------------------------------------

GateVerdict ResultMasker::check(const LineageList& list, const MaskHandle& handle) const {
  auto denial = policy::masking_denial(list, handle.model(), identity_);
  if (!denial) return GateVerdict::forward();
  return GateVerdict::deny(std::move(denial->message), "42501", std::move(denial->detail));
}

// A statement the tracer could not read (nested deeper than it follows, or
// text the parser refuses while the policy forwards unparseable SQL): its
// writes and filters cannot be checked, so it does not run.
GateVerdict ResultMasker::untraceable_statement() const {
  return GateVerdict::deny("pgwarden: a statement pgwarden cannot trace for masking denied by policy for " + identity_,
                           "42501", "It is too deeply nested or does not parse; simplify it.");
}

void ResultMasker::remember_names(const LineageRef& ref) {
  if (!ref.list) return;
  for (size_t i = 0; i < ref.list->size(); ++i) {
    const auto& st = (*ref.list)[i];
    LineageRef one{ref.handle, ref.list, i};
    if (st.source == Kind::declare) cursors_[st.name] = one;
    if (st.source == Kind::prepare) sql_prepared_[st.name] = one;
  }
}

GateVerdict ResultMasker::on_query(std::string_view sql) {
  auto handle = handle_now();
  if (!handle) return GateVerdict::deny(handle.error(), "XX000");
  Expect e;
  e.kind = Expect::Kind::query;
  e.ref.handle = *handle;
  if (e.ref.handle) {
    e.ref.list = e.ref.handle->lineage(sql, source_.standard_conforming_strings());
    if (!e.ref.list) return untraceable_statement();
    GateVerdict v = check(*e.ref.list, *e.ref.handle);
    if (v.action != GateVerdict::Action::kForward) return v;
    remember_names(e.ref);
  }
  expects_.push_back(std::move(e));
  return GateVerdict::forward();
}

void ResultMasker::on_query_denied() {
  Expect e;
  e.kind = Expect::Kind::query;  // answered by pgwarden's error and a ReadyForQuery
  expects_.push_back(std::move(e));
}

GateVerdict ResultMasker::on_parse(std::string_view statement, std::string_view sql) {
  auto handle = handle_now();
  if (!handle) return GateVerdict::deny(handle.error(), "XX000");
  LineageRef ref{*handle, nullptr, 0};
  if (ref.handle) {
    ref.list = ref.handle->lineage(sql, source_.standard_conforming_strings());
    if (!ref.list) return untraceable_statement();
    GateVerdict v = check(*ref.list, *ref.handle);
    if (v.action != GateVerdict::Action::kForward) return v;
    remember_names(ref);
  }
  statements_[std::string(statement)] = ref;
  Expect e;
  e.kind = Expect::Kind::parse;
  e.ref = std::move(ref);
  expects_.push_back(std::move(e));
  return GateVerdict::forward();
}

void ResultMasker::on_parse_denied(std::string_view statement) {
  auto handle = handle_now();
  LineageRef unknown{handle ? *handle : nullptr, nullptr, 0};
  statements_[std::string(statement)] = unknown;
  Expect e;
  e.kind = Expect::Kind::parse;
  e.ref = std::move(unknown);
  expects_.push_back(std::move(e));
}

void ResultMasker::on_bind(std::string_view portal, std::string_view statement) {
  Expect e;
  e.kind = Expect::Kind::bind;
  e.name = std::string(portal);
  if (auto it = statements_.find(std::string(statement)); it != statements_.end()) {
    e.ref = it->second;
  } else {
    // Prepared before pgwarden saw it, or already closed: nothing known
    // about its rows (the server will most likely refuse the Bind).
    auto handle = handle_now();
    e.ref = LineageRef{handle ? *handle : nullptr, nullptr, 0};
  }
  client_portals_[e.name] = ClientPortal{e.ref, false};
  expects_.push_back(std::move(e));
}

void ResultMasker::on_describe(char kind, std::string_view name) {
  Expect e;
  if (kind == pgwire::kTargetPortal) {
    e.kind = Expect::Kind::describe_portal;
    e.name = std::string(name);
    auto& portal = client_portals_[e.name];
    portal.described = true;
    e.ref = portal.statement;
  } else {
    e.kind = Expect::Kind::describe_statement;
  }
  expects_.push_back(std::move(e));
}

std::string ResultMasker::on_execute(std::string_view portal_name) {
  std::string injected;
  const std::string name(portal_name);
  auto& portal = client_portals_[name];
  if (!portal.described && portal.statement.handle) {
    // The client did not ask for the row shape; pgwarden must know it before
    // the first DataRow, so it asks itself and keeps the answer.
    pgwire::Describe describe;
    describe.target = pgwire::kTargetPortal;
    describe.name = portal_name;
    pgwire::encode(describe, injected);
    Expect d;
    d.kind = Expect::Kind::describe_portal;
    d.injected = true;
    d.name = name;
    d.ref = portal.statement;
    expects_.push_back(std::move(d));
    portal.described = true;
  }
  Expect e;
  e.kind = Expect::Kind::execute;
  e.name = name;
  e.ref = portal.statement;
  expects_.push_back(std::move(e));
  return injected;
}

void ResultMasker::on_close(char kind, std::string_view name) {
  Expect e;
  e.kind = Expect::Kind::close;
  e.close_target = kind;
  e.name = std::string(name);
  if (kind == pgwire::kTargetStatement) {
    statements_.erase(e.name);
  } else {
    client_portals_.erase(e.name);
  }
  expects_.push_back(std::move(e));
}

void ResultMasker::on_sync() {
  Expect e;
  e.kind = Expect::Kind::sync;
  expects_.push_back(std::move(e));
}

GateVerdict ResultMasker::on_function_call(uint32_t function_oid) {
  auto handle = handle_now();
  if (!handle) return GateVerdict::deny(handle.error(), "XX000");
  if (*handle) {
    // The fast-path result is one value with no RowDescription to plan by:
    // only functions known to be clean may be called this way.
    const policy::Catalog* catalog = (*handle)->catalog();
    const policy::CatalogFunction* fn = catalog ? catalog->function(function_oid) : nullptr;
    const sql::Taint taint =
        fn ? (*handle)->model().oracle().function_taint(fn->schema, fn->name) : sql::Taint::untraceable;
    if (taint != sql::Taint::clean) {
      return GateVerdict::deny("pgwarden: fast-path call of " +
                                   (fn ? fn->schema + "." + fn->name : "function " + std::to_string(function_oid)) +
                                   " denied by policy for " + identity_,
                               "42501", "Its result could carry masked values.");
    }
  }
  Expect e;
  e.kind = Expect::Kind::function_call;
  expects_.push_back(std::move(e));
  return GateVerdict::forward();
}

void ResultMasker::on_function_call_denied() {
  Expect e;
  e.kind = Expect::Kind::function_call;
  expects_.push_back(std::move(e));
}

// --- upstream side ---------------------------------------------------------

const sql::StatementLineage* ResultMasker::resolve(const sql::StatementLineage* st) const {
  // FETCH of a cursor declared by an EXECUTE of a prepared DECLARE ...: a
  // few hops at most; a loop would be a bug, so it is cut.
  for (int hop = 0; st != nullptr && hop < 4; ++hop) {
    if (st->source == Kind::fetch) {
      auto it = cursors_.find(st->name);
      st = it == cursors_.end() ? nullptr : it->second.get();
    } else if (st->source == Kind::execute) {
      auto it = sql_prepared_.find(st->name);
      st = it == sql_prepared_.end() ? nullptr : it->second.get();
    } else {
      return st;
    }
  }
  return nullptr;
}

const sql::StatementLineage* ResultMasker::current_statement(const Expect& e) const {
  const size_t index = e.kind == Expect::Kind::query ? e.statement_index : 0;
  if (!e.ref.list || index >= e.ref.list->size()) return nullptr;
  return resolve(&(*e.ref.list)[index]);
}

bool ResultMasker::front_reads_masked() const {
  if (expects_.empty()) return false;
  const Expect& e = expects_.front();
  if (!e.ref.handle) return false;
  const sql::StatementLineage* st = current_statement(e);
  if (st == nullptr) return true;  // unknown: assume the worst
  if (st->touches_masked) return true;
  for (const auto& o : st->outputs) {
    if (o.taint != sql::Taint::clean) return true;
  }
  return false;
}

bool ResultMasker::wants(char type) {
  if (type == 'D') {
    if (expects_.empty()) return true;  // rows nobody asked for: checked (and refused)
    const Expect& e = expects_.front();
    if (!e.ref.handle) return false;
    if (e.kind == Expect::Kind::query) return !rows_active_ || rows_plan_.needs_work();
    if (e.kind == Expect::Kind::execute) {
      if (execute_portal_ == nullptr) {
        auto it = server_portals_.find(e.name);
        if (it == server_portals_.end() || !it->second.planned) return true;
        execute_portal_ = &it->second;
      }
      return execute_portal_->plan.needs_work();
    }
    return true;
  }
  if (type == 'd') return copy_active_ && (copy_header_pending_ || copy_plan_.needs_work());
  return true;
}

ResultMasker::Outcome ResultMasker::fail(std::string why) {
  failure_ = std::move(why);
  spdlog::warn("session {}: masking: {}", session_id_, failure_);
  return Outcome::fail;
}

void ResultMasker::log_untraceable(const std::vector<std::string>& names) const {
  if (names.empty()) return;
  std::string list;
  for (const auto& n : names) {
    if (!list.empty()) list += ", ";
    list += n;
  }
  spdlog::info("session {}: masking: cannot trace column(s) {} to their source; content detectors applied",
               session_id_, list);
}

void ResultMasker::pop_front() {
  expects_.pop_front();
  execute_portal_ = nullptr;
  rows_active_ = false;
  copy_active_ = false;
}

void ResultMasker::pop_until_sync() {
  while (!expects_.empty() && expects_.front().kind != Expect::Kind::sync) pop_front();
}

ResultMasker::Outcome ResultMasker::on_row_description(std::string_view body, std::string& /*out*/) {
  if (expects_.empty()) return fail("a RowDescription answers nothing pgwarden forwarded");
  Expect& e = expects_.front();
  switch (e.kind) {
    case Expect::Kind::query: {
      rows_active_ = true;
      rows_plan_ = mask::RowPlan();
      if (!e.ref.handle) return Outcome::forward;
      auto rd = pgwire::RowDescription::decode(body);
      if (!rd) return fail("malformed RowDescription: " + rd.error());
      PlanNotes notes;
      rows_plan_ = plan_for_rows(*rd, e.ref.list ? current_statement(e) : nullptr, e.ref.handle->model(), notes);
      log_untraceable(notes.untraceable);
      return Outcome::forward;
    }
    case Expect::Kind::describe_statement:
      // Describing a statement shows column names and types, never values.
      pop_front();
      return Outcome::forward;
    case Expect::Kind::describe_portal: {
      const bool injected = e.injected;
      ServerPortal& portal = server_portals_[e.name];
      portal.planned = true;
      portal.plan = mask::RowPlan();
      if (e.ref.handle) {
        auto rd = pgwire::RowDescription::decode(body);
        if (!rd) return fail("malformed RowDescription: " + rd.error());
        PlanNotes notes;
        portal.plan = plan_for_rows(*rd, current_statement(e), e.ref.handle->model(), notes);
        log_untraceable(notes.untraceable);
      }
      pop_front();
      return injected ? Outcome::drop : Outcome::forward;
    }
    default:
      return fail("a RowDescription arrived where none was expected");
  }
}

ResultMasker::Outcome ResultMasker::on_data_row(std::string_view whole, std::string& out) {
  if (expects_.empty()) return fail("a DataRow answers nothing pgwarden forwarded");
  const Expect& e = expects_.front();
  const mask::RowPlan* plan = nullptr;
  if (e.kind == Expect::Kind::query) {
    if (!rows_active_) return fail("a DataRow arrived before its RowDescription");
    plan = &rows_plan_;
  } else if (e.kind == Expect::Kind::execute) {
    if (!e.ref.handle) return Outcome::forward;
    if (execute_portal_ == nullptr) {
      auto it = server_portals_.find(e.name);
      if (it == server_portals_.end() || !it->second.planned) {
        return fail("rows of portal \"" + e.name + "\" arrived before pgwarden knew their shape");
      }
      execute_portal_ = &it->second;
    }
    plan = &execute_portal_->plan;
  } else {
    return fail("a DataRow arrived where none was expected");
  }
  if (!plan->needs_work()) return Outcome::forward;
  const size_t start = start_message(out, 'D');
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
  return Outcome::replace;
}

ResultMasker::Outcome ResultMasker::on_copy_out(std::string_view body) {
  if (expects_.empty()) return fail("a CopyOutResponse answers nothing pgwarden forwarded");
  const Expect& e = expects_.front();
  if (e.kind != Expect::Kind::query && e.kind != Expect::Kind::execute) {
    return fail("a CopyOutResponse arrived where none was expected");
  }
  copy_active_ = true;
  copy_header_pending_ = false;
  copy_plan_ = mask::RowPlan();
  if (!e.ref.handle) return Outcome::forward;
  auto response = pgwire::CopyOutResponse::decode(body);
  if (!response) return fail("malformed CopyOutResponse: " + response.error());
  const sql::StatementLineage* st = current_statement(e);
  if (st == nullptr || (st->source != Kind::copy_table && st->source != Kind::copy_query)) {
    return fail("a COPY pgwarden cannot attribute to a COPY statement");
  }
  const policy::MaskModel& model = e.ref.handle->model();
  const policy::CatalogRelation* relation = nullptr;
  if (st->source == Kind::copy_table) {
    const std::vector<std::string> path = source_.search_path();
    for (const auto& c : policy::resolve(e.ref.handle->catalog(), st->copy_schema, st->copy_table, path)) {
      if (c.exists()) {
        relation = c.relation;
        break;
      }
    }
  }
  PlanNotes notes;
  auto plan = plan_for_copy(*st, relation, response->column_formats.size(), model, notes);
  if (!plan) return fail(plan.error());
  log_untraceable(notes.untraceable);
  copy_plan_ = std::move(*plan);
  if (response->format != pgwire::kFormatText && copy_plan_.needs_work()) {
    return fail("a binary COPY of values pgwarden must mask");
  }
  copy_format_ = copy_format_of(*st);
  copy_header_pending_ = st->copy_csv && st->copy_header;
  return Outcome::forward;
}

ResultMasker::Outcome ResultMasker::on_copy_data(std::string_view whole, std::string& out) {
  if (copy_header_pending_) {
    // The CSV header line holds column names, not values.
    copy_header_pending_ = false;
    return Outcome::forward;
  }
  if (!copy_plan_.needs_work()) return Outcome::forward;
  const size_t start = start_message(out, 'd');
  auto r = mask::rewrite_copy_data(whole.substr(pgwire::kHeaderSize), copy_format_, copy_plan_, out);
  if (!r) {
    out.resize(start);
    return fail("a COPY row pgwarden cannot split into its columns: " + r.error());
  }
  if (*r == mask::Rewrite::unchanged) {
    out.resize(start);
    return Outcome::forward;
  }
  finish_message(out, start);
  return Outcome::replace;
}

void ResultMasker::statement_done() {
  if (expects_.empty()) return;
  Expect& e = expects_.front();
  if (e.kind == Expect::Kind::query) {
    ++e.statement_index;
    rows_active_ = false;
    copy_active_ = false;
    return;
  }
  if (e.kind == Expect::Kind::execute) pop_front();
}

ResultMasker::Outcome ResultMasker::on_upstream(char type, std::string_view whole, std::string& out) {
  const std::string_view body = whole.substr(pgwire::kHeaderSize);
  auto front_is = [&](Expect::Kind k) { return !expects_.empty() && expects_.front().kind == k; };
  switch (type) {
    case 'T':
      return on_row_description(body, out);
    case 'D':
      return on_data_row(whole, out);
    case 'H':
      return on_copy_out(body);
    case 'd':
      return copy_active_ ? on_copy_data(whole, out) : Outcome::forward;
    case 'c':
      copy_active_ = false;
      return Outcome::forward;
    case 'C':
    case 'I':
    case 's':
      statement_done();
      return Outcome::forward;
    case 't':
      return Outcome::forward;  // ParameterDescription: types only; the RowDescription/NoData follows
    case 'n':
      if (front_is(Expect::Kind::describe_portal)) {
        const bool injected = expects_.front().injected;
        ServerPortal& portal = server_portals_[expects_.front().name];
        portal.planned = true;
        portal.plan = mask::RowPlan();
        pop_front();
        return injected ? Outcome::drop : Outcome::forward;
      }
      if (front_is(Expect::Kind::describe_statement)) pop_front();
      return Outcome::forward;
    case '1':
      if (front_is(Expect::Kind::parse)) pop_front();
      return Outcome::forward;
    case '2':
      if (front_is(Expect::Kind::bind)) {
        // A new portal of this name: its shape is learnt from its Describe.
        server_portals_.erase(expects_.front().name);
        pop_front();
      }
      return Outcome::forward;
    case '3':
      if (front_is(Expect::Kind::close)) {
        if (expects_.front().close_target == pgwire::kTargetPortal) server_portals_.erase(expects_.front().name);
        pop_front();
      }
      return Outcome::forward;
    case 'E': {
      const SideChannelRules rules = side_channel_rules(
          expects_.empty() ? handle_now() : Result<std::shared_ptr<MaskHandle>>(expects_.front().ref.handle),
          front_reads_masked());
      if (!expects_.empty()) {
        if (expects_.front().kind == Expect::Kind::query || expects_.front().kind == Expect::Kind::function_call) {
          rows_active_ = false;
          copy_active_ = false;
        } else {
          pop_until_sync();  // the server skips to the Sync
        }
      }
      auto scrubbed = scrub_error_or_notice('E', body, rules);
      if (!scrubbed) return Outcome::forward;
      out.append(*scrubbed);
      return Outcome::replace;
    }
    case 'N': {
      auto scrubbed = scrub_error_or_notice(
          'N', body,
          side_channel_rules(
              expects_.empty() ? handle_now() : Result<std::shared_ptr<MaskHandle>>(expects_.front().ref.handle),
              front_reads_masked()));
      if (!scrubbed) return Outcome::forward;
      out.append(*scrubbed);
      return Outcome::replace;
    }
    case 'A':
    case 'S': {
      const SideChannelRules rules = side_channel_rules(handle_now(), false);
      auto scrubbed = type == 'A' ? scrub_notification(body, rules) : scrub_parameter_status(body, rules);
      if (!scrubbed) return Outcome::forward;
      if (scrubbed->empty()) return Outcome::drop;
      out.append(*scrubbed);
      return Outcome::replace;
    }
    case 'Z':
      // Ends a Query, a FunctionCall, or the extended cycle up to a Sync.
      while (!expects_.empty()) {
        const Expect::Kind k = expects_.front().kind;
        pop_front();
        if (k == Expect::Kind::query || k == Expect::Kind::sync || k == Expect::Kind::function_call) break;
      }
      return Outcome::forward;
    default:
      return Outcome::forward;
  }
}

}  // namespace pgw::engine
