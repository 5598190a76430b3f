// `pgwarden policy check FILE`: the daemon's own validation, without serving.
// `pgwarden policy explain FILE --identity NAME --sql TEXT`: what the policy
// decides for one SQL string, and why. Exit 0 when it would run, 1 when it
// would be denied or held for approval, 2 on bad usage or a bad config.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/explain_masking.h"
#include "cli/output_flags.h"
#include "policy/catalog_loader.h"
#include "policy/config.h"
#include "policy/decision.h"

namespace pgw::cli {

namespace {

constexpr const char* kExplainFooter =
    "explain prints the decision, the classes, relations and functions found and the\n"
    "rule that decided, and, when the policy masks, what each result column becomes.\n"
    "Without --live there is no catalog: an unqualified name may mean any schema of\n"
    "the search_path, views are not expanded and column rules name no column yet.\n"
    "--live loads the upstream's catalog over a connection as its configured user.\n"
    "Exit status: 0 allowed, 1 denied (by the policy or by masking) or held for\n"
    "approval, 2 bad usage or config.";

// What `policy explain` is told on the command line.
struct ExplainOptions {
  std::string config_path;
  std::string identity;
  std::string sql;
  std::optional<std::string> upstream;     // default: the explicit clients' upstream
  std::optional<std::string> search_path;  // default: the login user's
  bool live = false;                       // load the upstream's catalog
  std::optional<std::string> dbname;       // with --live: whose catalog
  OutputFlags output;
};

int policy_check(const std::string& path) {
  auto config = policy::load_config_file(path);
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  for (const auto& w : config->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::printf("%s: ok (%zu upstreams, %zu identities, %zu policies, default %s)\n", path.c_str(),
              config->upstreams.size(), config->identities.size(), config->policies.size(),
              std::string(policy::to_string(config->default_action)).c_str());
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
  if (f.maybe_field) s += " [if not a column: x.f calls f(x)]";
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

int policy_explain(const ExplainOptions& options) {
  const std::string& identity = options.identity;
  const std::string& sql_text = options.sql;
  auto config = policy::load_config_file(options.config_path);
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().c_str());
    return 2;
  }
  if (!config->find_identity(identity)) {
    std::fprintf(stderr, "pgwarden: %s has no identity \"%s\"\n", config->source.c_str(), identity.c_str());
    return 2;
  }
  const policy::Upstream* upstream = nullptr;
  if (options.upstream) {
    upstream = config->find_upstream(*options.upstream);
    if (!upstream) {
      std::fprintf(stderr, "pgwarden: %s has no upstream \"%s\"\n", config->source.c_str(), options.upstream->c_str());
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
  if (options.live) {
    const std::string db = options.dbname.value_or(upstream->database.value_or(upstream->user));
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
  if (options.search_path) start.search_path = *options.search_path;
  else if (catalog) start.search_path = catalog->default_search_path();
  if (!policy::parse_search_path(start.search_path)) {
    std::fputs("pgwarden policy explain: --search-path is not a valid search_path\n", stderr);
    return kExitUsage;
  }
  // A statement decided on its own: nothing in flight, nothing prepared.
  const policy::StandaloneProtocol protocol;
  policy::SessionSqlState state(start, protocol);

  const policy::Decision d = policy::decide_sql(*pol, sql_text, state, catalog.get());
  const std::string policy_line = "identity " + identity + ", upstream " + upstream->name + " (" +
                                  config->source + ")";
  // The engine traces masking only for what the policy allows.
  MaskingExplanation masking;
  if (d.action == policy::Action::allow) masking = explain_masking(*config, *pol, catalog.get(), sql_text, identity);
  if (options.output.wants_json()) {
    auto j = to_json(d, catalog_note, state.describe());
    j["identity"] = identity;
    j["upstream"] = upstream->name;
    if (d.action == policy::Action::allow) j["masking"] = masking_json(masking);
    std::printf("%s\n", options.output.pretty ? j.dump(2).c_str() : j.dump().c_str());
  } else {
    print_text(d, sql_text, catalog_note, state.describe(), policy_line);
    if (d.action == policy::Action::allow) print_masking(masking, catalog != nullptr);
  }
  return d.action == policy::Action::allow && !masking.refuses() ? 0 : 1;
}

void add_explain_options(CLI::App& explain, ExplainOptions& o) {
  explain.add_option("FILE", o.config_path, "the config file (YAML) whose policies decide")->required()->type_name("");
  explain.add_option("--identity", o.identity, "the identity the statement comes from (one of the config's)")
      ->required()
      ->type_name("NAME");
  explain.add_option("--sql", o.sql, "the SQL text: one statement or several, as a client sends it")
      ->required()
      ->type_name("TEXT");
  explain
      .add_option_function<std::string>(
          "--upstream", [&o](const std::string& name) { o.upstream = name; },
          "the upstream it goes to (one of the config's;\ndefault: explicit_upstream, else the first)")
      ->type_name("NAME");
  explain
      .add_option_function<std::string>(
          "--search-path", [&o](const std::string& path) { o.search_path = path; },
          "the session's search_path (default: the login user's,\nfrom the catalog with --live, else \"$user\", public)")
      ->type_name("TEXT");
  CLI::Option* live = explain.add_flag(
      "--live", o.live, "load the upstream's catalog, connecting as its configured user\n(default: no catalog)");
  explain
      .add_option_function<std::string>(
          "--dbname", [&o](const std::string& name) { o.dbname = name; },
          "the database whose catalog --live loads\n(default: the upstream's database, else its user's name)")
      ->type_name("NAME")
      ->needs(live);
  add_output_flags(explain, o.output);
}

}  // namespace

void add_policy_commands(CLI::App& app, Action& chosen) {
  CLI::App* policy = app.add_subcommand("policy", "check a config, or explain what it decides for a statement");
  policy->require_subcommand(1);

  auto check_path = std::make_shared<std::string>();
  CLI::App* check = policy->add_subcommand("check", "validate a config file the way run does, without serving");
  check->add_option("FILE", *check_path, "the config file (YAML) to validate")->required()->type_name("");
  check->footer("Exit status: 0 valid (warnings on stderr), 2 not (one line on stderr says where).");
  check->callback([&chosen, check_path] { chosen = [check_path] { return policy_check(*check_path); }; });

  auto options = std::make_shared<ExplainOptions>();
  CLI::App* explain = policy->add_subcommand("explain", "what the policy decides for one SQL text, and why");
  add_explain_options(*explain, *options);
  explain->footer(kExplainFooter);
  explain->callback([&chosen, options] { chosen = [options] { return policy_explain(*options); }; });
}

}  // namespace pgw::cli
