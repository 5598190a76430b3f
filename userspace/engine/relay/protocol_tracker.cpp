#include "engine/relay/protocol_tracker.h"

#include <algorithm>

#include "pgwire/message_types.h"

namespace pgw::relay {

namespace {

using pgwire::BackendMsg;
using Kind = Request::Kind;

// CommandComplete tags of the statements that define or drop session names.
bool names_tag(std::string_view tag) {
  return tag == "DECLARE CURSOR" || tag == "CLOSE CURSOR" || tag == "CLOSE CURSOR ALL" || tag == "PREPARE" ||
         tag == "DEALLOCATE" || tag == "DEALLOCATE ALL" || tag == "DISCARD ALL";
}

template <typename T>
void erase_entry(std::vector<std::shared_ptr<T>>& v, const std::shared_ptr<T>& e) {
  std::erase(v, e);
}

// A text statement that may define names, once (without facts it makes
// none: the usual Execute of a SELECT).
void add_source(std::vector<TextRef>& sources, const TextRef& src) {
  if (!src.text || !src.text->effects || src.index >= src.text->effects->size()) return;
  for (const TextRef& known : sources) {
    if (known.text == src.text && known.index == src.index) return;
  }
  sources.push_back(src);
}

bool is_extended(Kind k) {
  return k == Kind::parse || k == Kind::bind || k == Kind::describe_statement || k == Kind::describe_portal ||
         k == Kind::execute || k == Kind::close_statement || k == Kind::close_portal;
}

}  // namespace

ProtocolTracker::ProtocolTracker() = default;

// ---- client side ----------------------------------------------------------

std::shared_ptr<Request> ProtocolTracker::begin(Request::Kind kind) {
  auto r = std::make_shared<Request>();
  r->kind = kind;
  return r;
}

void ProtocolTracker::commit(std::shared_ptr<Request> r) {
  if (skipping_ && r->kind != Kind::sync) {
    // The server is discarding everything up to the next Sync (an earlier
    // extended-protocol message failed): this gets no answer, and defines
    // nothing. A Query or FunctionCall ends its cycle without one.
    r->answered = true;
    if (r->ends_cycle()) {
      ++cycles_sent_;
      ++cycles_answered_;
      ++position_version_;
    }
    return;
  }
  if (r->kind == Kind::sync) skipping_ = false;
  if (is_extended(r->kind)) extended_batch_open_ = true;
  if (r->kind == Kind::sync) extended_batch_open_ = false;
  switch (r->kind) {
    case Kind::query:
      if (!r->denial && r->text && r->text->effects) {
        // SQL PREPARE and DECLARE become candidates now, names once the
        // server completes them; so do those of a protocol statement that
        // an EXECUTE of the string runs.
        std::vector<TextRef> sources;
        const auto& effects = *r->text->effects;
        for (size_t i = 0; i < effects.size(); ++i) {
          if (effects[i].executes.empty()) {
            add_source(sources, {r->text, i});
            continue;
          }
          for (const auto& s : statement_candidates(effects[i].executes.front())) {
            if (auto src = names_made_by(*s)) add_source(sources, *src);
          }
        }
        add_pending_names(*r, sources);
      }
      ++cycles_sent_;
      ++position_version_;
      break;
    case Kind::parse:
      if (r->defines) {
        r->defines->policy.decided = r->decided;
        r->defines->parsed_in_cycle = cycles_sent_;
        statements_in_flight_.push_back(r->defines);
      }
      break;
    case Kind::bind:
      for (const auto& p : r->pending_portals) {
        p->policy.decided = r->decided;
        p->bound_in_cycle = cycles_sent_;
        portals_in_flight_.push_back(p);
      }
      break;
    case Kind::describe_portal:
      // Described with its Bind: if an error voids this Describe, it voided
      // the Bind before it too, and that portal does not exist.
      for (const auto& p : portals_in_flight_) {
        if (p->name == r->name && p->origin == Portal::Origin::bind && p->bound_in_cycle == cycles_sent_) {
          p->described_with_bind = true;
        }
      }
      break;
    case Kind::execute:
      if (!r->denial) add_defined_by_execute(*r);
      break;
    case Kind::sync:
    case Kind::function_call:
      ++cycles_sent_;
      ++position_version_;
      break;
    default:
      break;
  }
  queue_.push_back(std::move(r));
}

// An Execute of a portal running DECLARE or PREPARE defines that name once
// it completes: until then the definition is a candidate, like one in a
// Query. What the portal runs may itself still be in flight: every
// statement it may be bound to counts.
//
// A candidate is a possible lineage of a name, so one that is already in
// flight with the same source is not made again: a pipeline of Executes of
// one portal (whose own candidates are among its sources) would otherwise
// double them with each Execute. Should the request that made it fail, the
// server's confirmation of this one still names the cursor (apply_effects).
void ProtocolTracker::add_defined_by_execute(Request& r) {
  std::vector<TextRef> sources;
  for (const auto& p : portal_candidates(r.name)) {
    if (p->origin == Portal::Origin::bind && !p->statement) {
      for (const auto& s : statement_candidates(p->statement_name)) {
        if (auto src = names_made_by(*s)) add_source(sources, *src);
      }
    } else if (auto src = names_made_by(*p)) {
      add_source(sources, *src);
    }
  }
  add_pending_names(r, sources);
}

// The PREPAREs and DECLAREs of each source become candidates of `r`.
void ProtocolTracker::add_pending_names(Request& r, const std::vector<TextRef>& sources) {
  const auto in_flight = [](const auto& entries, const std::string& name, const TextRef& src, auto source_of) {
    for (const auto& e : entries) {
      const TextRef& other = source_of(*e);
      if (e->name == name && other.text == src.text && other.index == src.index) return true;
    }
    return false;
  };
  for (const TextRef& src : sources) {
    const sql::StatementFacts& f = (*src.text->effects)[src.index];
    for (const auto& name : f.prepares) {
      if (in_flight(statements_in_flight_, name, src, [](const PreparedStatement& s) -> const TextRef& {
            return s.source;
          })) {
        continue;
      }
      auto s = std::make_shared<PreparedStatement>();
      s->name = name;
      s->source = src;
      s->from_sql_prepare = true;
      s->parsed_in_cycle = cycles_sent_;
      s->policy.facts = std::make_shared<const sql::StatementFacts>(f);
      s->policy.decided = r.decided;
      r.pending_statements.push_back(s);
      statements_in_flight_.push_back(std::move(s));
    }
    for (const auto& d : f.declares) {
      if (in_flight(portals_in_flight_, d.name, src, [](const Portal& p) -> const TextRef& { return p.cursor; })) {
        continue;
      }
      auto p = std::make_shared<Portal>();
      p->name = d.name;
      p->origin = Portal::Origin::declare;
      p->cursor = src;
      p->holdable = d.holdable;
      p->policy.decided = r.decided;
      r.pending_portals.push_back(p);
      portals_in_flight_.push_back(std::move(p));
    }
  }
}

// What a statement runs, as far as the names it makes go: EXECUTE runs what
// its name holds now, a statement of SQL PREPARE holds a query (SELECT,
// INSERT, ...) that makes no name, and a cursor's Execute runs its query
// (a FETCH), never its DECLARE again. nullopt: it makes no name; an empty
// TextRef: pgwarden cannot tell.
std::optional<TextRef> ProtocolTracker::names_made_by(TextRef src) const {
  for (int hop = 0; hop < 4; ++hop) {
    if (!src.text || !src.text->effects || src.index >= src.text->effects->size()) return TextRef{};
    const sql::StatementFacts& f = (*src.text->effects)[src.index];
    if (f.executes.empty()) return src;
    auto held = held_statement(f.executes.front());
    if (!held) return TextRef{};
    if (held->from_sql_prepare) return std::nullopt;
    src = held->source;
  }
  return TextRef{};
}

std::optional<TextRef> ProtocolTracker::names_made_by(const PreparedStatement& s) const {
  if (s.from_sql_prepare) return std::nullopt;
  return names_made_by(s.source);
}

std::optional<TextRef> ProtocolTracker::names_made_by(const Portal& p) const {
  if (p.origin == Portal::Origin::declare) return std::nullopt;
  if (p.origin != Portal::Origin::bind || !p.statement) return TextRef{};
  return names_made_by(*p.statement);
}

// ---- server side ----------------------------------------------------------

bool ProtocolTracker::needs_body(char type) {
  return type == pgwire::type_byte(BackendMsg::CommandComplete) || type == pgwire::type_byte(BackendMsg::ReadyForQuery);
}

std::string_view to_string(Request::Kind k) {
  switch (k) {
    case Kind::query: return "Query";
    case Kind::parse: return "Parse";
    case Kind::bind: return "Bind";
    case Kind::describe_statement: return "Describe (statement)";
    case Kind::describe_portal: return "Describe (portal)";
    case Kind::execute: return "Execute";
    case Kind::close_statement: return "Close (statement)";
    case Kind::close_portal: return "Close (portal)";
    case Kind::sync: return "Sync";
    case Kind::function_call: return "FunctionCall";
  }
  return "?";
}

Result<Answer> ProtocolTracker::desync(std::string what) {
  std::string expected = "nothing";
  if (!queue_.empty()) {
    // The first few outstanding requests say where the two sides parted.
    expected = "answers to";
    size_t n = 0;
    for (const auto& r : queue_) {
      if (n++ == 4) {
        expected += ", ... (" + std::to_string(queue_.size()) + " outstanding)";
        break;
      }
      expected += (n == 1 ? " " : ", ") + std::string(to_string(r->kind));
    }
  }
  return Error{"the server sent " + what + " where pgwarden expected " + expected};
}

Result<Answer> ProtocolTracker::answer(char type) {
  Answer a;
  const auto msg = static_cast<BackendMsg>(type);
  switch (msg) {
    case BackendMsg::NoticeResponse:
    case BackendMsg::NotificationResponse:
    case BackendMsg::ParameterStatus:
      // Asynchronous: they may come at any time and answer nothing, but
      // belong to what is running (a notice of a statement).
      if (!queue_.empty()) {
        a.request = queue_.front();
        a.statement_index = queue_.front()->statements_done;
      }
      return a;
    case BackendMsg::ErrorResponse:
      // Also without a request: a FATAL the server sends before it goes.
      if (!queue_.empty()) {
        a.request = queue_.front();
        a.statement_index = queue_.front()->statements_done;
        a.ends_statement = true;
      }
      return a;
    default:
      break;
  }
  // Spelled out only when there is a desync to report.
  const auto named = [type] {
    const std::string_view known = pgwire::backend_message_name(type);
    return "a " + (known.empty() ? pgwire::describe_type(type) : std::string(known));
  };
  if (queue_.empty()) return desync(named());
  const std::shared_ptr<Request>& front = queue_.front();
  a.request = front;
  a.statement_index = front->statements_done;
  const Kind k = front->kind;
  auto expect = [&](std::initializer_list<Kind> kinds) -> bool {
    return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
  };
  switch (msg) {
    case BackendMsg::ParseComplete:
      if (!expect({Kind::parse}) && !(k == Kind::query && front->parse_probe)) return desync("a ParseComplete");
      return a;
    case BackendMsg::BindComplete:
      if (!expect({Kind::bind})) return desync("a BindComplete");
      return a;
    case BackendMsg::CloseComplete:
      if (!expect({Kind::close_statement, Kind::close_portal})) return desync("a CloseComplete");
      return a;
    case BackendMsg::ParameterDescription:
      if (!expect({Kind::describe_statement})) return desync("a ParameterDescription");
      return a;
    case BackendMsg::RowDescription:
    case BackendMsg::NoData:
      if (k == Kind::describe_portal) {
        a.portal = held_portal(front->name);
        if (!a.portal) {
          // The server describes a portal pgwarden never saw made (a
          // function opened it): it exists, and nothing is known of it.
          auto p = std::make_shared<Portal>();
          p->name = front->name;
          p->origin = Portal::Origin::unknown;
          p->transaction = transaction_epoch_;
          portals_[p->name] = p;
          a.portal = std::move(p);
        }
        return a;
      }
      if (k == Kind::describe_statement) return a;
      if (k == Kind::query && msg == BackendMsg::RowDescription) return a;
      return desync(msg == BackendMsg::NoData ? "a NoData" : "a RowDescription");
    case BackendMsg::DataRow:
    case BackendMsg::CopyOutResponse:
    case BackendMsg::CopyInResponse:
    case BackendMsg::CopyData:
    case BackendMsg::CopyDone:
    case BackendMsg::CommandComplete:
    case BackendMsg::EmptyQueryResponse:
      if (k == Kind::execute) {
        a.portal = held_portal(front->name);
        a.ends_statement = msg == BackendMsg::CommandComplete || msg == BackendMsg::EmptyQueryResponse;
        return a;
      }
      if (k == Kind::query) {
        a.ends_statement = msg == BackendMsg::CommandComplete || msg == BackendMsg::EmptyQueryResponse;
        return a;
      }
      return desync(named());
    case BackendMsg::PortalSuspended:
      if (!expect({Kind::execute})) return desync("a PortalSuspended");
      a.portal = held_portal(front->name);
      a.ends_statement = true;
      return a;
    case BackendMsg::FunctionCallResponse:
      if (!expect({Kind::function_call})) return desync("a FunctionCallResponse");
      return a;
    case BackendMsg::ReadyForQuery:
      if (!front->ends_cycle()) return desync("a ReadyForQuery");
      a.ends_statement = true;
      return a;
    default:
      // CopyBothResponse (replication is refused at startup), login
      // messages: nothing a relaying session expects.
      return desync(named());
  }
}

void ProtocolTracker::advance(char type, std::string_view body) {
  const auto msg = static_cast<BackendMsg>(type);
  if (msg == BackendMsg::NoticeResponse || msg == BackendMsg::NotificationResponse ||
      msg == BackendMsg::ParameterStatus) {
    return;
  }
  if (queue_.empty()) return;  // a FATAL with nothing outstanding
  Request& front = *queue_.front();
  if (!front.started) start(front);
  switch (msg) {
    case BackendMsg::ParseComplete:
      if (front.kind == Kind::query) return;  // a parse probe: ReadyForQuery follows
      if (front.defines) confirm_statement(front.defines);
      pop_front();
      return;
    case BackendMsg::BindComplete:
      for (const auto& p : front.pending_portals) {
        // The server bound what the name held when it read the Bind: every
        // answer before this one has been seen, so that is held_statement().
        p->statement = held_statement(front.statement_name);
        confirm_portal(p);
      }
      pop_front();
      return;
    case BackendMsg::CloseComplete:
      if (front.kind == Kind::close_statement) statements_.erase(front.name);
      else portals_.erase(front.name);
      pop_front();
      return;
    case BackendMsg::RowDescription:
    case BackendMsg::NoData:
      if (front.kind == Kind::describe_statement || front.kind == Kind::describe_portal) pop_front();
      return;
    case BackendMsg::CopyOutResponse:
      copy_out_ = true;
      return;
    case BackendMsg::CopyDone:
      copy_out_ = false;
      return;
    case BackendMsg::CommandComplete: {
      copy_out_ = false;
      std::string_view tag = body;
      if (const size_t nul = tag.find('\0'); nul != std::string_view::npos) tag = tag.substr(0, nul);
      apply_command(front, tag);
      if (front.kind == Kind::query) {
        ++front.statements_done;
      } else {
        pop_front();
      }
      return;
    }
    case BackendMsg::EmptyQueryResponse:
    case BackendMsg::PortalSuspended:
      if (front.kind == Kind::execute) pop_front();
      return;
    case BackendMsg::ErrorResponse:
      copy_out_ = false;
      front.failed = true;
      if (transaction_clean_) {
        transaction_clean_ = false;
        ++position_version_;
      }
      if (is_extended(front.kind)) skip_to_sync();
      return;
    case BackendMsg::ReadyForQuery: {
      const char status = body.empty() ? '?' : body[0];
      drop_pending(front);
      pop_front();
      ++cycles_answered_;
      transaction_status_ = status;
      if (status == 'I') {
        end_transaction(transaction_clean_);
        transaction_clean_ = true;
        transaction_read_masked_ = false;
      }
      ++position_version_;
      return;
    }
    default:
      return;
  }
}

// The first answer to a request: the server has started on it. What it does
// to the unnamed statement and portal happens here, success or not.
void ProtocolTracker::start(Request& r) {
  r.started = true;
  if (r.reads_masked) transaction_read_masked_ = true;
  if (r.kind == Kind::query) {
    // A simple Query drops the unnamed statement and runs each of its
    // statements in the unnamed portal, which it drops again.
    statements_.erase(std::string());
    portals_.erase(std::string());
  } else if (r.kind == Kind::parse && r.name.empty()) {
    statements_.erase(std::string());
  }
}

void ProtocolTracker::confirm_statement(const std::shared_ptr<PreparedStatement>& s) {
  erase_entry(statements_in_flight_, s);
  statements_[s->name] = s;
}

void ProtocolTracker::confirm_portal(const std::shared_ptr<Portal>& p) {
  erase_entry(portals_in_flight_, p);
  p->transaction = transaction_epoch_;
  p->made_in_cycle = cycles_answered_;
  portals_[p->name] = p;
}

void ProtocolTracker::drop_pending(Request& r) {
  if (r.defines) erase_entry(statements_in_flight_, r.defines);
  for (const auto& s : r.pending_statements) erase_entry(statements_in_flight_, s);
  for (const auto& p : r.pending_portals) erase_entry(portals_in_flight_, p);
}

void ProtocolTracker::apply_command(Request& r, std::string_view tag) {
  if (tag.starts_with("ROLLBACK")) {
    // ROLLBACK, ROLLBACK TO SAVEPOINT and a COMMIT that failed all answer
    // "ROLLBACK": what the transaction set may be undone, and a portal it
    // made may be gone (a savepoint's portals are).
    if (transaction_clean_) {
      transaction_clean_ = false;
      ++position_version_;
    }
    for (auto& [name, p] : portals_) {
      if (p->transaction == transaction_epoch_) p->uncertain = true;
    }
  }
  std::optional<TextRef> runs;
  if (r.kind == Kind::query) {
    runs = names_made_by({r.text, r.statements_done});
  } else if (r.kind == Kind::execute) {
    auto portal = held_portal(r.name);
    runs = portal ? names_made_by(*portal) : TextRef{};
  } else {
    runs = TextRef{};
  }
  if (!runs) return;  // what ran makes no name
  const TextRef source = *runs;
  if (!source.text || source.text->effects_unknown) {
    // A statement pgwarden could not follow made or dropped a name.
    if (names_tag(tag)) names_uncertain_ = true;
    return;
  }
  const auto& effects = source.text->effects;
  if (!effects || source.index >= effects->size()) {
    if (names_tag(tag)) names_uncertain_ = true;
    return;
  }
  apply_effects(r, (*effects)[source.index], source, tag);
}

void ProtocolTracker::apply_effects(Request& r, const sql::StatementFacts& f, const TextRef& source,
                                    std::string_view tag) {
  const size_t index = source.index;
  bool expected = false;
  if (!f.declares.empty()) {
    expected = true;
    if (tag == "DECLARE CURSOR") {
      for (const auto& d : f.declares) {
        std::shared_ptr<Portal> p;
        for (const auto& pending : r.pending_portals) {
          if (pending->name == d.name && pending->cursor.text == source.text && pending->cursor.index == index) {
            p = pending;
          }
        }
        if (!p) {
          // DECLARE run by a protocol Execute: the name is known only now.
          p = std::make_shared<Portal>();
          p->name = d.name;
          p->origin = Portal::Origin::declare;
          p->cursor = source;
          p->holdable = d.holdable;
          p->policy.decided = r.decided;
        }
        confirm_portal(p);
      }
    } else {
      names_uncertain_ = true;
    }
  }
  if (!f.prepares.empty()) {
    expected = true;
    if (tag == "PREPARE") {
      for (const auto& name : f.prepares) {
        std::shared_ptr<PreparedStatement> s;
        for (const auto& pending : r.pending_statements) {
          if (pending->name == name && pending->source.text == source.text && pending->source.index == index) {
            s = pending;
          }
        }
        if (!s) {
          s = std::make_shared<PreparedStatement>();
          s->name = name;
          s->source = source;
          s->from_sql_prepare = true;
          s->policy.facts = std::make_shared<const sql::StatementFacts>(f);
          s->policy.decided = r.decided;
        }
        confirm_statement(s);
      }
    } else {
      names_uncertain_ = true;
    }
  }
  if (f.deallocate_all || !f.deallocates.empty() || f.close_all || !f.closes.empty()) {
    expected = true;
    // DEALLOCATE ALL drops the named statements only: the unnamed one is
    // kept apart from them (postgres.c's unnamed_stmt_psrc).
    const auto drop_named_statements = [this] {
      std::erase_if(statements_, [](const auto& entry) { return !entry.first.empty(); });
    };
    if (tag == "DISCARD ALL") {
      drop_named_statements();
      portals_.clear();
    } else if (tag == "DEALLOCATE ALL" && f.deallocate_all) {
      drop_named_statements();
    } else if (tag == "DEALLOCATE" && !f.deallocates.empty()) {
      for (const auto& name : f.deallocates) statements_.erase(name);
    } else if (tag == "CLOSE CURSOR ALL" && f.close_all) {
      portals_.clear();
    } else if (tag == "CLOSE CURSOR" && !f.closes.empty()) {
      for (const auto& name : f.closes) portals_.erase(name);
    } else {
      names_uncertain_ = true;
    }
  }
  if (!expected && names_tag(tag)) names_uncertain_ = true;
}

// An idle ReadyForQuery: the transaction is over. Its portals end with it;
// a WITH HOLD cursor outlives a committed transaction only.
void ProtocolTracker::end_transaction(bool committed) {
  std::erase_if(portals_, [&](const auto& entry) {
    Portal& p = *entry.second;
    if (!p.holdable) return true;
    if (p.transaction != transaction_epoch_ || committed) return false;
    // A WITH HOLD cursor of a transaction that did not commit is gone,
    // unless it was made in the cycle ending now, after a ROLLBACK of the
    // same query string ended the failed transaction, in one that did
    // commit ("ROLLBACK; DECLARE c CURSOR WITH HOLD ..."): it may be there.
    if (p.made_in_cycle + 1 == cycles_answered_) {
      p.uncertain = true;
      return false;
    }
    return true;
  });
  ++transaction_epoch_;
}

void ProtocolTracker::pop_front() {
  queue_.front()->answered = true;
  drop_pending(*queue_.front());
  queue_.pop_front();
}

// After an error in an extended-protocol message the server discards every
// message until Sync: the requests in between get no answer at all.
// Also what the client sends later, until its next Sync (see commit()).
void ProtocolTracker::skip_to_sync() {
  pop_front();
  while (!queue_.empty() && queue_.front()->kind != Kind::sync) {
    // A skipped Query or FunctionCall gets no ReadyForQuery: its cycle is
    // over without one.
    if (queue_.front()->ends_cycle()) {
      ++cycles_answered_;
      ++position_version_;
    }
    pop_front();
  }
  if (queue_.empty()) skipping_ = true;
}

// ---- reading --------------------------------------------------------------

std::vector<std::shared_ptr<PreparedStatement>> ProtocolTracker::statement_candidates(std::string_view name) const {
  std::vector<std::shared_ptr<PreparedStatement>> out;
  if (auto held = held_statement(name)) out.push_back(std::move(held));
  for (const auto& s : statements_in_flight_) {
    if (s->name == name) out.push_back(s);
  }
  return out;
}

std::vector<std::shared_ptr<Portal>> ProtocolTracker::portal_candidates(std::string_view name) const {
  std::vector<std::shared_ptr<Portal>> out;
  if (auto held = held_portal(name)) out.push_back(std::move(held));
  for (const auto& p : portals_in_flight_) {
    if (p->name == name) out.push_back(p);
  }
  return out;
}

std::shared_ptr<PreparedStatement> ProtocolTracker::held_statement(std::string_view name) const {
  auto it = statements_.find(std::string(name));
  return it == statements_.end() ? nullptr : it->second;
}

std::shared_ptr<Portal> ProtocolTracker::held_portal(std::string_view name) const {
  auto it = portals_.find(std::string(name));
  return it == portals_.end() ? nullptr : it->second;
}

policy::FactsList ProtocolTracker::prepared(std::string_view name) const {
  policy::FactsList out;
  for (const auto& s : statement_candidates(name)) {
    if (s->policy.facts) out.push_back(s->policy.facts);
  }
  return out;
}

policy::FactsList ProtocolTracker::cursor(std::string_view name) const {
  policy::FactsList out;
  for (const auto& p : portal_candidates(name)) {
    if (p->origin == Portal::Origin::bind) {
      if (p->statement) {
        if (p->statement->policy.facts) out.push_back(p->statement->policy.facts);
      } else {
        // Bound in flight: whatever the statement name may be.
        for (const auto& f : prepared(p->statement_name)) out.push_back(f);
      }
      continue;
    }
    const TextRef src = p->source();
    if (src.text && src.text->effects && src.index < src.text->effects->size()) {
      out.push_back(std::make_shared<const sql::StatementFacts>((*src.text->effects)[src.index]));
    }
  }
  return out;
}

}  // namespace pgw::relay
