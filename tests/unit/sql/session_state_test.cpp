// Facts about session state: settings (SET, RESET, set_config), prepared
// statement names, channels, and the standard_conforming_strings option.
#include <gtest/gtest.h>

#include "sql/analyze.h"

namespace pgw::sql {
namespace {

const StatementFacts& only(const Analysis& a) {
  EXPECT_TRUE(a.ok()) << a.error_message;
  EXPECT_EQ(a.statements.size(), 1u);
  static const StatementFacts empty;
  return a.statements.empty() ? empty : a.statements[0];
}

std::vector<Setting> settings_of(std::string_view sql) { return only(analyze(sql)).settings; }

Setting set(std::string name, std::vector<std::string> values, bool is_local = false,
            bool via_function = false, bool may_not_run = false) {
  Setting s;
  s.name = std::move(name);
  s.values = std::move(values);
  s.is_local = is_local;
  s.via_function = via_function;
  s.may_not_run = may_not_run;
  return s;
}

Setting reset(std::string name, bool is_local = false, bool may_not_run = false) {
  Setting s;
  s.name = std::move(name);
  s.action = SettingAction::reset;
  s.is_local = is_local;
  s.may_not_run = may_not_run;
  return s;
}

TEST(Settings, SetWithListValues) {
  EXPECT_EQ(settings_of("SET search_path = hr, \"Public\", 'x y'"),
            (std::vector<Setting>{set("search_path", {"hr", "Public", "x y"})}));
  EXPECT_EQ(settings_of("SET search_path TO \"$user\", public"),
            (std::vector<Setting>{set("search_path", {"$user", "public"})}));
  EXPECT_EQ(settings_of("SET SCHEMA 'hr'"), (std::vector<Setting>{set("search_path", {"hr"})}));
  EXPECT_EQ(settings_of("SET LOCAL search_path = hr"),
            (std::vector<Setting>{set("search_path", {"hr"}, true)}));
}

TEST(Settings, NamesAreLowerCased) {
  EXPECT_EQ(settings_of("SET Search_Path = hr"), (std::vector<Setting>{set("search_path", {"hr"})}));
  EXPECT_EQ(settings_of("SET \"SEARCH_PATH\" = hr"),
            (std::vector<Setting>{set("search_path", {"hr"})}));
}

TEST(Settings, SpecialSyntaxesMapToTheirGucs) {
  EXPECT_EQ(settings_of("SET NAMES 'SJIS'"), (std::vector<Setting>{set("client_encoding", {"SJIS"})}));
  EXPECT_EQ(settings_of("SET client_encoding TO 'LATIN1'"),
            (std::vector<Setting>{set("client_encoding", {"LATIN1"})}));
  EXPECT_EQ(settings_of("SET TIME ZONE 'UTC'"), (std::vector<Setting>{set("timezone", {"UTC"})}));
  EXPECT_EQ(settings_of("SET standard_conforming_strings = off"),
            (std::vector<Setting>{set("standard_conforming_strings", {"off"})}));
  EXPECT_EQ(settings_of("SET statement_timeout = 5000"),
            (std::vector<Setting>{set("statement_timeout", {"5000"})}));
  EXPECT_EQ(settings_of("SET extra_float_digits = 1.5"),
            (std::vector<Setting>{set("extra_float_digits", {"1.5"})}));
}

TEST(Settings, RolesAndAuthorization) {
  EXPECT_EQ(settings_of("SET ROLE admin"), (std::vector<Setting>{set("role", {"admin"})}));
  EXPECT_EQ(settings_of("SET ROLE NONE"), (std::vector<Setting>{set("role", {"none"})}));
  EXPECT_EQ(settings_of("SET LOCAL ROLE 'Admin'"), (std::vector<Setting>{set("role", {"Admin"}, true)}));
  EXPECT_EQ(settings_of("SET SESSION AUTHORIZATION alice"),
            (std::vector<Setting>{set("session_authorization", {"alice"})}));
  EXPECT_EQ(settings_of("SET SESSION AUTHORIZATION DEFAULT"),
            (std::vector<Setting>{reset("session_authorization")}));
  EXPECT_EQ(settings_of("RESET ROLE"), (std::vector<Setting>{reset("role")}));
  EXPECT_EQ(settings_of("RESET SESSION AUTHORIZATION"),
            (std::vector<Setting>{reset("session_authorization")}));
  for (auto sql : {"SET ROLE admin", "SET SESSION AUTHORIZATION alice", "RESET ROLE",
                   "SET \"Role\" TO admin"})
    EXPECT_EQ(only(analyze(sql)).classes, ClassSet{StatementClass::role}) << sql;
}

TEST(Settings, ResetsAndDefaults) {
  EXPECT_EQ(settings_of("RESET search_path"), (std::vector<Setting>{reset("search_path")}));
  EXPECT_EQ(settings_of("SET search_path TO DEFAULT"), (std::vector<Setting>{reset("search_path")}));
  auto all = settings_of("RESET ALL");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].action, SettingAction::reset_all);
  EXPECT_TRUE(all[0].name.empty());
  EXPECT_TRUE(all[0].name_known);
  auto current = settings_of("SET search_path FROM CURRENT");
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0].action, SettingAction::from_current);
  EXPECT_FALSE(current[0].value_known);
}

TEST(Settings, DiscardAllResetsEverything) {
  auto facts = only(analyze("DISCARD ALL"));
  ASSERT_EQ(facts.settings.size(), 3u);
  EXPECT_EQ(facts.settings[0], reset("session_authorization"));
  EXPECT_EQ(facts.settings[1], reset("role"));
  EXPECT_EQ(facts.settings[2].action, SettingAction::reset_all);
  EXPECT_TRUE(facts.deallocate_all);
  EXPECT_TRUE(facts.unlisten_all);
}

TEST(Settings, TransactionCharacteristics) {
  auto tx = settings_of("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE");
  ASSERT_EQ(tx.size(), 2u);
  EXPECT_EQ(tx[0], set("transaction_isolation", {"serializable"}));
  EXPECT_EQ(tx[1], set("transaction_read_only", {"0"}));
  auto session = settings_of("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE");
  ASSERT_EQ(session.size(), 1u);
  EXPECT_EQ(session[0], set("default_transaction_read_only", {"0"}));
}

TEST(Settings, SetConfigWithLiterals) {
  EXPECT_EQ(settings_of("SELECT set_config('search_path', 'hr, \"Public\"', false)"),
            (std::vector<Setting>{set("search_path", {"hr, \"Public\""}, false, true)}));
  EXPECT_EQ(settings_of("SELECT set_config('ROLE', 'admin', true)"),
            (std::vector<Setting>{set("role", {"admin"}, true, true)}));
  EXPECT_EQ(settings_of("SELECT pg_catalog.set_config('role'::text, 'admin'::text, 'on')"),
            (std::vector<Setting>{set("role", {"admin"}, true, true)}));
  // Called from FROM: it runs, but only the plainest shape counts as sure.
  EXPECT_EQ(settings_of("SELECT * FROM set_config('session_authorization', 'postgres', false)"),
            (std::vector<Setting>{set("session_authorization", {"postgres"}, false, true, true)}));
  auto null_value = settings_of("SELECT set_config('search_path', NULL, false)");
  ASSERT_EQ(null_value.size(), 1u);
  EXPECT_EQ(null_value[0].action, SettingAction::reset);
}

// A statement can succeed without calling its set_config(): what it sets is
// only possible (the session state keeps the value before it too). Sure is
// a top-level SELECT of constant set_config calls and nothing else.
TEST(Settings, SetConfigItsQueryMayNotCall) {
  for (const char* sql : {
           "SELECT set_config('search_path', 'public', false) WHERE false",
           "SELECT set_config('search_path', 'public', false) LIMIT 0",
           "SELECT set_config('search_path', 'public', false) OFFSET 1",
           "SELECT CASE WHEN false THEN set_config('search_path', 'public', false) END",
           "SELECT coalesce('x', set_config('search_path', 'public', false))",
           "SELECT set_config('search_path', 'public', false), generate_series(1, 0)",
           "SELECT set_config('search_path', 'public', false) FROM pg_class WHERE false",
           "SELECT set_config('search_path', 'public', false) GROUP BY 1 HAVING false",
           "SELECT 1 WHERE false UNION SELECT set_config('search_path', 'public', false) WHERE false",
           "SELECT (SELECT set_config('search_path', 'public', false) WHERE false)",
           "WITH c AS (SELECT set_config('search_path', 'public', false) WHERE false) SELECT * FROM c",
           "SELECT set_config('search_path', (SELECT 'public' WHERE false), false)",
           "VALUES (set_config('search_path', 'public', false))",
           "DO $$BEGIN IF false THEN PERFORM set_config('search_path', 'public', false); END IF; END$$",
       }) {
    auto facts = only(analyze(sql));
    ASSERT_EQ(facts.settings.size(), 1u) << sql;
    EXPECT_TRUE(facts.settings[0].may_not_run) << sql;
  }
  for (const char* sql : {
           "SELECT set_config('search_path', 'public', false)",
           "SELECT pg_catalog.set_config('search_path', '', false)",  // pg_dump's
           "SELECT set_config('search_path'::text, 'public'::text, 'off')",
       }) {
    auto facts = only(analyze(sql));
    ASSERT_EQ(facts.settings.size(), 1u) << sql;
    EXPECT_FALSE(facts.settings[0].may_not_run) << sql;
  }
  auto two = settings_of("SELECT set_config('search_path', 'a', false), set_config('role', 'b', false)");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_FALSE(two[0].may_not_run || two[1].may_not_run);
  // A SET in a DO body may sit in a branch not taken.
  auto in_do = only(analyze("DO $$BEGIN IF false THEN SET search_path = public; END IF; END$$"));
  ASSERT_EQ(in_do.settings.size(), 1u);
  EXPECT_TRUE(in_do.settings[0].may_not_run);
  EXPECT_FALSE(settings_of("SET search_path = public")[0].may_not_run);
}

TEST(Settings, SetConfigWithComputedArgumentsIsUnknown) {
  auto computed_name = only(analyze("SELECT set_config(lower('ROLE'), 'admin', false)"));
  ASSERT_EQ(computed_name.settings.size(), 1u);
  EXPECT_FALSE(computed_name.settings[0].name_known);
  EXPECT_TRUE(computed_name.has_flag(kUnknownSetting));
  // An unknown name is a SET: the engine asks the server right after it
  // whether the role changed (policy/settings_confirmation.h).
  EXPECT_FALSE(computed_name.has(StatementClass::role));
  EXPECT_TRUE(computed_name.has(StatementClass::set));

  auto computed_value = only(analyze("SELECT set_config('role', current_user || 'x', false)"));
  ASSERT_EQ(computed_value.settings.size(), 1u);
  EXPECT_EQ(computed_value.settings[0].name, "role");
  EXPECT_FALSE(computed_value.settings[0].value_known);
  EXPECT_TRUE(computed_value.has(StatementClass::role));

  auto named_args = only(analyze("SELECT set_config(setting_name => 'role', new_value => 'a', "
                                 "is_local => false)"));
  EXPECT_TRUE(named_args.has_flag(kUnknownSetting));

  auto wrong_arity = only(analyze("SELECT set_config('role')"));
  EXPECT_TRUE(wrong_arity.has_flag(kUnknownSetting));

  // A computed is_local is taken as session-wide: the longer-lasting effect.
  auto local = only(analyze("SELECT set_config('search_path', 'hr', random() > 0.5)"));
  ASSERT_EQ(local.settings.size(), 1u);
  EXPECT_FALSE(local.settings[0].is_local);
}

TEST(Settings, ObjectConfigurationIsNotASessionSetting) {
  for (auto sql : {"ALTER ROLE agent SET role = 'admin'", "ALTER DATABASE d SET search_path = hr",
                   "ALTER SYSTEM SET search_path = hr",
                   "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = hr AS 'SELECT 1'",
                   "ALTER FUNCTION f() SET role = admin"}) {
    auto facts = only(analyze(sql));
    EXPECT_TRUE(facts.settings.empty()) << sql;
    EXPECT_FALSE(facts.has(StatementClass::role)) << sql;
  }
}

TEST(Settings, SetInsidePlainExplainIsNotRun) {
  auto facts = only(analyze("EXPLAIN SELECT set_config('role', 'admin', false)"));
  EXPECT_TRUE(facts.settings.empty());
  EXPECT_FALSE(facts.has(StatementClass::role));
  ASSERT_NE(facts.find_function("set_config"), nullptr);  // still deny-listed by name
}

TEST(Settings, SetInsideDoChangesTheSession) {
  auto facts = only(analyze("DO $$BEGIN SET search_path = hr; RESET ROLE; END$$"));
  EXPECT_EQ(facts.settings,
            (std::vector<Setting>{set("search_path", {"hr"}, false, false, true), reset("role", false, true)}));
  EXPECT_TRUE(facts.has(StatementClass::role));
}

TEST(Names, PrepareExecuteDeallocate) {
  auto prepare = only(analyze("PREPARE Fetch_User (int) AS SELECT * FROM users WHERE id = $1"));
  EXPECT_EQ(prepare.prepares, std::vector<std::string>{"fetch_user"});
  EXPECT_EQ(prepare.classes, (ClassSet{StatementClass::prepare, StatementClass::select}));
  auto execute = only(analyze("EXECUTE \"Fetch_User\"(1)"));
  EXPECT_EQ(execute.executes, std::vector<std::string>{"Fetch_User"});
  auto ctas = only(analyze("CREATE TABLE x AS EXECUTE p1"));
  EXPECT_EQ(ctas.executes, std::vector<std::string>{"p1"});
  EXPECT_EQ(only(analyze("DEALLOCATE p1")).deallocates, std::vector<std::string>{"p1"});
  EXPECT_TRUE(only(analyze("DEALLOCATE ALL")).deallocate_all);
  EXPECT_TRUE(only(analyze("EXPLAIN EXECUTE p1")).executes.empty());
  EXPECT_EQ(only(analyze("EXPLAIN ANALYZE EXECUTE p1")).executes, std::vector<std::string>{"p1"});
}

TEST(Names, ExecuteTakesThePreparedFacts) {
  auto prepared = only(analyze("PREPARE p AS WITH d AS (DELETE FROM hr.salaries RETURNING *) "
                               "SELECT pg_read_file('/x') FROM d, t"));
  auto execute = only(analyze("EXECUTE p"));
  add_prepared_facts(execute, prepared);
  EXPECT_EQ(execute.classes,
            (ClassSet{StatementClass::execute, StatementClass::select, StatementClass::delete_}));
  ASSERT_NE(execute.find_relation("hr", "salaries"), nullptr);
  EXPECT_EQ(execute.find_relation("hr", "salaries")->usage, kRead | kWrite);
  EXPECT_NE(execute.find_relation("", "t"), nullptr);
  EXPECT_NE(execute.find_function("pg_read_file"), nullptr);
  EXPECT_TRUE(execute.has_flag(kTouchesFiles));
  EXPECT_EQ(execute.executes, std::vector<std::string>{"p"});
  EXPECT_TRUE(execute.prepares.empty());
}

TEST(Names, ListenNotify) {
  EXPECT_EQ(only(analyze("LISTEN Jobs")).listens, std::vector<std::string>{"jobs"});
  EXPECT_EQ(only(analyze("UNLISTEN jobs")).unlistens, std::vector<std::string>{"jobs"});
  EXPECT_TRUE(only(analyze("UNLISTEN *")).unlisten_all);
  EXPECT_EQ(only(analyze("NOTIFY jobs, 'x'")).notifies, std::vector<std::string>{"jobs"});
  EXPECT_EQ(only(analyze("SELECT pg_notify('jobs', 'x')")).notifies,
            std::vector<std::string>{"jobs"});
  EXPECT_TRUE(only(analyze("SELECT pg_notify(c, 'x') FROM t")).notify_unknown_channel);
}

TEST(Locations, EachStatementKnowsItsPlaceInTheInput) {
  std::string sql = "SELECT 1;  DELETE FROM t ; /* c */ UPDATE u SET a = 1";
  auto a = analyze(sql);
  ASSERT_EQ(a.statements.size(), 3u);
  EXPECT_EQ(sql.substr(a.statements[0].location, a.statements[0].length), "SELECT 1");
  // As PostgreSQL's RawStmt has it: from just after the previous semicolon.
  EXPECT_EQ(sql.substr(a.statements[1].location, a.statements[1].length), "  DELETE FROM t ");
  EXPECT_EQ(sql.substr(a.statements[2].location, a.statements[2].length),
            " /* c */ UPDATE u SET a = 1");
}

TEST(Locations, EmptyInputHasNoStatements) {
  for (auto sql : {"", "   ", ";", "-- just a comment", "/* c */ ;;"}) {
    auto a = analyze(sql);
    EXPECT_TRUE(a.ok()) << sql;
    EXPECT_TRUE(a.statements.empty()) << sql;
  }
}

// With standard_conforming_strings off, a backslash escapes a quote inside
// '...'. The same bytes are then one statement, not two: the parser has to
// read them the way the server will.
TEST(StandardConformingStrings, OffChangesWhereStringsEnd) {
  const std::string sql = "SELECT 'a\\'; DELETE FROM t; --'";
  auto on = analyze(sql);
  ASSERT_TRUE(on.ok());
  ASSERT_EQ(on.statements.size(), 2u);
  EXPECT_TRUE(on.statements[1].has(StatementClass::delete_));

  AnalyzeOptions off_options;
  off_options.standard_conforming_strings = false;
  auto off = analyze(sql, off_options);
  ASSERT_TRUE(off.ok()) << off.error_message;
  ASSERT_EQ(off.statements.size(), 1u);
  EXPECT_EQ(off.statements[0].classes, ClassSet{StatementClass::select});

  // And the reverse: one statement to an "on" reading, a hidden DELETE to an
  // "off" one (the server, when the session has it off).
  const std::string hidden = "SELECT 'a\\'' ; DELETE FROM t; --'";
  EXPECT_EQ(analyze(hidden).statements.size(), 1u);
  auto hidden_off = analyze(hidden, off_options);
  ASSERT_EQ(hidden_off.statements.size(), 2u);
  EXPECT_TRUE(hidden_off.statements[1].has(StatementClass::delete_));

  // The option does not leak into the next call on the same thread.
  EXPECT_EQ(analyze(sql).statements.size(), 2u);
}

}  // namespace
}  // namespace pgw::sql
