// The session state that changes what a SQL string means or who runs it:
// search_path, the current role, standard_conforming_strings and
// client_encoding.
//
// One per client session, owned by the session's loop thread (no locks). It
// keeps the settings; where the protocol stands (cycles sent and answered,
// whether the transaction is clean) and which statements and cursors the
// session's names stand for are the protocol tracker's, read through
// SessionProtocol (session_protocol.h): nothing here counts messages.
//
// What the engine calls, in stream order:
//   client -> server
//     a statement was allowed, before it is counted as sent   apply(decision) / apply(facts)
//   server -> client (before the tracker takes the message into account)
//     ParameterStatus                         on_parameter_status(name, value)
//     ReadyForQuery (not the one at startup)  on_ready_for_query(status)
// Without the server-side calls the state stays safe but keeps more
// candidates (stricter decisions).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/search_path.h"
#include "policy/session_protocol.h"
#include "policy/tracked_setting.h"
#include "sql/statement_facts.h"

namespace pgw::policy {

struct Decision;

// The current user and the session user (SET SESSION AUTHORIZATION changes
// both; SET ROLE only the current one).
struct RoleState {
  std::string session_user;
  std::string current;
  bool unknown = false;  // set_config('role', $1): could be anyone the login may become
  friend bool operator==(const RoleState&, const RoleState&) = default;
};

// The settings as the server reports them when the engine asks, after a
// statement that may have changed them where its text does not show
// (settings_confirmation.h).
struct ServerSettings {
  std::string role;  // current_setting('role'): "none" unless SET ROLE is in effect
  std::string session_authorization;
  std::string search_path;
};

// The settings a ServerSettings answer holds: what a set_config() of them
// did is known once the engine has asked.
inline bool server_settings_include(std::string_view name) {
  return name == "search_path" || name == "role" || name == "session_authorization";
}

// standard_conforming_strings as tracked: a value pgwarden cannot know is
// "either", and decisions then parse both ways.
enum class StringsMode : std::uint8_t { standard, escape, unknown };

class SessionSqlState {
 public:
  struct Start {
    std::string login_user;  // the upstream user pgwarden logs in as
    // The path the session starts with: the catalog's default for the login
    // user (Catalog::default_search_path), or what startup options set.
    std::string search_path = "\"$user\", public";
    bool standard_conforming_strings = true;
    std::string client_encoding = "UTF8";
    // Startup settings (startup_settings.h): empty when the client set none.
    std::string session_authorization;  // the session user, instead of login_user
    std::string role;                   // the current role ("none": the session user)
  };

  // `protocol` must outlive the state (the session's tracker, or a
  // StandaloneProtocol).
  SessionSqlState(Start start, const SessionProtocol& protocol);

  // ---- what decisions read ---------------------------------------------------------

  // Every search path that may be in effect, "$user" expanded to each
  // possible current role; an unknown path or role gives "*". A path longer
  // than kMaxSearchPathSchemas counts as unknown: deciding on it would cost
  // more than a loop thread should spend on one statement.
  static constexpr std::size_t kMaxSearchPathSchemas = 64;
  std::vector<std::vector<std::string>> search_paths() const;
  std::vector<RoleState> roles() const;
  // The standard_conforming_strings values a statement may be parsed with.
  bool may_be_standard_strings() const;
  bool may_be_escape_strings() const;
  // False when the client may be sending another encoding than UTF8; then
  // only plain ASCII can be read for sure.
  bool encoding_is_utf8() const;
  // The facts of every statement the prepared statement `name` ("" is the
  // unnamed one) may be, and of every query the cursor `name` may run (see
  // SessionProtocol). A PREPARE or DECLARE earlier in the same string, when
  // decide() simulates it, is the only candidate: the string stops at the
  // first failure.
  FactsList prepared(std::string_view name) const;
  FactsList cursor(std::string_view name) const;
  const std::string& login_user() const { return start_.login_user; }

  // Everything above that changes what a text means, except the prepared
  // statements and cursors (a decision that EXECUTEs or FETCHes one is never
  // cached): a string decision-cache keys include. Cheap: rebuilt only after
  // a change.
  const std::string& meaning_key() const;

  // One line for `policy explain` and logs.
  std::string describe() const;

  // ---- updates ------------------------------------------------------------------------

  // A statement was allowed and is being forwarded (its facts as decide()
  // saw them: for EXECUTE, with the prepared statement's facts merged in).
  // Names it defines are the tracker's business: they count once the server
  // confirms them.
  //
  // asked_after: the engine asks the server what the settings are right
  // after the statement, before anything else of the session is decided (a
  // simple Query whose decision says confirm_settings): a set_config() of a
  // computed name then changes nothing here; the server's answer, and its
  // ParameterStatus for the reported settings, will say what it did.
  void apply(const sql::StatementFacts& facts, bool asked_after = false);
  void apply(const Decision& decision, bool asked_after = false);  // every statement, in order

  // A protocol Execute runs the query a PREPARE or DECLARE holds (their
  // settings did not count when they were made): each of its settings
  // counts as possible now. Other facts: as apply().
  void apply_run(const sql::StatementFacts& facts, bool asked_after = false);
  // An Execute of a portal a function opened: its query is unknown, so any
  // setting may change (those the engine asks about, unless asked_after).
  void apply_unknown_run(bool asked_after);

  // decide() uses this on a private copy for the statements after a SET,
  // PREPARE or DECLARE in the same string: the server runs them only if the
  // earlier ones succeeded. What a set_config() sets stays only possible,
  // and after a COMMIT, ROLLBACK or ROLLBACK TO in the string every value
  // the string had or set may be in effect (SET LOCAL, or a rolled-back SET).
  void apply_certain(const sql::StatementFacts& facts);

  void on_parameter_status(std::string_view name, std::string_view value);
  // The server's answer about a statement applied in cycle `cycle` (the
  // protocol's cycles_sent() before it); certain: its transaction has ended.
  void confirm(const ServerSettings& server, std::uint64_t cycle, bool certain);
  void on_ready_for_query(char status);

 private:
  // How a setting is taken in: from a statement being forwarded (pending
  // until the server answers), on decide()'s copy simulating the rest of a
  // string, or as possibly run when a transaction has just ended.
  enum class Mode : std::uint8_t { forwarded, simulated, at_transaction_end };
  void apply_setting(const sql::Setting& s, Mode how, bool asked_after);
  void apply_facts(const sql::StatementFacts& facts, bool certain, bool asked_after = false);
  template <typename T>
  void put(TrackedSetting<T>& tracked, T value, bool local, Mode how, const T& unknown, bool possible = false);
  void simulate_transaction_end();
  bool nothing_outstanding() const { return protocol_->cycles_answered() >= protocol_->cycles_sent(); }
  bool transaction_clean() const { return protocol_->transaction_clean(); }
  void changed() { key_dirty_ = true; }
  bool any_pending() const;  // a setting has values not settled yet

  Start start_;
  const SessionProtocol* protocol_;
  SearchPath reset_search_path_;
  TrackedSetting<SearchPath> search_path_;
  TrackedSetting<RoleState> role_;
  TrackedSetting<StringsMode> strings_;
  TrackedSetting<std::string> encoding_;  // "UTF8", or the upper-cased name the client gave

  // The settings of WITH HOLD cursors declared in the open transaction:
  // their queries run when it commits (see apply_facts).
  static constexpr std::size_t kMaxRunAtCommit = 32;
  std::vector<sql::Setting> run_at_commit_;
  // The cycles of forwarded COMMIT / ROLLBACK [TO] / PREPARE TRANSACTION
  // statements not answered yet, in order.
  std::vector<std::uint64_t> transaction_end_cycles_;

  // Names defined earlier in the string decide() is simulating (see
  // apply_certain); empty on the session's own state.
  std::unordered_map<std::string, std::shared_ptr<const sql::StatementFacts>> simulated_prepared_;
  std::unordered_map<std::string, std::shared_ptr<const sql::StatementFacts>> simulated_cursors_;

  mutable std::string key_;
  mutable bool key_dirty_ = true;
  mutable uint64_t key_position_ = 0;  // the protocol position the key was built at
};

// "utf8", "UTF-8", "Unicode" -> "UTF8" (PostgreSQL's own aliases); other
// names upper-cased without punctuation ("sjis" -> "SJIS").
std::string normalize_encoding_name(std::string_view name);

// PostgreSQL's parse_bool: on/off, true/false, yes/no, 1/0 and their
// unambiguous prefixes, any case. nullopt when the server would refuse it.
std::optional<bool> parse_setting_bool(std::string_view value);

}  // namespace pgw::policy
