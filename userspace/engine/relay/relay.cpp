#include "engine/relay/relay.h"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "common/instance_name.h"
#include "engine/relay/denial_markers.h"
#include "pgwire/empty_message.h"
#include "pgwire/frame.h"
#include "pgwire/message_types.h"

namespace pgw::relay {

namespace {

using pgwire::BackendMsg;
using pgwire::FrontendMsg;
using Kind = Request::Kind;

// Decodes a client message the server answers; the request kind it makes.
struct Decoded {
  Result<ClientMessage> message = Error{""};
  Kind kind = Kind::query;
};

Decoded decode(char type, std::string_view body) {
  Decoded d;
  auto take = [&](auto r, Kind kind) {
    d.kind = kind;
    if (r) d.message = ClientMessage(*r);
    else d.message = Error{"malformed " + std::string(pgwire::frontend_message_name(type)) + " message: " + r.error()};
  };
  switch (static_cast<FrontendMsg>(type)) {
    case FrontendMsg::Query: take(pgwire::Query::decode(body), Kind::query); break;
    case FrontendMsg::Parse: take(pgwire::Parse::decode(body), Kind::parse); break;
    case FrontendMsg::Bind: take(pgwire::Bind::decode(body), Kind::bind); break;
    case FrontendMsg::Execute: take(pgwire::Execute::decode(body), Kind::execute); break;
    case FrontendMsg::FunctionCall: take(pgwire::FunctionCall::decode(body), Kind::function_call); break;
    case FrontendMsg::Describe: {
      auto r = pgwire::Describe::decode(body);
      take(r, r && r->target == pgwire::kTargetPortal ? Kind::describe_portal : Kind::describe_statement);
      break;
    }
    case FrontendMsg::Close: {
      auto r = pgwire::Close::decode(body);
      take(r, r && r->target == pgwire::kTargetPortal ? Kind::close_portal : Kind::close_statement);
      break;
    }
    default:
      d.message = Error{"unexpected message"};
      break;
  }
  return d;
}

// The names and text the tracker keeps of a request.
void describe_request(Request& r, const ClientMessage& m) {
  if (auto* q = std::get_if<pgwire::Query>(&m)) {
    auto text = std::make_shared<SqlText>();
    text->sql = std::string(q->query);
    r.text = std::move(text);
  } else if (auto* p = std::get_if<pgwire::Parse>(&m)) {
    r.name = std::string(p->statement);
    auto text = std::make_shared<SqlText>();
    text->sql = std::string(p->query);
    r.text = text;
    r.defines = std::make_shared<PreparedStatement>();
    r.defines->name = r.name;
    r.defines->source = {text, 0};
    for (size_t i = 0; i < p->parameter_types.size(); ++i) r.defines->parameter_types.push_back(p->parameter_types[i]);
  } else if (auto* b = std::get_if<pgwire::Bind>(&m)) {
    r.name = std::string(b->portal);
    r.statement_name = std::string(b->statement);
    auto portal = std::make_shared<Portal>();
    portal->name = r.name;
    portal->origin = Portal::Origin::bind;
    portal->statement_name = r.statement_name;
    r.pending_portals.push_back(std::move(portal));
  } else if (auto* d = std::get_if<pgwire::Describe>(&m)) {
    r.name = std::string(d->name);
  } else if (auto* e = std::get_if<pgwire::Execute>(&m)) {
    r.name = std::string(e->portal);
  } else if (auto* c = std::get_if<pgwire::Close>(&m)) {
    r.name = std::string(c->name);
  }
}

// SHA-256 of the message as the client sent it (its text and, for a Bind,
// its parameters): an approval is for this statement and no other.
std::string statement_hash(std::string_view whole) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(whole.data()), whole.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(sizeof digest * 2);
  for (unsigned char b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

}  // namespace

bool Relay::wants_client(char type) {
  switch (static_cast<FrontendMsg>(type)) {
    case FrontendMsg::Query:
    case FrontendMsg::Parse:
    case FrontendMsg::Bind:
    case FrontendMsg::Describe:
    case FrontendMsg::Execute:
    case FrontendMsg::Close:
    case FrontendMsg::FunctionCall:
      return true;
    default:
      return false;
  }
}

void Relay::on_client_header(char type) {
  if (static_cast<FrontendMsg>(type) != FrontendMsg::Sync) return;
  // Sync has no body; its request is all there is to it. (Flush, Terminate
  // and COPY data get no answer of their own.)
  auto r = tracker_.begin(Kind::sync);
  ClientMessage sync{std::monostate{}};
  for (auto& f : filters_) f->on_request(*r, sync);
  tracker_.commit(std::move(r));
}

Relay::Outcome Relay::on_client_message(char type, std::string_view whole, std::string& out) {
  Decoded decoded = decode(type, whole.substr(pgwire::kHeaderSize));
  std::shared_ptr<Request> r = tracker_.begin(decoded.kind);
  r->approved = releasing_approved_;
  Verdict verdict;
  if (!decoded.message) {
    // A message pgwarden cannot read is one it cannot check.
    verdict = Verdict::deny("pgwarden: " + decoded.message.error(), "08P01");
  } else {
    describe_request(*r, *decoded.message);
    for (auto& f : filters_) {
      Verdict v = f->on_request(*r, *decoded.message);
      if (v.describe_first) verdict.describe_first = true;
      if (v.confirm_settings) verdict.confirm_settings = true;
      if (v.stops()) {
        verdict = std::move(v);
        break;
      }
    }
    if (r->text) r->text->parse.reset();
  }
  if (verdict.held()) {
    // Nothing of it reaches the server, and the request is not queued: the
    // tracker learns of it only when people have decided.
    verdict.ask.statement_hash = statement_hash(whole);
    held_ = Held{type, std::string(whole), std::move(verdict.ask)};
    spdlog::info("session {}: held for approval: {}", session_name(session_id_), held_->ask.message);
    return Outcome::hold;
  }
  if (verdict.denied()) {
    if (decoded.kind == Kind::describe_statement || decoded.kind == Kind::describe_portal ||
        decoded.kind == Kind::close_statement || decoded.kind == Kind::close_portal) {
      // Nothing to run: only a malformed one gets here, and the server would
      // refuse it the same way.
      tracker_.commit(std::move(r));
      return Outcome::forward;
    }
    spdlog::info("session {}: denied: {}", session_name(session_id_), verdict.message);
    const std::string original_name = r->name;
    out = marker_for(*r, original_name, std::move(verdict));
    tracker_.commit(std::move(r));
    return Outcome::replace;
  }
  if (!verdict.describe_first && !verdict.confirm_settings) {
    tracker_.commit(std::move(r));
    return Outcome::forward;
  }
  if (verdict.describe_first) {
    // Before the first row the masker must know the row shape: ask for it,
    // and keep the answer from the client, who did not ask.
    auto describe = tracker_.begin(Kind::describe_portal);
    describe->name = r->name;
    describe->injected = true;
    for (auto& f : filters_) f->on_request(*describe, ClientMessage(pgwire::Describe{pgwire::kTargetPortal, r->name}));
    pgwire::encode(pgwire::Describe{pgwire::kTargetPortal, describe->name}, out);
    tracker_.commit(std::move(describe));
  }
  out.append(whole);
  const uint64_t cycle = tracker_.cycles_sent();
  const bool extended = r->kind == Kind::execute;
  tracker_.commit(std::move(r));
  if (verdict.confirm_settings) ask_settings(cycle, extended, out);
  return Outcome::replace;
}

Relay::Outcome Relay::release_held(std::optional<Verdict> refusal, std::string& out) {
  if (!held_) return Outcome::drop;
  Held held = std::move(*held_);
  held_.reset();
  if (!refusal) {
    releasing_approved_ = true;
    const Outcome o = on_client_message(held.type, held.whole, out);
    releasing_approved_ = false;
    if (o == Outcome::forward) out.append(held.whole);
    return o == Outcome::forward ? Outcome::replace : o;
  }
  // Refused where it stands in the stream: the server answers a marker
  // with an error, which becomes the refusal (denial_markers.h).
  // A view into `held`, which outlives `decoded`: the decoded message's
  // fields point into these bytes.
  Decoded decoded = decode(held.type, std::string_view(held.whole).substr(pgwire::kHeaderSize));
  std::shared_ptr<Request> r = tracker_.begin(decoded.kind);
  if (decoded.message) describe_request(*r, *decoded.message);
  spdlog::info("session {}: refused after approval: {}", session_name(session_id_), refusal->message);
  const std::string original_name = r->name;
  out.append(marker_for(*r, original_name, std::move(*refusal)));
  tracker_.commit(std::move(r));
  return Outcome::replace;
}

// The question goes to the server right behind the statement; the engine
// holds the client's next messages until it is answered.
void Relay::ask_settings(uint64_t cycle, bool extended, std::string& out) {
  for (ProbeMessage& m : settings_probe_messages(extended)) {
    out.append(m.bytes);
    if (!m.kind) continue;
    auto q = tracker_.begin(*m.kind);
    q->name = std::move(m.name);
    if (*m.kind == Kind::bind) q->statement_name = q->name;
    q->injected = true;
    q->settings_probe = true;
    q->settings_cycle = cycle;
    probe_last_ = q;
    tracker_.commit(std::move(q));
  }
  // The server is skipping to the client's Sync (an earlier message failed):
  // the statement does not run, the question gets no answer, nothing waits.
  release_if_answered();
}

void Relay::release_if_answered() {
  if (probe_last_ && probe_last_->answered) probe_last_.reset();
}

// Every server message moves the tracker, and may end (or skip) the
// settings question the client's messages wait behind.
void Relay::advance(char type, std::string_view body) {
  tracker_.advance(type, body);
  release_if_answered();
}

std::string Relay::marker_for(Request& r, std::string_view original_name, Verdict v) {
  Denial d;
  d.token = new_denial_token();
  d.message = std::move(v.message);
  d.sqlstate = std::move(v.sqlstate);
  d.detail = std::move(v.detail);
  d.position = v.position;
  d.if_server_reads_message = std::move(v.if_server_reads_message);
  d.if_server_reads_detail = std::move(v.if_server_reads_detail);
  std::string marker;
  if (r.kind == Kind::query && v.server_checks_syntax && r.text && !tracker_.extended_batch_open()) {
    // The server parses the text without running it and, when it cannot
    // either, says why in its own words.
    marker = parse_probe(r.text->sql);
    r.parse_probe = true;
  }
  switch (marker.empty() ? r.kind : Kind::sync) {
    case Kind::sync: break;  // the probe above
    case Kind::parse: marker = marker_parse(original_name, d.token); break;
    case Kind::bind: marker = marker_bind(d.token); break;
    case Kind::execute: marker = marker_execute(d.token); break;
    default: marker = marker_query(d.token); break;  // Query, FunctionCall
  }
  // Nothing of a refused message takes effect: no name it would define.
  r.defines.reset();
  r.pending_statements.clear();
  r.pending_portals.clear();
  if (r.kind == Kind::query && r.text) r.text->effects.reset();
  r.denial = std::move(d);
  return marker;
}

bool Relay::wants_server(char type) {
  auto answer = tracker_.answer(type);
  pending_wanted_ = false;
  if (!answer) {
    // A desync: on_server_message() ends the session with it.
    pending_answer_ = Answer{};
    failure_ = answer.error();
    return true;
  }
  pending_answer_ = std::move(*answer);
  const auto msg = static_cast<BackendMsg>(type);
  bool wanted = ProtocolTracker::needs_body(type);
  if (msg == BackendMsg::ErrorResponse && pending_answer_.request && pending_answer_.request->denial) wanted = true;
  if (msg == BackendMsg::ParseComplete && pending_answer_.request && pending_answer_.request->parse_probe) wanted = true;
  if ((msg == BackendMsg::RowDescription || msg == BackendMsg::NoData || msg == BackendMsg::ParameterDescription) &&
      pending_answer_.request && pending_answer_.request->injected) {
    wanted = true;  // the answer to pgwarden's own Describe is not forwarded
  }
  if (pending_answer_.request && pending_answer_.request->settings_probe) wanted = true;  // never forwarded
  for (const auto& f : filters_) wanted = f->wants(type, pending_answer_) || wanted;
  pending_wanted_ = true;
  return wanted;
}

Relay::Outcome Relay::on_server_header(char type) {
  if (!failure_.empty()) return Outcome::fail;
  advance(type, {});
  return Outcome::forward;
}

Relay::Outcome Relay::on_server_message(char type, std::string_view whole, std::string& out) {
  if (!failure_.empty()) return Outcome::fail;
  const Answer& answer = pending_answer_;
  const std::string_view body = whole.substr(pgwire::kHeaderSize);
  const auto msg = static_cast<BackendMsg>(type);
  Outcome outcome = Outcome::forward;
  if (answer.request && answer.request->parse_probe) {
    // The server parsed (and never ran) a text pgwarden's parser refused:
    // its own error reaches the client as it is; if it could read the
    // text, pgwarden refuses what it cannot judge.
    if (msg == BackendMsg::ParseComplete || (msg == BackendMsg::ErrorResponse && !server_refused_text(body))) {
      out.append(denial_reply(server_read_it(*answer.request->denial)));
      advance(type, body);
      return Outcome::replace;
    }
  } else if (msg == BackendMsg::ErrorResponse && answer.request && answer.request->denial) {
    if (auto replaced = denial_error(*answer.request->denial, body)) {
      // pgwarden's own denial: nothing of the server's text is in it.
      out.append(*replaced);
      advance(type, body);
      return Outcome::replace;
    }
  }
  if (answer.request && answer.request->injected &&
      (msg != BackendMsg::ErrorResponse || answer.request->settings_probe)) {
    outcome = Outcome::drop;
  }
  // Every interested filter sees the server's message as it came (the policy
  // side must read a ParameterStatus the masker rewrites); the first one
  // that rewrites or drops it decides what the client gets. The filters
  // nearest the server go first. The answer to pgwarden's own Describe is
  // dropped, but the filters still learn the row shape from it.
  for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) {
    RelayFilter& f = **it;
    if (!f.wants(type, answer)) continue;
    scratch_.clear();
    const RelayFilter::Outcome o = f.on_answer(type, whole, answer, scratch_);
    if (o == RelayFilter::Outcome::fail) {
      failure_sqlstate_ = std::string(f.failure_sqlstate());
      return fail(f.failure());
    }
    if (outcome != Outcome::forward) continue;
    if (o == RelayFilter::Outcome::drop) {
      outcome = Outcome::drop;
    } else if (o == RelayFilter::Outcome::replace) {
      out.append(scratch_);
      outcome = Outcome::replace;
    }
  }
  advance(type, body);
  return outcome;
}

Relay::Outcome Relay::fail(std::string why) {
  failure_ = std::move(why);
  return Outcome::fail;
}

}  // namespace pgw::relay
