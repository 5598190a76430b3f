// `pgwarden policy check FILE`: the daemon's own validation, without serving.
// `pgwarden policy explain FILE --identity NAME --sql TEXT`: what the policy
// decides for one SQL string, and why. Exit 0 when it would run, 1 when it
// would be denied or held for approval, 2 on bad usage or a bad config.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/explain_masking.h"
#include "policy/catalog_loader.h"
#include "policy/config.h"
#include "policy/decision.h"

namespace pgw::cli {

namespace {

constexpr const char* kUsage =
    "usage: pgwarden policy check FILE\n"
    "       pgwarden policy explain FILE --identity NAME --sql TEXT [--upstream NAME]\n"
    "                               [--search-path TEXT] [--live [--dbname NAME]] [-j|-p]\n"
    "\n"
    "explain prints the decision, the classes, relations and functions found and the\n"
    "rule that decided, and, when the policy masks, what each result column becomes.\n"
    "Without --live there is no catalog: an unqualified name may mean any schema of\n"
    "the search_path, views are not expanded and column rules name no column yet.\n"
    "--live loads the upstream's catalog over a connection as its configured user.\n"
    "Exit status: 0 allowed, 1 denied (by the policy or by masking) or held for\n"
    "approval, 2 bad usage or config.\n";

int usage_error(const char* what) {
  std::fprintf(stderr, "pgwarden policy: %s\n%s", what, kUsage);
  return 2;
}

int policy_check(Args args) {
  if (args.size() != 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto config = policy::load_config_file(std::string(args[0]));
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  for (const auto& w : config->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::printf("%.*s: ok (%zu upstreams, %zu identities, %zu policies, default %s)\n",
              static_cast<int>(args[0].size()), args[0].data(), config->upstreams.size(), config->identities.size(),
              config->policies.size(), std::string(policy::to_string(config->default_action)).c_str());
  return 0;
}

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string relation_line(const policy::ResolvedRelation& r) {
  std::string s = r.written + " -> " + r.qualified();
  std::vector<std::string> notes;
  if (!r.via_view.empty()) notes.push_back((r.via_rule ? "used by a rule of " : "read through ") + r.via_view);
  notes.push_back(r.exists ? r.kind : (r.schema == "*" ? "any schema" : "not in the catalog"));
  notes.push_back(sql::usage_to_string(r.usage));
  return s + " (" + join(notes, "; ") + ")";
}

std::string function_line(const sql::FunctionRef& f) {
  std::string s = f.qualified();
  if (f.risk != sql::FunctionRisk::none) s += " [built-in deny-list: " + std::string(sql::to_string(f.risk)) + "]";
  return s;
}

std::string setting_line(const sql::Setting& s) {
  std::string name = s.name_known ? (s.name.empty() ? "ALL" : s.name) : "?";
  switch (s.action) {
    case sql::SettingAction::reset:
    case sql::SettingAction::reset_all: return "reset " + name;
    case sql::SettingAction::from_current: return name + " from current";
    case sql::SettingAction::set: break;
  }
  std::string value = s.value_known ? join(s.values) : "?";
  return name + " = " + value + (s.is_local ? " (local)" : "");
}

nlohmann::json to_json(const policy::Decision& d, const std::string& catalog_note, const std::string& session) {
  nlohmann::json j;
  j["decision"] = std::string(policy::to_string(d.action));
  j["rule"] = d.rule;
  if (d.action != policy::Action::allow) {
    j["sqlstate"] = d.sqlstate;
    j["message"] = d.message;
    j["detail"] = d.detail;
    if (d.position) j["position"] = d.position;
  }
  j["catalog"] = catalog_note;
  j["session"] = session;
  j["statements"] = nlohmann::json::array();
  for (const auto& st : d.statements) {
    nlohmann::json s;
    s["decision"] = std::string(policy::to_string(st.action));
    s["rule"] = st.rule;
    s["classes"] = st.facts.classes.to_string();
    s["relations"] = nlohmann::json::array();
    for (const auto& r : st.relations) {
      nlohmann::json rj = {{"written", r.written}, {"schema", r.schema}, {"name", r.name},
                           {"usage", sql::usage_to_string(r.usage)}, {"exists", r.exists}};
      if (r.exists) rj["kind"] = r.kind;
      if (!r.via_view.empty()) rj[r.via_rule ? "via_rule_of" : "via_view"] = r.via_view;
      s["relations"].push_back(std::move(rj));
    }
    s["functions"] = nlohmann::json::array();
    for (const auto& f : st.facts.functions) s["functions"].push_back(function_line(f));
    s["settings"] = nlohmann::json::array();
    for (const auto& x : st.facts.settings) s["settings"].push_back(setting_line(x));
    if (st.facts.flags) s["flags"] = sql::flags_to_string(st.facts.flags);
    j["statements"].push_back(std::move(s));
  }
  return j;
}

void print_text(const policy::Decision& d, std::string_view sql_text, const std::string& catalog_note,
                const std::string& session, const std::string& policy_line) {
  std::printf("decision:  %s\n", std::string(policy::to_string(d.action)).c_str());
  std::printf("rule:      %s\n", d.rule.c_str());
  if (d.action != policy::Action::allow) {
    std::printf("message:   %s (SQLSTATE %s)\n", d.message.c_str(), d.sqlstate.c_str());
    if (!d.detail.empty()) std::printf("detail:    %s\n", d.detail.c_str());
  }
  if (d.forwarded_unparsed) std::printf("note:      the text does not parse; the policy forwards it unread\n");
  std::printf("policy:    %s\n", policy_line.c_str());
  std::printf("catalog:   %s\n", catalog_note.c_str());
  std::printf("session:   %s\n", session.c_str());
  for (std::size_t i = 0; i < d.statements.size(); ++i) {
    const auto& st = d.statements[i];
    std::string text(sql_text.substr(std::min(st.facts.location, sql_text.size()), st.facts.length));
    const auto start = text.find_first_not_of(" \t\r\n");
    text = start == std::string::npos ? std::string() : text.substr(start);
    for (char& c : text)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (text.size() > 100) text = text.substr(0, 97) + "...";
    std::printf("statement %zu: %s  %s\n", i + 1, std::string(policy::to_string(st.action)).c_str(), text.c_str());
    std::printf("  classes:   %s\n", st.facts.classes.to_string().c_str());
    for (const auto& r : st.relations) std::printf("  relation:  %s\n", relation_line(r).c_str());
    for (const auto& s : st.facts.schemas)
      std::printf("  schema:    %s (%s)\n", s.name.c_str(), sql::usage_to_string(s.usage).c_str());
    for (const auto& f : st.facts.functions) std::printf("  function:  %s\n", function_line(f).c_str());
    for (const auto& s : st.facts.settings) std::printf("  setting:   %s\n", setting_line(s).c_str());
    if (st.facts.flags) std::printf("  flags:     %s\n", sql::flags_to_string(st.facts.flags).c_str());
    std::printf("  rule:      %s\n", st.rule.c_str());
  }
}

int policy_explain(Args args) {
  std::string identity, sql_text, upstream_name, search_path, dbname;
  bool missing = false, has_identity = false, has_sql = false, has_upstream = false, has_search_path = false;
  has_identity = take_option(args, "--identity", "", identity, missing);
  if (missing) return usage_error("--identity needs a value");
  has_sql = take_option(args, "--sql", "", sql_text, missing);
  if (missing) return usage_error("--sql needs a value");
  has_upstream = take_option(args, "--upstream", "", upstream_name, missing);
  if (missing) return usage_error("--upstream needs a value");
  has_search_path = take_option(args, "--search-path", "", search_path, missing);
  if (missing) return usage_error("--search-path needs a value");
  const bool has_dbname = take_option(args, "--dbname", "", dbname, missing);
  if (missing) return usage_error("--dbname needs a value");
  bool live = false, json = false, pretty = false;
  for (auto it = args.begin(); it != args.end();) {
    if (*it == "--live") live = true;
    else if (*it == "-j" || *it == "--json") json = true;
    else if (*it == "-p" || *it == "--pretty") json = pretty = true;
    else {
      ++it;
      continue;
    }
    it = args.erase(it);
  }
  if (args.size() != 1) return usage_error("expected one config FILE");
  if (!has_identity || !has_sql) return usage_error("--identity and --sql are required");
  if (has_dbname && !live) return usage_error("--dbname goes with --live");

  auto config = policy::load_config_file(std::string(args[0]));
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  if (!config->find_identity(identity)) {
    std::fprintf(stderr, "pgwarden: %s has no identity \"%s\"\n", config->source.c_str(), identity.c_str());
    return 2;
  }
  const policy::Upstream* upstream = nullptr;
  if (has_upstream) {
    upstream = config->find_upstream(upstream_name);
    if (!upstream) {
      std::fprintf(stderr, "pgwarden: %s has no upstream \"%s\"\n", config->source.c_str(), upstream_name.c_str());
      return 2;
    }
  } else if (config->explicit_upstream) {
    upstream = config->find_upstream(*config->explicit_upstream);
  } else if (!config->upstreams.empty()) {
    upstream = &config->upstreams.front();
  }
  if (!upstream) {
    std::fprintf(stderr, "pgwarden: %s has no upstream\n", config->source.c_str());
    return 2;
  }
  const policy::Policy* pol = config->policy_for(identity, upstream->name);
  if (!pol) {
    std::fprintf(stderr, "pgwarden: no policy for identity \"%s\" on upstream \"%s\"; under default %s every "
                         "connection of it is refused at startup\n",
                 identity.c_str(), upstream->name.c_str(), std::string(policy::to_string(config->default_action)).c_str());
    return 1;
  }

  std::shared_ptr<const policy::Catalog> catalog;
  std::string catalog_note =
      "none (unqualified names may mean any schema of the search_path; views are not expanded; --live loads one)";
  if (live) {
    const std::string db = has_dbname ? dbname : upstream->database.value_or(upstream->user);
    auto loaded = policy::load_catalog(policy::catalog_source(*upstream, db));
    if (!loaded) {
      std::fprintf(stderr, "pgwarden: %s\n", loaded.error().c_str());
      return 1;
    }
    catalog = std::move(loaded.value());
    catalog_note = "live from upstream " + upstream->name + " (" + upstream->address.to_string() + ", database " +
                   catalog->database() + "): " + std::to_string(catalog->schema_count()) + " schemas, " +
                   std::to_string(catalog->relation_count()) + " relations, " +
                   std::to_string(catalog->function_count()) + " functions";
  }

  policy::SessionSqlState::Start start;
  start.login_user = upstream->user;
  if (has_search_path) start.search_path = search_path;
  else if (catalog) start.search_path = catalog->default_search_path();
  if (!policy::parse_search_path(start.search_path)) return usage_error("--search-path is not a valid search_path");
  // A statement decided on its own: nothing in flight, nothing prepared.
  const policy::StandaloneProtocol protocol;
  policy::SessionSqlState state(start, protocol);

  const policy::Decision d = policy::decide_sql(*pol, sql_text, state, catalog.get());
  const std::string policy_line = "identity " + identity + ", upstream " + upstream->name + " (" +
                                  config->source + ")";
  // The engine traces masking only for what the policy allows.
  MaskingExplanation masking;
  if (d.action == policy::Action::allow) masking = explain_masking(*config, *pol, catalog.get(), sql_text, identity);
  if (json) {
    auto j = to_json(d, catalog_note, state.describe());
    j["identity"] = identity;
    j["upstream"] = upstream->name;
    if (d.action == policy::Action::allow) j["masking"] = masking_json(masking);
    std::printf("%s\n", pretty ? j.dump(2).c_str() : j.dump().c_str());
  } else {
    print_text(d, sql_text, catalog_note, state.describe(), policy_line);
    if (d.action == policy::Action::allow) print_masking(masking, catalog != nullptr);
  }
  return d.action == policy::Action::allow && !masking.refuses() ? 0 : 1;
}

}  // namespace

int cmd_policy(Args args) {
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string_view sub = args[0];
  args.erase(args.begin());
  if (sub == "check") return policy_check(args);
  if (sub == "explain") return policy_explain(args);
  std::fprintf(stderr, "pgwarden policy: unknown subcommand \"%.*s\"\n", static_cast<int>(sub.size()), sub.data());
  return 2;
}

}  // namespace pgw::cli
