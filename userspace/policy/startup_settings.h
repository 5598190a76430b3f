// Settings a client passes in its startup packet (as parameters or inside
// `options` as -c name=value), judged and tracked like `SET name = value`.
//
// A startup setting is a SET the client makes before its first statement:
// the identity's policy judges it with the same rules (the `set` class, or
// `role` for role and session_authorization), so a driver that sends
// statement_timeout=30000 connects wherever SET statement_timeout would
// run, and a startup role is refused wherever SET ROLE is. The settings
// drivers send on their own to shape how results are presented to them
// (psql's application_name, pgJDBC's DateStyle, TimeZone and
// extra_float_digits, ...) pass under every policy: without them no client
// connects, and they change nothing a decision reads (client_encoding is
// tracked, and decides how text is read). The value is
// taken as set_config() takes it: one string the server splits itself
// (search_path 'a, b' is two schemas). Settings that change what the
// session's SQL means (search_path, role, session_authorization,
// client_encoding, standard_conforming_strings) start the session's tracked
// state, and RESET goes back to them, as it does on the server.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/session_sql_state.h"
#include "sql/statement_facts.h"

namespace pgw::policy {

struct Policy;
class Catalog;

using StartupSettings = std::vector<std::pair<std::string, std::string>>;

// The facts of `SET name = value` as a startup setting makes it. Settings
// that load code into the backend at connection time (the *_preload_libraries
// lists), which a SET could not do, are the `admin` class.
sql::StatementFacts startup_setting_facts(std::string_view name, std::string_view value);

// nullopt when the policy lets the setting through (or it only shapes how
// results are presented); else why not, as one line for the client:
// "startup setting "role=bob" refused: ...".
std::optional<std::string> refuse_startup_setting(const Policy& policy, std::string_view name, std::string_view value);

// The session's tracked state as the startup settings leave it.
void apply_startup_settings(SessionSqlState::Start& start, const StartupSettings& settings);

}  // namespace pgw::policy
