#include "policy/decision.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "policy/decision_rules.h"
#include "policy/settings_confirmation.h"
#include "policy/statistics_views.h"

namespace pgw::policy {
namespace {

using SC = sql::StatementClass;

// One reason a statement cannot simply run. The worst action wins; among
// findings of that action the lowest rank is reported (the most specific
// rule), then the first found.
struct Finding {
  Action action = Action::allow;
  int rank = 0;
  std::string rule, verb, object, reason;
};

// Ranks, most specific first.
constexpr int kRankUnknown = 0;
constexpr int kRankNamedClass = 1;
constexpr int kRankNamedFunction = 2;
constexpr int kRankTable = 3;
constexpr int kRankBuiltinFunction = 4;
constexpr int kRankDefaultDeny = 5;
constexpr int kRankTableAllow = 6;

// Relations one statement may resolve to (names x search_path schemas x
// views' bases). Past this a statement is refused rather than keep a loop
// thread busy for seconds; real statements are orders of magnitude below.
constexpr std::size_t kMaxResolvedRelations = 100'000;

Action to_action(ListMatch m) {
  switch (m) {
    case ListMatch::deny: return Action::deny;
    case ListMatch::approve: return Action::approve;
    default: return Action::allow;
  }
}

std::string_view list_name(ListMatch m) {
  switch (m) {
    case ListMatch::deny: return "deny";
    case ListMatch::approve: return "approve";
    case ListMatch::allow: return "allow";
    case ListMatch::none: break;
  }
  return "none";
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// ---- describing what a statement touches -------------------------------------------

// The usage bits that show a class acting on a relation.
std::uint8_t usage_of_class(SC c) {
  switch (c) {
    case SC::insert: case SC::update: case SC::delete_: case SC::merge: case SC::copy_from: return sql::kWrite;
    case SC::copy_to: return sql::kCopy | sql::kRead;
    case SC::truncate: return sql::kTruncate;
    case SC::ddl: case SC::create: case SC::alter: case SC::drop: case SC::grant: return sql::kDdl;
    case SC::lock: return sql::kLock;
    case SC::select: return sql::kRead;
    case SC::admin: return sql::kAdmin;
    default: return 0;
  }
}

// The verb for a relation used with these bits in a statement of these classes.
std::string verb_for_usage(std::uint8_t usage, sql::ClassSet classes) {
  auto first_of = [&](std::initializer_list<SC> options, std::string_view fallback) {
    for (auto c : options)
      if (classes.has(c)) return std::string(sql::to_string(c));
    return std::string(fallback);
  };
  if (usage & sql::kTruncate) return "truncate";
  if (usage & sql::kDdl) return first_of({SC::drop, SC::alter, SC::create, SC::grant, SC::ddl}, "ddl");
  if (usage & sql::kWrite)
    return first_of({SC::delete_, SC::update, SC::insert, SC::merge, SC::copy_from, SC::admin}, "write");
  if (usage & sql::kAdmin) return "admin";
  if (usage & sql::kLock) return "lock";
  if (usage & sql::kCopy) return "copy_to";
  return "select";
}

// A SchemaRef for the message: "*" is every schema (database_to_xml).
std::string schema_display(std::string_view name) {
  return name == "*" ? std::string("every schema") : "schema " + std::string(name);
}

std::string display(const ResolvedRelation& r) {
  if (!r.via_view.empty()) return r.via_view + (r.via_rule ? " (its rules use " : " (reads ") + r.qualified() + ")";
  if (r.schema == "*") return r.written + " (search_path unknown)";
  if (r.written == r.qualified() || r.exists) return r.qualified();
  return r.written + " (could be " + r.qualified() + ")";
}

// The object a class acts on, for the message.
std::string object_for_class(SC c, const sql::StatementFacts& f, const std::vector<ResolvedRelation>& rels) {
  if (const std::uint8_t want = usage_of_class(c)) {
    for (const auto& r : rels)
      if (r.via_view.empty() && (r.usage & want) && (r.exists || r.written == r.qualified())) return display(r);
    for (const auto& r : rels)
      if (r.via_view.empty() && (r.usage & want)) return r.written;
    if ((want & (sql::kDdl | sql::kRead)) && !f.schemas.empty()) return schema_display(f.schemas[0].name);
  }
  switch (c) {
    case SC::role:
      for (const auto& s : f.settings)
        if (s.name == "role" || s.name == "session_authorization") {
          if (s.action == sql::SettingAction::set && s.value_known && s.values.size() == 1)
            return s.name == "role" ? "role " + quoted(s.values[0]) : "session authorization " + quoted(s.values[0]);
          return s.name == "role" ? "role" : "session authorization";
        }
      return "role";
    case SC::set:
      for (const auto& s : f.settings)
        if (!s.name.empty()) return "setting " + s.name;
      return "settings";
    case SC::procedural:
      if (!f.functions.empty()) return "procedure " + f.functions[0].qualified();
      return "DO block";
    case SC::prepare:
      if (!f.prepares.empty()) return "prepared statement " + quoted(f.prepares[0]);
      break;
    case SC::execute:
      if (!f.executes.empty()) return "prepared statement " + quoted(f.executes[0]);
      break;
    case SC::deallocate:
      if (!f.deallocates.empty()) return "prepared statement " + quoted(f.deallocates[0]);
      return "prepared statements";
    case SC::listen:
      if (!f.listens.empty()) return "channel " + quoted(f.listens[0]);
      return "channels";
    case SC::notify:
      if (!f.notifies.empty()) return "channel " + quoted(f.notifies[0]);
      return "channel";
    case SC::transaction: return "transaction";
    case SC::admin: return "server";
    // Classes a function call takes, when it names no relation the text shows.
    case SC::lock:
      for (const auto& fn : f.functions)
        if (fn.name.find("advisory") != std::string::npos) return "advisory lock";
      break;
    case SC::update:
      for (const auto& fn : f.functions)
        if (fn.name == "nextval" || fn.name == "setval") return "sequence";
      break;
    case SC::copy_to:
    case SC::copy_from:
      if (f.has_flag(sql::kCopyProgram)) return "program";
      if (f.has_flag(sql::kCopyFile)) return "server file";
      break;
    default: break;
  }
  for (const auto& r : rels)
    if (r.via_view.empty()) return display(r);
  return "statement";
}

std::string why_unknown(const sql::StatementFacts& f) {
  if (f.has_flag(sql::kDoBodyUnknown)) return "the body of this DO block could not be analyzed";
  if (f.has_flag(sql::kDynamicSql))
    return "it runs SQL held in a string pgwarden cannot read: built at run time (EXECUTE of a computed "
           "string, query_to_xml(x), dblink(c, x)) or not valid SQL";
  if (f.has_flag(sql::kUnknownSetting)) return "set_config() with a computed setting name can change anything";
  if (f.has_flag(sql::kUnsupportedNode)) return "it contains a construct pgwarden does not know";
  return "pgwarden could not tell what this statement does";
}

std::string unknown_object(const sql::StatementFacts& f) {
  if (f.has_flag(sql::kDynamicSql)) return "dynamic SQL";
  if (f.has_flag(sql::kDoBodyUnknown)) return "DO block";
  if (f.has_flag(sql::kUnknownSetting)) return "set_config";
  return "statement";
}

// ---- one statement -------------------------------------------------------------------

class StatementJudge {
 public:
  StatementJudge(const Policy& policy, const SessionSqlState& state, const Catalog* catalog)
      : policy_(policy), state_(state), catalog_(catalog) {}

  StatementDecision judge(sql::StatementFacts facts, bool* depends_on_prepared) {
    StatementDecision out;
    std::vector<std::string> unknown_prepared;
    if (!facts.executes.empty()) {
      *depends_on_prepared = true;
      const auto names = facts.executes;
      for (const auto& name : names) {
        // Every statement the name may stand for: the stricter one decides.
        const FactsList candidates = state_.prepared(name);
        if (candidates.empty()) unknown_prepared.push_back(name);
        for (const auto& prepared : candidates) sql::add_prepared_facts(facts, *prepared);
      }
    }
    if (!facts.fetches.empty()) {
      // FETCH runs what DECLARE planned: decided again under the policy in
      // force now (a reload may have denied it since). A cursor pgwarden did
      // not see declared was opened by a function, whose call was decided.
      *depends_on_prepared = true;
      const auto names = facts.fetches;
      for (const auto& name : names) {
        for (const auto& declared : state_.cursor(name)) sql::add_prepared_facts(facts, *declared);
      }
    }
    out.facts = std::move(facts);
    const sql::StatementFacts& f = out.facts;
    out.relations = resolve_relations(f);

    if (too_many_relations_)
      add({Action::deny, kRankUnknown, "too many relations",
           f.classes.empty() ? std::string("statement") : std::string(sql::to_string(f.classes.list().front())),
           "more than " + std::to_string(kMaxResolvedRelations) + " relations",
           "the statement may touch more relations than pgwarden checks in one decision"});
    for (const auto& name : unknown_prepared)
      add({Action::deny, kRankUnknown, "unknown prepared statement", "execute",
           "prepared statement " + quoted(name), "pgwarden did not see " + quoted(name) + " prepared in this session"});
    check_classes(f, out.relations);
    check_functions(f);
    check_tables(f, out.relations);
    check_planner_settings(f);

    Finding decided;
    decided.rule = "allow: " + f.classes.to_string();
    for (const auto& x : findings_) {
      if (x.action > decided.action || (x.action == decided.action && x.action != Action::allow && x.rank < decided.rank))
        decided = x;
    }
    out.action = decided.action;
    out.rule = std::move(decided.rule);
    out.verb = std::move(decided.verb);
    out.object = std::move(decided.object);
    out.reason = std::move(decided.reason);
    return out;
  }

 private:
  void add(Finding f) {
    if (f.action != Action::allow) findings_.push_back(std::move(f));
  }

  void check_classes(const sql::StatementFacts& f, const std::vector<ResolvedRelation>& rels) {
    if (f.classes.empty()) {
      add({Action::deny, kRankUnknown, "unknown statement", "unknown", unknown_object(f), why_unknown(f)});
      return;
    }
    // A node the walker does not know is as unknown as an unknown statement.
    if (f.has_flag(sql::kUnsupportedNode) && !f.has(SC::unknown)) {
      const ListMatch m = class_list(policy_, StatementClass::unknown);
      if (m != ListMatch::allow) add(unknown_finding(f, m));
    }
    const bool fine_ddl = f.has(SC::create) || f.has(SC::alter) || f.has(SC::drop);
    const ListMatch ddl_list = class_list(policy_, StatementClass::ddl);
    for (SC c : f.classes.list()) {
      if (c == SC::ddl && fine_ddl) continue;  // create / alter / drop decide instead
      const StatementClass pc = policy_class(c);
      ListMatch m = class_list(policy_, pc);
      std::string rule_class(sql::to_string(c));
      if (m == ListMatch::none && (c == SC::create || c == SC::alter || c == SC::drop) &&
          ddl_list != ListMatch::none) {
        m = ddl_list;  // a finer DDL class not named anywhere takes ddl's verdict
        rule_class = "ddl";
      }
      const std::string verb(sql::to_string(c));
      if (c == SC::unknown) {
        if (m != ListMatch::allow) add(unknown_finding(f, m));
        continue;
      }
      if (m == ListMatch::none) {
        add({Action::deny, kRankDefaultDeny, "not allowed: " + verb, verb, object_for_class(c, f, rels),
             "the policy does not allow " + verb});
        continue;
      }
      if (m == ListMatch::allow) continue;
      add({to_action(m), kRankNamedClass, std::string(list_name(m)) + ": " + rule_class, verb,
           object_for_class(c, f, rels), "the policy lists " + rule_class + " under " + std::string(list_name(m))});
    }
  }

  static Finding unknown_finding(const sql::StatementFacts& f, ListMatch m) {
    return {m == ListMatch::approve ? Action::approve : Action::deny, kRankUnknown,
            m == ListMatch::none ? "unknown statement" : std::string(list_name(m)) + ": unknown", "unknown",
            unknown_object(f), why_unknown(f)};
  }

  void check_function(const sql::FunctionRef& fn) {
    const FunctionMatch m = function_list(policy_, fn);
    const std::string object = "function " + fn.qualified();
    if (m.list == ListMatch::deny || m.list == ListMatch::approve) {
      add({to_action(m.list), kRankNamedFunction, std::string(list_name(m.list)) + ": " + m.entry, "execute", object,
           "the policy lists " + m.entry + " under " + std::string(list_name(m.list))});
      return;
    }
    if (m.list == ListMatch::allow) return;  // named in allow: the built-in list does not apply
    if (fn.risk != sql::FunctionRisk::none)
      add({Action::deny, kRankBuiltinFunction, "built-in deny-list: " + fn.name + " (" + std::string(to_string(fn.risk)) + ")",
           "execute", object,
           "functions that " + std::string(risk_words(fn.risk)) + " are denied unless the policy allows them by name"});
  }

  static std::string_view risk_words(sql::FunctionRisk r) {
    switch (r) {
      case sql::FunctionRisk::file_access: return "read or write server files or run programs";
      case sql::FunctionRisk::large_object: return "read or write large objects";
      case sql::FunctionRisk::sql_in_string: return "run SQL held in a string";
      case sql::FunctionRisk::remote_sql: return "reach other servers";
      case sql::FunctionRisk::backend_signal: return "signal other sessions";
      case sql::FunctionRisk::server_control: return "control the server";
      case sql::FunctionRisk::replication: return "use replication slots";
      case sql::FunctionRisk::none: break;
    }
    return "do this";
  }

  void check_functions(const sql::StatementFacts& f) {
    for (const auto& fn : f.functions) check_function(fn);
    // COPY to or from a program or a server file: the built-in list knows
    // them as pseudo-functions a policy can allow by name.
    if (f.has_flag(sql::kCopyProgram)) check_function({"", "", "copy_program", sql::FunctionRisk::file_access});
    if (f.has_flag(sql::kCopyFile)) check_function({"", "", "copy_file", sql::FunctionRisk::file_access});
  }

  std::vector<ResolvedRelation> resolve_relations(const sql::StatementFacts& f) {
    std::vector<ResolvedRelation> out;
    if (f.relations.empty()) return out;
    const auto paths = state_.search_paths();
    // A statement can name a great many relations (a 1 MiB FROM list): keep
    // the merge linear.
    std::unordered_map<std::string, std::size_t> index;
    auto add_unique = [&](ResolvedRelation r) {
      std::string key = r.written + '\0' + r.schema + '\0' + r.name + '\0' + r.via_view;
      auto [it, inserted] = index.emplace(std::move(key), out.size());
      if (!inserted) {
        out[it->second].usage |= r.usage;
        return;
      }
      out.push_back(std::move(r));
    };
    for (const auto& rel : f.relations) {
      if (out.size() > kMaxResolvedRelations) {
        too_many_relations_ = true;
        break;
      }
      const std::string written = rel.schema.empty() ? rel.name : rel.schema + "." + rel.name;
      std::vector<RelationCandidate> candidates;
      std::unordered_set<std::string> seen_schemas;  // the name is the same for all
      for (const auto& path : paths) {
        for (auto& c : resolve(catalog_, rel.schema, rel.name, path))
          if (seen_schemas.insert(c.schema).second) candidates.push_back(std::move(c));
        if (!rel.schema.empty()) break;  // qualified: the path does not matter
      }
      for (const auto& c : candidates) {
        ResolvedRelation r{written, c.schema, c.name, rel.usage, c.exists(),
                           c.relation ? std::string(to_string(c.relation->kind)) : std::string(), ""};
        add_unique(r);
        if (c.relation && catalog_) {  // a view, or a table with rules
          const bool rule = c.relation->kind != RelationKind::view && c.relation->kind != RelationKind::matview;
          for (const auto* base : catalog_->base_relations(c.relation->oid))
            add_unique({written, base->schema, base->name, rel.usage, true, std::string(to_string(base->kind)),
                        c.relation->qualified(), rule});
        }
      }
    }
    return out;
  }

  // Under strict masking, the planner's enable_* methods steer a scan onto
  // an index on a masked column, which returns rows in that column's order:
  // filtering by other means. SET, set_config (a computed name may be one)
  // and a startup -c alike.
  void check_planner_settings(const sql::StatementFacts& f) {
    if (!policy_.strict || policy_.mask.empty()) return;
    for (const auto& s : f.settings) {
      if (s.action == sql::SettingAction::reset_all || (s.name_known && !s.name.starts_with("enable_"))) continue;
      add({Action::deny, kRankNamedClass, "strict: planner method setting", "filtering", "masked values",
           (s.name_known ? s.name : std::string("a computed setting name")) +
               " chooses the planner's scans, which can return rows in the order of an index on a masked column"});
      return;
    }
  }

  void check_tables(const sql::StatementFacts& f, const std::vector<ResolvedRelation>& rels) {
    const TableRules& t = policy_.tables;
    // The planner's statistics hold sample values of every table: reading
    // them reads every schema, as database_to_xml does.
    std::vector<sql::SchemaRef> schemas = f.schemas;
    const sql::SchemaRef* statistics = nullptr;
    bool reads_statistics = false;
    // Unqualified and not in the snapshot, a statistics view's name still
    // means it: pg_catalog comes first on every search_path.
    for (const auto& r : rels)
      reads_statistics = reads_statistics || is_statistics_relation(r.schema, r.name) ||
                         (!r.exists && r.written == r.name && is_statistics_relation("pg_catalog", r.name));
    // schema_to_xml('pg_catalog', ...) reads its views, pg_stats included.
    for (const auto& s : f.schemas) reads_statistics = reads_statistics || s.name == "pg_catalog";
    if (reads_statistics) {
      schemas.push_back({"*", sql::kRead});
      statistics = &schemas.back();
    }
    for (const auto& r : rels) {
      const std::string verb = verb_for_usage(r.usage, f.classes);
      for (const auto* list : {&t.deny, &t.approve}) {
        const bool deny = list == &t.deny;
        for (const auto& g : *list) {
          if (!table_glob_matches(g, r.schema, r.name)) continue;
          std::string reason = r.qualified() + " matches " + g + " in tables." + (deny ? "deny" : "approve");
          if (!r.via_view.empty())
            reason = r.via_view + (r.via_rule ? " has a rule that uses " : " is a view that reads ") + reason;
          else if (!r.exists && r.written != r.qualified())
            reason = r.written + " could resolve to " + r.qualified() + " through search_path, which matches " + g;
          add({deny ? Action::deny : Action::approve, kRankTable,
               std::string("tables.") + (deny ? "deny: " : "approve: ") + g, verb, display(r), std::move(reason)});
          break;
        }
      }
    }
    for (const auto& s : schemas) {
      const std::string verb = verb_for_usage(s.usage, f.classes);
      for (const auto* list : {&t.deny, &t.approve}) {
        const bool deny = list == &t.deny;
        for (const auto& g : *list) {
          if (!table_glob_matches_schema(g, s.name, false)) continue;
          add({deny ? Action::deny : Action::approve, kRankTable,
               std::string("tables.") + (deny ? "deny: " : "approve: ") + g, verb, schema_display(s.name),
               std::string(&s == statistics ? "the planner statistics hold sample values of every table, and " : "") +
                   "tables of " + schema_display(s.name) + " match " + g});
          break;
        }
      }
    }
    if (t.allow.empty()) return;
    // allow: the relation a name means now must be listed; when nothing
    // holds the name yet, every relation it could mean. Base relations of
    // views are not required: naming the view is what the list allows.
    std::unordered_set<std::string_view> resolved_now;
    for (const auto& r : rels)
      if (r.via_view.empty() && r.exists) resolved_now.insert(r.written);
    for (const auto& r : rels) {
      if (!r.via_view.empty()) continue;
      if (!r.exists && resolved_now.count(r.written)) continue;
      bool listed = false;
      for (const auto& g : t.allow) {
        const bool ok = r.schema == "*" ? table_glob_matches_schema(g, "*", true) && table_glob_matches(g, "*", r.name)
                                        : table_glob_matches(g, r.schema, r.name);
        if (ok) {
          listed = true;
          break;
        }
      }
      if (!listed)
        add({Action::deny, kRankTableAllow, "tables.allow: " + r.qualified() + " not listed",
             verb_for_usage(r.usage, f.classes), display(r), r.qualified() + " matches no glob in tables.allow"});
    }
    for (const auto& s : schemas) {
      bool listed = false;
      for (const auto& g : t.allow) listed = listed || table_glob_matches_schema(g, s.name, true);
      if (!listed)
        add({Action::deny, kRankTableAllow, "tables.allow: " + schema_display(s.name) + " not covered",
             verb_for_usage(s.usage, f.classes), schema_display(s.name),
             "tables.allow does not cover every table of " + schema_display(s.name)});
    }
  }

  const Policy& policy_;
  const SessionSqlState& state_;
  const Catalog* catalog_;
  std::vector<Finding> findings_;
  bool too_many_relations_ = false;
};

// Settings, and the names the protocol tracker follows (it learns them from
// the decision's facts, cached ones included): EXECUTE too, since what it
// runs may make or drop names (a protocol-prepared DECLARE or DEALLOCATE).
bool changes_session(const sql::StatementFacts& f) {
  return !f.settings.empty() || !f.prepares.empty() || !f.deallocates.empty() || f.deallocate_all ||
         !f.declares.empty() || !f.closes.empty() || f.close_all || !f.executes.empty();
}

std::string message_for(Action a, std::string_view verb, std::string_view object, std::string_view identity) {
  std::string m = "pgwarden: " + std::string(verb) + " on " + std::string(object);
  m += a == Action::approve ? " requires approval by policy for " : " denied by policy for ";
  return m + std::string(identity);
}

void finish(Decision& d, const Policy& policy) {
  d.action = Action::allow;
  d.deciding_statement = -1;
  for (std::size_t i = 0; i < d.statements.size(); ++i) {
    if (d.statements[i].action > d.action) {
      d.action = d.statements[i].action;
      d.deciding_statement = static_cast<int>(i);
    }
  }
  for (const auto& st : d.statements) {
    d.changes_session = d.changes_session || changes_session(st.facts);
    d.changes_catalog = d.changes_catalog || st.facts.has(SC::ddl) || st.facts.has(SC::grant);
  }
  if (d.action == Action::allow) {
    std::string rules;
    for (const auto& st : d.statements) {
      if (rules.find(st.rule) != std::string::npos) continue;
      rules += (rules.empty() ? "" : "; ") + st.rule;
    }
    d.rule = rules.empty() ? "empty statement" : rules;
    return;
  }
  const auto& st = d.statements[static_cast<std::size_t>(d.deciding_statement)];
  d.rule = st.rule;
  d.sqlstate = "42501";
  d.message = message_for(d.action, st.verb, st.object, policy.identity);
  std::string reason = st.reason;
  if (!reason.empty() && reason[0] >= 'a' && reason[0] <= 'z') reason[0] = static_cast<char>(reason[0] - 'a' + 'A');
  d.detail = "Rule: " + st.rule + ". " + reason + ".";
  if (d.statements.size() > 1)
    d.detail += " Statement " + std::to_string(d.deciding_statement + 1) + " of " + std::to_string(d.statements.size()) +
                "; no part of the string was run.";
  if (d.action == Action::approve)
    d.detail += " Approvals are not available yet, so the statement was not run.";
}

Decision parse_failure(const Policy& policy, const sql::Analysis& analysis) {
  Decision d;
  d.rule = "unparseable: " + std::string(sql::to_string(analysis.error));
  if (policy.unparseable == UnparseableAction::forward) {
    d.action = Action::allow;
    d.forwarded_unparsed = true;
    d.rule += " (unparseable: forward)";
    return d;
  }
  d.action = Action::deny;
  if (analysis.error == sql::AnalyzeError::syntax) {
    // What the server itself would answer: same code, message and position.
    d.syntax_error = true;
    d.sqlstate = "42601";
    d.message = analysis.error_message;
    d.position = analysis.error_position;
    d.detail = "";
    return d;
  }
  d.sqlstate = "42501";
  auto denial = unparseable_denial(policy.identity, analysis.error_message);
  d.message = std::move(denial.message);
  d.detail = "Rule: " + d.rule + ". " + denial.detail;
  return d;
}

// A statement that may change settings unseen is allowed when the engine
// can ask the server right after it, before anything else of the session
// runs: not when more statements of the same string follow it, and not
// while a COPY FROM STDIN it starts is reading the client's data.
void confirm_settings_after(Decision& d, const Policy& policy, const Catalog* catalog) {
  if (!policy_needs_settings_confirmation(policy)) return;
  for (std::size_t i = 0; i < d.statements.size(); ++i) {
    StatementDecision& st = d.statements[i];
    if (st.action != Action::allow) continue;
    const bool last = i + 1 == d.statements.size();
    std::optional<std::string> changer = unseen_settings_changer(st.facts, catalog);
    if (!changer) {
      // What a set_config() its query may not call did, the server says;
      // elsewhere in a string its value counts as possible.
      if (last && !st.facts.has(SC::copy_from) && may_set_reported_setting(st.facts))
        d.confirm_settings = true;
      continue;
    }
    if (last && !st.facts.has(SC::copy_from)) {
      d.confirm_settings = true;
      continue;
    }
    st.action = Action::deny;
    st.rule = "settings unseen";
    st.verb = "execute";
    st.object = std::move(*changer);
    st.reason = last ? "it may change the session's role or search_path in a way its text does not show, and "
                       "pgwarden cannot ask the server which while COPY FROM STDIN reads the client's data"
                     : "it may change the session's role or search_path in a way its text does not show, so it "
                       "must be the last statement of its query string (pgwarden asks the server right after it)";
  }
}

Decision decide_statements(const Policy& policy, const std::vector<sql::StatementFacts>& statements,
                           const SessionSqlState& state, const Catalog* catalog) {
  Decision d;
  d.had_catalog = catalog != nullptr;
  // Statements after one that changes the session run with that change in
  // effect (the server stops at the first failure): decide them on a copy.
  std::optional<SessionSqlState> simulated;
  bool depends_on_prepared = false;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const SessionSqlState& now = simulated ? *simulated : state;
    StatementJudge judge(policy, now, catalog);
    d.statements.push_back(judge.judge(statements[i], &depends_on_prepared));
    const auto& facts = d.statements.back().facts;
    if (i + 1 < statements.size() && (changes_session(facts) || facts.has_flag(sql::kEndsTransactionScope))) {
      if (!simulated) simulated.emplace(state);
      simulated->apply_certain(facts);
    }
  }
  d.cacheable = !depends_on_prepared;
  confirm_settings_after(d, policy, catalog);
  finish(d, policy);
  return d;
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

bool same_facts(const sql::Analysis& a, const sql::Analysis& b) {
  if (a.ok() != b.ok() || a.statements.size() != b.statements.size()) return false;
  for (std::size_t i = 0; i < a.statements.size(); ++i)
    if (sql::to_string(a.statements[i]) != sql::to_string(b.statements[i])) return false;
  return true;
}

Decision refuse(const Policy& policy, std::string rule, std::string reason) {
  Decision d;
  d.action = Action::deny;
  d.rule = std::move(rule);
  d.sqlstate = "42501";
  d.message = "pgwarden: statement denied by policy for " + policy.identity;
  d.detail = "Rule: " + d.rule + ". " + reason + ".";
  return d;
}

}  // namespace

std::string_view to_string(Action a) {
  switch (a) {
    case Action::allow: return "allow";
    case Action::approve: return "approve";
    case Action::deny: return "deny";
  }
  return "?";
}

Decision decide(const Policy& policy, const sql::Analysis& analysis, const SessionSqlState& state,
                const Catalog* catalog) {
  if (!analysis.ok()) {
    Decision d = parse_failure(policy, analysis);
    d.had_catalog = catalog != nullptr;
    return d;
  }
  return decide_statements(policy, analysis.statements, state, catalog);
}

Decision decide_facts(const Policy& policy, const sql::StatementFacts& facts, const SessionSqlState& state,
                      const Catalog* catalog) {
  return decide_statements(policy, {facts}, state, catalog);
}

sql::ParseOptions parse_options_for(const SessionSqlState& state, const sql::AnalyzeOptions& options) {
  sql::ParseOptions out;
  out.max_input_bytes = options.max_input_bytes;
  // The reading decide_sql() decides on: standard when the session may be in
  // either mode (it parses the other reading itself to compare).
  out.standard_conforming_strings = state.may_be_standard_strings();
  return out;
}

Decision decide_sql(const Policy& policy, const sql::ParsedSql& parsed, const SessionSqlState& state,
                    const Catalog* catalog, const sql::AnalyzeOptions& options) {
  const std::string_view text = parsed.text();
  if (!state.encoding_is_utf8() && has_non_ascii(text))
    return refuse(policy, "client_encoding",
                  "The session's client_encoding may not be UTF8, and in other encodings pgwarden can read "
                  "only plain ASCII for sure (a multibyte character can hide a quote)");
  const sql::ParseOptions wanted = parse_options_for(state, options);
  if (parsed.standard_conforming_strings() != wanted.standard_conforming_strings) {
    // Parsed in a mode the session cannot be in: parse as the server will
    // read it (a second parse; the caller should use parse_options_for()).
    return decide_sql(policy, sql::ParsedSql::parse(text, wanted), state, catalog, options);
  }
  sql::Analysis first = sql::analyze(parsed, options);
  if (state.may_be_standard_strings() && state.may_be_escape_strings()) {
    sql::ParseOptions other = wanted;
    other.standard_conforming_strings = false;
    sql::Analysis second = sql::analyze(sql::ParsedSql::parse(text, other), options);
    if (!same_facts(first, second))
      return refuse(policy, "standard_conforming_strings",
                    "The session may have standard_conforming_strings on or off, and this text means "
                    "different statements in the two modes");
  }
  return decide(policy, first, state, catalog);
}

Decision decide_sql(const Policy& policy, std::string_view text, const SessionSqlState& state,
                    const Catalog* catalog, const sql::AnalyzeOptions& options) {
  if (!state.encoding_is_utf8() && has_non_ascii(text))
    return refuse(policy, "client_encoding",
                  "The session's client_encoding may not be UTF8, and in other encodings pgwarden can read "
                  "only plain ASCII for sure (a multibyte character can hide a quote)");
  return decide_sql(policy, sql::ParsedSql::parse(text, parse_options_for(state, options)), state, catalog,
                    options);
}

Decision decide_function_call(const Policy& policy, Oid function, const Catalog* catalog) {
  Decision d;
  d.had_catalog = catalog != nullptr;
  const CatalogFunction* fn = catalog ? catalog->function(function) : nullptr;
  StatementDecision st;
  st.verb = "execute";
  if (!fn) {
    st.action = Action::deny;
    st.object = "function with OID " + std::to_string(function);
    st.rule = "FunctionCall: unknown function";
    st.reason = catalog ? "the upstream's catalog has no function with that OID"
                        : "no catalog of the upstream is loaded to find it";
  } else {
    const sql::FunctionRef ref{"", fn->schema, fn->name, sql::FunctionRisk::none};
    const FunctionMatch m = function_list(policy, ref);
    st.object = "function " + fn->schema + "." + fn->name;
    if (m.list == ListMatch::none) {
      st.action = Action::deny;
      st.rule = "FunctionCall: not allowed";
      st.reason = "a FunctionCall message runs a function with no SQL; only functions the policy allows by name may run";
    } else {
      st.action = to_action(m.list);
      st.rule = std::string(list_name(m.list)) + ": " + m.entry;
      st.reason = "the policy lists " + m.entry + " under " + std::string(list_name(m.list));
    }
  }
  d.statements.push_back(std::move(st));
  finish(d, policy);
  d.cacheable = false;
  return d;
}

UnparseableDenial unparseable_denial(std::string_view identity, std::string_view parser_error) {
  return {"pgwarden: unparseable statement denied by policy for " + std::string(identity),
          "pgwarden's parser: " + std::string(parser_error) + "."};
}

}  // namespace pgw::policy
