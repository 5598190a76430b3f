// The policy decision for one SQL string: allow, deny, or hold for approval.
// Pure logic over the facts userspace/sql found, the session's state and the
// upstream's catalog snapshot; no I/O, safe on a loop thread.
//
//   auto d = decide_sql(*policy, text, session.sql_state, catalog.get());
//   if (d.action == Action::allow) { forward(text); session.sql_state.apply(d); }
//   else reply_error(d.sqlstate, d.message, d.detail, d.position);
//
// The rules (README.md in this folder has the reasoning):
//   - A statement takes every class found anywhere in it. Each class is
//     looked up in the policy: deny beats approve beats allow, and a class in
//     no list is denied (default deny inside a policy). create / alter / drop
//     not named in any list take the verdict of ddl. `unknown` is denied
//     unless a policy allows it by name.
//   - Functions: `function:NAME` in deny / approve / allow (NAME or
//     SCHEMA.NAME; an unqualified entry matches every schema). The built-in
//     deny-list (sql/function_denylist.h) denies unless an allow entry names
//     the function. COPY ... PROGRAM and COPY to or from a server file are on
//     the built-in list as the pseudo-functions copy_program and copy_file.
//   - Tables: `tables:` globs on schema.table of every relation a statement
//     names, resolved through the session's search_path(s) and the catalog
//     (catalog.h: every relation a name COULD mean); a view also stands for
//     the relations it reads. deny / approve match any of them; when `allow`
//     is not empty, the relation a name resolves to now (or, when nothing
//     holds it yet, every one it could be) must match one of its globs.
//   - A multi-statement string is denied when any part is denied and held
//     when any part needs approval; statements after a SET are decided with
//     that SET in effect, as the server runs them.
//   - Unparseable SQL is denied with the parser's own error, unless the
//     policy says `unparseable: forward`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog.h"
#include "policy/config.h"
#include "policy/session_sql_state.h"
#include "sql/analyze.h"

namespace pgw::policy {

// Ordered by severity: the worst part of a string decides it.
enum class Action : std::uint8_t { allow, approve, deny };
std::string_view to_string(Action a);  // "allow", "approve", "deny"

// One relation a statement may touch, after resolution.
struct ResolvedRelation {
  std::string written;  // as the statement names it: "salaries", "hr.salaries"
  std::string schema;   // "*" when the search_path is unknown
  std::string name;
  std::uint8_t usage = 0;    // sql::Usage bits
  bool exists = false;       // in the catalog snapshot
  std::string kind;          // "table", "view", ... ("" when it does not exist)
  std::string via_view;      // "public.payroll" when this is a base relation of that view
  bool via_rule = false;     // ... of a table's rule (CREATE RULE), not of a view
  std::string qualified() const { return schema + "." + name; }
};

struct StatementDecision {
  Action action = Action::allow;
  // The facts decided on: for EXECUTE, with the prepared statement's facts
  // merged in (what SessionSqlState::apply() needs).
  sql::StatementFacts facts;
  std::vector<ResolvedRelation> relations;
  std::string rule;    // the rule that decided: "allow: select", "deny: delete", "tables.deny: hr.*", ...
  std::string verb;    // for the message: a class name, or "execute" for a function
  std::string object;  // "public.customers", "function pg_read_file", "role \"postgres\"", ...
  std::string reason;  // one sentence on why, for the ErrorResponse detail
};

struct Decision {
  Action action = Action::allow;
  std::vector<StatementDecision> statements;
  int deciding_statement = -1;  // index of the statement that decided a deny / approve, else -1
  std::string rule;             // that statement's rule (or the parse error rule)

  // What the client receives when the action is not allow.
  std::string sqlstate;  // "42501"; "42601" for a syntax error (as the server says it)
  std::string message;   // "pgwarden: delete on public.customers denied by policy for agent"
  std::string detail;    // the rule, and for a multi-statement string, which part
  int position = 0;      // 1-based character position (syntax errors), else 0

  // unparseable: forward let an unparseable string through: no facts, so
  // nothing to apply() and nothing to cache.
  bool forwarded_unparsed = false;
  // Denied because pgwarden's parser refuses it (42601): the engine may let
  // the server's own parser say why (with its detail and hint), as long as
  // nothing of it can run.
  bool syntax_error = false;
  // False when the decision depends on something outside the text and the
  // state key (EXECUTE of a prepared statement): never cache it.
  bool cacheable = true;
  // True when forwarding it changes the session (settings, PREPARE,
  // DEALLOCATE, DECLARE, CLOSE, and EXECUTE, which runs one of those):
  // call SessionSqlState::apply() after forwarding.
  bool changes_session = false;
  // True when the last statement may change settings its text does not
  // show, under a policy for which that matters (settings_confirmation.h):
  // the engine asks the server what they are before anything else runs.
  bool confirm_settings = false;
  // True when it changes what the catalog holds (DDL, GRANT): once it has
  // run, the engine should load a fresh snapshot for the upstream.
  bool changes_catalog = false;
  // What the tables rules could rely on, for `policy explain`.
  bool had_catalog = false;
};

// The decision on an analysis the caller made. The caller must have parsed
// with the session's standard_conforming_strings (decide_sql() does).
Decision decide(const Policy& policy, const sql::Analysis& analysis, const SessionSqlState& state,
                const Catalog* catalog);

// Analyzes `text` as the session's server would parse it and decides: both
// standard_conforming_strings modes when the session may be in either (the
// two readings must give the same facts, or the text is refused), and a
// refusal of non-ASCII text when the client encoding may not be UTF8
// (multibyte encodings can hide a quote).
Decision decide_sql(const Policy& policy, std::string_view text, const SessionSqlState& state,
                    const Catalog* catalog, const sql::AnalyzeOptions& options = {});

// The same on a parse the caller made, to share it with the lineage tracer:
//
//   auto parsed = sql::ParsedSql::parse(text, policy::parse_options_for(state));
//   Decision d = policy::decide_sql(policy, parsed, state, catalog);
//   ... sql::trace_lineage(parsed, model.oracle()) ...
//
// The parse must be in the mode parse_options_for(state) gives (standard
// when the session may be in either); one in a mode the session cannot be
// in is parsed again, as it must be. When both modes are possible the
// other reading is parsed here (a second parse, as decide_sql(text) does).
sql::ParseOptions parse_options_for(const SessionSqlState& state, const sql::AnalyzeOptions& options = {});
Decision decide_sql(const Policy& policy, const sql::ParsedSql& parsed, const SessionSqlState& state,
                    const Catalog* catalog, const sql::AnalyzeOptions& options = {});

// The facts of one statement already known (a protocol-level prepared
// statement at Bind, re-decided when the session state changed since Parse).
Decision decide_facts(const Policy& policy, const sql::StatementFacts& facts, const SessionSqlState& state,
                      const Catalog* catalog);

// A FunctionCall message names a function by OID, with no SQL: allowed only
// when an allow entry names the function (found through the catalog), held
// when an approve entry does, denied otherwise and when the OID is unknown.
Decision decide_function_call(const Policy& policy, Oid function, const Catalog* catalog);

// The refusal of a text pgwarden's parser cannot read (unparseable: deny),
// with the parser's own complaint in the detail.
struct UnparseableDenial {
  std::string message;
  std::string detail;
};
UnparseableDenial unparseable_denial(std::string_view identity, std::string_view parser_error);

}  // namespace pgw::policy
