#include "policy/session_sql_state.h"

#include <algorithm>

#include "policy/decision.h"

namespace pgw::policy {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Case-insensitive prefix test with a minimum length, as parse_bool does it.
bool iprefix(std::string_view value, std::string_view word, std::size_t min_len) {
  return value.size() >= min_len && value.size() <= word.size() && iequals(value, word.substr(0, value.size()));
}

std::string_view mode_name(StringsMode m) {
  switch (m) {
    case StringsMode::standard: return "on";
    case StringsMode::escape: return "off";
    case StringsMode::unknown: return "?";
  }
  return "?";
}

template <typename T, typename F>
std::string join_candidates(const std::vector<T>& values, F&& show) {
  if (values.size() == 1) return show(values[0]);
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? " | " : "") + show(values[i]);
  return out + "}";
}

// A session user and the value of `role` ("none" or empty: no SET ROLE).
RoleState role_state(const std::string& session_user, const std::string& role) {
  const bool no_role = role.empty() || iequals(role, "none");
  return RoleState{session_user, no_role ? session_user : role, false};
}

// Who the session runs as before its first statement: the login user, or
// what the startup settings made it.
RoleState start_role(const SessionSqlState::Start& start) {
  return role_state(start.session_authorization.empty() ? start.login_user : start.session_authorization, start.role);
}

}  // namespace

std::string normalize_encoding_name(std::string_view name) {
  std::string clean;
  for (char c : name) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) clean += c;
  }
  if (clean == "UTF8" || clean == "UNICODE") return "UTF8";
  return clean.empty() ? std::string("?") : clean;
}

std::optional<bool> parse_setting_bool(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  switch (v[0]) {
    case 't': case 'T': if (iprefix(v, "true", 1)) return true; break;
    case 'f': case 'F': if (iprefix(v, "false", 1)) return false; break;
    case 'y': case 'Y': if (iprefix(v, "yes", 1)) return true; break;
    case 'n': case 'N': if (iprefix(v, "no", 1)) return false; break;
    case 'o': case 'O':
      // "o" alone is ambiguous; "on" and "of"/"off" are not.
      if (iprefix(v, "on", 2)) return true;
      if (iprefix(v, "off", 2)) return false;
      break;
    case '1': if (v.size() == 1) return true; break;
    case '0': if (v.size() == 1) return false; break;
    default: break;
  }
  return std::nullopt;
}

SessionSqlState::SessionSqlState(Start start, const SessionProtocol& protocol)
    : start_(std::move(start)),
      protocol_(&protocol),
      reset_search_path_(parse_search_path(start_.search_path).value_or(SearchPath::unknown_path())),
      search_path_(reset_search_path_),
      role_(start_role(start_)),
      strings_(start_.standard_conforming_strings ? StringsMode::standard : StringsMode::escape),
      encoding_(normalize_encoding_name(start_.client_encoding)) {}

// ---- reading -------------------------------------------------------------------------

std::vector<std::vector<std::string>> SessionSqlState::search_paths() const {
  std::vector<std::vector<std::string>> out;
  const auto roles = role_.candidates(nothing_outstanding(), transaction_clean());
  for (const auto& path : search_path_.candidates(nothing_outstanding(), transaction_clean())) {
    for (const auto& role : roles) {
      std::vector<std::string> expanded;
      if (path.unknown || path.schemas.size() > kMaxSearchPathSchemas) {
        expanded.push_back("*");
      } else {
        for (const auto& s : path.schemas) {
          if (s != "$user") expanded.push_back(s);
          else expanded.push_back(role.unknown ? std::string("*") : role.current);
        }
      }
      if (std::find(out.begin(), out.end(), expanded) == out.end()) out.push_back(std::move(expanded));
    }
  }
  return out;
}

std::vector<RoleState> SessionSqlState::roles() const {
  return role_.candidates(nothing_outstanding(), transaction_clean());
}

bool SessionSqlState::may_be_standard_strings() const {
  for (auto m : strings_.candidates(nothing_outstanding(), transaction_clean()))
    if (m != StringsMode::escape) return true;
  return false;
}

bool SessionSqlState::may_be_escape_strings() const {
  for (auto m : strings_.candidates(nothing_outstanding(), transaction_clean()))
    if (m != StringsMode::standard) return true;
  return false;
}

bool SessionSqlState::encoding_is_utf8() const {
  for (const auto& e : encoding_.candidates(nothing_outstanding(), transaction_clean()))
    if (e != "UTF8" && e != "SQLASCII") return false;  // SQL_ASCII: the server reads the bytes as UTF8
  return true;
}

FactsList SessionSqlState::prepared(std::string_view name) const {
  if (auto it = simulated_prepared_.find(std::string(name)); it != simulated_prepared_.end()) {
    return it->second ? FactsList{it->second} : FactsList{};
  }
  return protocol_->prepared(name);
}

FactsList SessionSqlState::cursor(std::string_view name) const {
  if (auto it = simulated_cursors_.find(std::string(name)); it != simulated_cursors_.end()) {
    return it->second ? FactsList{it->second} : FactsList{};
  }
  return protocol_->cursor(name);
}

const std::string& SessionSqlState::meaning_key() const {
  // Candidates move with the protocol's position only while a setting has
  // values pending; settled, the key changes only when a setting does.
  if (!key_dirty_ && (!any_pending() || key_position_ == protocol_->position_version())) return key_;
  key_position_ = protocol_->position_version();
  // Separators are control characters that cannot appear in identifiers the
  // parser accepts unquoted, and quoted ones are rare; even then two
  // different states can only collide into one that is listed in full.
  std::string k = "p";
  for (const auto& path : search_paths()) {
    k += '\x1e';
    for (const auto& s : path) {
      k += s;
      k += '\x1f';
    }
  }
  k += "\x1dr";
  for (const auto& r : roles()) {
    k += '\x1e';
    k += r.unknown ? std::string("\x01") : r.session_user + '\x1f' + r.current;
  }
  k += "\x1ds";
  k += may_be_standard_strings() ? '1' : '0';
  k += may_be_escape_strings() ? '1' : '0';
  k += "\x1d" "e";
  k += encoding_is_utf8() ? '1' : '0';
  key_ = std::move(k);
  key_dirty_ = false;
  return key_;
}

std::string SessionSqlState::describe() const {
  const bool a = nothing_outstanding(), c = transaction_clean();
  std::string out = "search_path=" + join_candidates(search_path_.candidates(a, c),
                                                     [](const SearchPath& p) { return p.to_string(); });
  out += " role=" + join_candidates(role_.candidates(a, c), [](const RoleState& r) {
    if (r.unknown) return std::string("?");
    return r.current == r.session_user ? r.current : r.current + " (session " + r.session_user + ")";
  });
  out += " standard_conforming_strings=" +
         join_candidates(strings_.candidates(a, c), [](StringsMode m) { return std::string(mode_name(m)); });
  out += " client_encoding=" + join_candidates(encoding_.candidates(a, c), [](const std::string& e) { return e; });
  return out;
}

// ---- updates -------------------------------------------------------------------------

template <typename T>
void SessionSqlState::put(TrackedSetting<T>& tracked, T value, bool local, Mode how, const T& unknown,
                          bool possible) {
  switch (how) {
    case Mode::forwarded:
      tracked.apply(std::move(value), local, protocol_->cycles_sent(), possible);
      break;
    case Mode::simulated:
      tracked.simulate_set(std::move(value), possible, tracked.candidates(nothing_outstanding(), transaction_clean()));
      break;
    case Mode::at_transaction_end:
      tracked.add_possible(std::move(value));
      break;
  }
  if (tracked.size() > TrackedSetting<T>::kMaxCandidates) tracked.set_certain(unknown);
  changed();
}

void SessionSqlState::simulate_transaction_end() {
  const bool a = nothing_outstanding(), c = transaction_clean();
  search_path_.simulate_transaction_end(search_path_.candidates(a, c));
  role_.simulate_transaction_end(role_.candidates(a, c));
  strings_.simulate_transaction_end(strings_.candidates(a, c));
  encoding_.simulate_transaction_end(encoding_.candidates(a, c));
  changed();
}

void SessionSqlState::apply_setting(const sql::Setting& s, Mode how, bool asked_after) {
  const bool local = s.is_local;
  // A set_config() the query around it may not call (WHERE false, a CASE
  // branch, LIMIT 0) sets a value that is only possible. When the engine
  // asks the server right after the statement, the answer says what it did
  // for the settings it asks about.
  const bool possible = s.may_not_run;
  if (possible && asked_after && server_settings_include(s.name)) return;
  const RoleState unknown_role{"", "", true};
  const std::string unknown_encoding = "?";
  if (!s.name_known) {
    if (asked_after) return;
    // set_config(<computed>, ...): any setting may have changed.
    put(search_path_, SearchPath::unknown_path(), local, how, SearchPath::unknown_path());
    put(role_, unknown_role, local, how, unknown_role);
    put(strings_, StringsMode::unknown, local, how, StringsMode::unknown);
    put(encoding_, unknown_encoding, local, how, unknown_encoding);
    return;
  }
  if (s.action == sql::SettingAction::from_current) return;  // keeps the current value
  if (s.action == sql::SettingAction::reset_all) {
    // RESET ALL leaves role and session_authorization alone (GUC_NO_RESET_ALL);
    // DISCARD ALL reports those resets separately.
    put(search_path_, reset_search_path_, local, how, SearchPath::unknown_path());
    put(strings_, start_.standard_conforming_strings ? StringsMode::standard : StringsMode::escape, local,
        how, StringsMode::unknown);
    put(encoding_, normalize_encoding_name(start_.client_encoding), local, how, unknown_encoding);
    return;
  }
  const bool reset = s.action == sql::SettingAction::reset;
  // A list the server would refuse for a scalar setting ("SET role = a, b")
  // changes nothing; an unknown value is taken as unknown.
  const bool single = s.values.size() == 1;

  if (s.name == "search_path") {
    SearchPath path;
    if (reset) path = reset_search_path_;
    else if (!s.value_known) path = SearchPath::unknown_path();
    else if (s.via_function) {
      auto parsed = s.values.empty() ? std::optional<SearchPath>() : parse_search_path(s.values[0]);
      if (!parsed) return;  // the server refuses it
      path = *parsed;
    } else path = search_path_from_items(s.values);
    put(search_path_, std::move(path), local, how, SearchPath::unknown_path(), possible);
    return;
  }
  if (s.name == "role" || s.name == "session_authorization") {
    // The session user a RESET ROLE goes back to is only known when it is
    // certain; with several candidates the result is unknown.
    const auto current = role_.candidates(nothing_outstanding(), transaction_clean());
    const bool base_known = current.size() == 1 && !current[0].unknown;
    RoleState next = unknown_role;
    if (s.name == "role") {
      // RESET ROLE goes back to a role set at startup, which a later
      // SET SESSION AUTHORIZATION may or may not have cleared: unknown.
      const bool startup_role = !start_.role.empty() && !iequals(start_.role, "none");
      if (!base_known || (reset && startup_role)) next = unknown_role;
      else if (reset || (s.value_known && single && iequals(s.values[0], "none")))
        next = RoleState{current[0].session_user, current[0].session_user, false};
      else if (s.value_known && single) next = RoleState{current[0].session_user, s.values[0], false};
      else if (s.value_known) return;
    } else {
      if (reset) {
        const RoleState initial = start_role(start_);
        next = RoleState{initial.session_user, initial.session_user, false};
      }
      else if (s.value_known && single) next = RoleState{s.values[0], s.values[0], false};
      else if (s.value_known) return;
    }
    put(role_, std::move(next), local, how, unknown_role, possible);
    return;
  }
  if (s.name == "standard_conforming_strings") {
    StringsMode mode = StringsMode::unknown;
    if (reset) mode = start_.standard_conforming_strings ? StringsMode::standard : StringsMode::escape;
    else if (s.value_known && single) {
      auto b = parse_setting_bool(s.values[0]);
      if (!b) return;
      mode = *b ? StringsMode::standard : StringsMode::escape;
    } else if (s.value_known) return;
    put(strings_, mode, local, how, StringsMode::unknown, possible);
    return;
  }
  if (s.name == "client_encoding") {
    std::string enc = unknown_encoding;
    if (reset) enc = normalize_encoding_name(start_.client_encoding);
    else if (s.value_known && single) enc = normalize_encoding_name(s.values[0]);
    else if (s.value_known) return;
    put(encoding_, std::move(enc), local, how, unknown_encoding, possible);
    return;
  }
}

void SessionSqlState::confirm(const ServerSettings& server, std::uint64_t cycle, bool certain) {
  role_.confirm(role_state(server.session_authorization, server.role), RoleState{"", "", true}, cycle, certain);
  search_path_.confirm(parse_search_path(server.search_path).value_or(SearchPath::unknown_path()),
                       SearchPath::unknown_path(), cycle, certain);
  changed();
}

void SessionSqlState::apply_facts(const sql::StatementFacts& facts, bool certain, bool asked_after) {
  const Mode mode = certain ? Mode::simulated : Mode::forwarded;
  // A WITH HOLD cursor's query runs to its end when its transaction commits,
  // settings and all, whatever ran between: what it sets is possible from
  // now on, and again once the transaction has ended.
  bool holdable = false;
  for (const auto& d : facts.declares) holdable = holdable || d.holdable;
  if (holdable) {
    for (const auto& s : facts.settings) {
      sql::Setting possible = s;
      possible.may_not_run = true;
      apply_setting(possible, mode, false);
      if (certain) continue;
      if (run_at_commit_.size() >= kMaxRunAtCommit) {
        // Past the bound: at commit, any setting may have changed.
        run_at_commit_.assign(1, sql::Setting{});
        run_at_commit_[0].name_known = false;
      } else {
        run_at_commit_.push_back(std::move(possible));
      }
    }
  }
  if (!certain && facts.has_flag(sql::kEndsTransactionScope)) {
    // Settled when its cycle is answered, however the transaction stands
    // then (COMMIT AND CHAIN answers 'T').
    const std::uint64_t cycle = protocol_->cycles_sent();
    if (transaction_end_cycles_.empty() || transaction_end_cycles_.back() != cycle)
      transaction_end_cycles_.push_back(cycle);
  }
  // PREPARE and DECLARE run nothing yet: the settings in their query take
  // effect at EXECUTE / FETCH.
  if (!facts.has(sql::StatementClass::prepare) && facts.declares.empty()) {
    for (const auto& s : facts.settings) apply_setting(s, mode, asked_after);
  }
  if (!certain) return;
  if (facts.has_flag(sql::kEndsTransactionScope)) simulate_transaction_end();
  // Simulating the rest of one string: what it names is known for sure.
  auto shared = std::make_shared<const sql::StatementFacts>(facts);
  for (const auto& name : facts.prepares) simulated_prepared_[name] = shared;
  for (const auto& d : facts.declares) simulated_cursors_[d.name] = shared;
  if (facts.deallocate_all) {
    for (auto& [name, entry] : simulated_prepared_) entry.reset();
  }
  for (const auto& name : facts.deallocates) simulated_prepared_[name] = nullptr;
  if (facts.close_all) {
    for (auto& [name, entry] : simulated_cursors_) entry.reset();
  }
  for (const auto& name : facts.closes) simulated_cursors_[name] = nullptr;
}

void SessionSqlState::apply(const sql::StatementFacts& facts, bool asked_after) {
  apply_facts(facts, false, asked_after);
}

void SessionSqlState::apply(const Decision& decision, bool asked_after) {
  for (const auto& st : decision.statements) apply_facts(st.facts, false, asked_after);
}

void SessionSqlState::apply_certain(const sql::StatementFacts& facts) { apply_facts(facts, true); }

void SessionSqlState::apply_run(const sql::StatementFacts& facts, bool asked_after) {
  if (!facts.has(sql::StatementClass::prepare) && facts.declares.empty()) {
    apply_facts(facts, false, asked_after);
    return;
  }
  for (const auto& s : facts.settings) {
    sql::Setting possible = s;
    possible.may_not_run = true;
    apply_setting(possible, Mode::forwarded, asked_after);
  }
}

void SessionSqlState::apply_unknown_run(bool asked_after) {
  const bool local = false;
  const Mode how = Mode::forwarded;
  if (!asked_after) {
    put(search_path_, SearchPath::unknown_path(), local, how, SearchPath::unknown_path(), true);
    put(role_, RoleState{"", "", true}, local, how, RoleState{"", "", true}, true);
  }
  // Reported by the server (ParameterStatus) if they change; until this
  // cycle is answered, either may have.
  put(strings_, StringsMode::unknown, local, how, StringsMode::unknown, true);
  put(encoding_, std::string("?"), local, how, std::string("?"), true);
}

void SessionSqlState::on_parameter_status(std::string_view name, std::string_view value) {
  // Both are GUC_REPORT: the server says so whenever they change, rollbacks
  // included, so the report is the truth as of the cycle being answered.
  if (name == "standard_conforming_strings") {
    auto b = parse_setting_bool(value);
    strings_.set_reported(b ? (*b ? StringsMode::standard : StringsMode::escape) : StringsMode::unknown,
                          protocol_->cycles_answered());
    changed();
  } else if (name == "client_encoding") {
    encoding_.set_reported(normalize_encoding_name(value), protocol_->cycles_answered());
    changed();
  }
}

void SessionSqlState::on_ready_for_query(char status) {
  // Called before the tracker counts this ReadyForQuery: the cycle being
  // answered is the one numbered cycles_answered().
  const std::uint64_t cycle = protocol_->cycles_answered();
  const bool clean = protocol_->transaction_clean();
  // A transaction ended in this cycle but another one is open (COMMIT AND
  // CHAIN, or a BEGIN after the COMMIT in the same string): what the cycle
  // set, SET LOCAL included, may be in effect, and so may what was before.
  std::size_t ends = 0;
  while (ends < transaction_end_cycles_.size() && transaction_end_cycles_[ends] <= cycle) ++ends;
  transaction_end_cycles_.erase(transaction_end_cycles_.begin(),
                                transaction_end_cycles_.begin() + static_cast<std::ptrdiff_t>(ends));
  const bool chained = status != 'I' && ends > 0;
  const bool ended = status == 'I' || chained;
  if (!any_pending() && !(ended && !run_at_commit_.empty())) return;  // nothing to settle: the key stands
  // standard_conforming_strings and client_encoding are reported whenever
  // they change, before the ReadyForQuery: a possible value the server did
  // not report was not set.
  strings_.drop_possible_through(cycle);
  encoding_.drop_possible_through(cycle);
  if (chained) {
    search_path_.keep_every_value_of(cycle);
    role_.keep_every_value_of(cycle);
    strings_.keep_every_value_of(cycle);
    encoding_.keep_every_value_of(cycle);
  } else {
    search_path_.on_ready_for_query(status, clean, cycle);
    role_.on_ready_for_query(status, clean, cycle);
    strings_.on_ready_for_query(status, clean, cycle);
    encoding_.on_ready_for_query(status, clean, cycle);
  }
  if (ended) {
    // (The server reports what they did to the parse-mode settings.)
    for (const auto& s : run_at_commit_)
      if (s.name != "standard_conforming_strings" && s.name != "client_encoding")
        apply_setting(s, Mode::at_transaction_end, false);
    run_at_commit_.clear();
  }
  changed();
}

bool SessionSqlState::any_pending() const {
  return search_path_.has_pending() || role_.has_pending() || strings_.has_pending() || encoding_.has_pending();
}

}  // namespace pgw::policy
