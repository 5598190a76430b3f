// SessionSqlState: search_path parsing, what apply() changes, and how
// transactions, errors, rollbacks and pipelining keep every value that may
// be in effect.
#include <gtest/gtest.h>

#include "policy/search_path.h"
#include "policy/session_sql_state.h"
#include "policy_fixture.h"
#include "sql/analyze.h"

namespace pgw::policy {
namespace {

using testing::fresh_state;
using Paths = std::vector<std::vector<std::string>>;

// Applies every statement of `sql` as the engine does after forwarding it.
void forward(SessionSqlState& s, std::string_view sql) {
  auto a = sql::analyze(sql);
  ASSERT_TRUE(a.ok()) << a.error_message;
  for (const auto& st : a.statements) s.apply(st);
}

// The protocol position as the engine's tracker moves it: a cycle sent, an
// error or a ROLLBACK, a ReadyForQuery (the state reads it before the
// tracker counts it).
struct Cycles {
  StandaloneProtocol p;
  void sent() { ++p.sent; }
  void error() { p.clean = false; }
  void ready(SessionSqlState& s, char status) {
    s.on_ready_for_query(status);
    ++p.answered;
    if (status == 'I') p.clean = true;
  }
};

TEST(SearchPath, ParsesLikeTheServer) {
  auto p = parse_search_path("\"$user\", public");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->schemas, (std::vector<std::string>{"$user", "public"}));
  EXPECT_EQ(parse_search_path("  HR ,Public")->schemas, (std::vector<std::string>{"hr", "public"}));
  EXPECT_EQ(parse_search_path("\"HR\", \"a \"\"b\"\"\"")->schemas, (std::vector<std::string>{"HR", "a \"b\""}));
  EXPECT_EQ(parse_search_path("")->schemas, std::vector<std::string>{});
  EXPECT_EQ(parse_search_path("   ")->schemas, std::vector<std::string>{});
  // What the server refuses changes nothing.
  EXPECT_FALSE(parse_search_path("a,,b"));
  EXPECT_FALSE(parse_search_path("a,"));
  EXPECT_FALSE(parse_search_path(",a"));
  EXPECT_FALSE(parse_search_path("\"unterminated"));
  EXPECT_FALSE(parse_search_path("a b"));
  // Identifiers are cut at 63 bytes, as the server stores names.
  EXPECT_EQ(parse_search_path(std::string(70, 'x'))->schemas[0].size(), 63u);
}

TEST(SearchPath, CanonicalForm) {
  EXPECT_EQ(parse_search_path("\"$user\", public")->to_string(), "\"$user\", public");
  EXPECT_EQ(parse_search_path("\"HR\",x")->to_string(), "\"HR\", x");
  EXPECT_EQ(SearchPath::unknown_path().to_string(), "?");
}

TEST(SessionSqlState, StartsWithTheLoginUsersPath) {
  auto s = fresh_state();
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
  ASSERT_EQ(s.roles().size(), 1u);
  EXPECT_EQ(s.roles()[0].current, "app_owner");
  EXPECT_TRUE(s.may_be_standard_strings());
  EXPECT_FALSE(s.may_be_escape_strings());
  EXPECT_TRUE(s.encoding_is_utf8());
}

TEST(SessionSqlState, SetSearchPathForms) {
  auto s = fresh_state();
  forward(s, "SET search_path = hr, \"Public\"");
  EXPECT_EQ(s.search_paths(), (Paths{{"hr", "Public"}}));
  forward(s, "SELECT set_config('search_path', 'a, \"$user\"', false)");
  EXPECT_EQ(s.search_paths(), (Paths{{"a", "app_owner"}}));
  // One its query may not call: possible, beside the path before it.
  forward(s, "SELECT set_config('search_path', 'b', false) WHERE false");
  EXPECT_EQ(s.search_paths(), (Paths{{"a", "app_owner"}, {"b"}}));
  forward(s, "SET SCHEMA 'x'");
  EXPECT_EQ(s.search_paths(), (Paths{{"x"}}));
  forward(s, "RESET search_path");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
  forward(s, "SET search_path = hr");
  forward(s, "SET search_path TO DEFAULT");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
  forward(s, "SET search_path = hr");
  forward(s, "RESET ALL");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
  // A value the server would refuse leaves the path alone.
  forward(s, "SELECT set_config('search_path', 'a,,b', false)");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
}

TEST(SessionSqlState, ComputedValuesAreUnknown) {
  auto s = fresh_state();
  forward(s, "SELECT set_config('search_path', current_user, false)");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"*"}}));
  auto t = fresh_state();
  forward(t, "SELECT set_config(n, 'x', false) FROM (VALUES ('role')) v(n)");
  EXPECT_EQ(t.search_paths(), (Paths{{"*"}}));
  EXPECT_TRUE(t.roles()[0].unknown);
  EXPECT_TRUE(t.may_be_escape_strings());
  EXPECT_TRUE(t.may_be_standard_strings());
  EXPECT_FALSE(t.encoding_is_utf8());
}

TEST(SessionSqlState, OverlongPathIsUnknown) {
  auto s = fresh_state();
  std::string sql = "SET search_path = s0";
  for (int i = 1; i <= 64; ++i) sql += ", s" + std::to_string(i);
  forward(s, sql);
  EXPECT_EQ(s.search_paths(), (Paths{{"*"}}));
}

TEST(SessionSqlState, RolesAndDollarUser) {
  auto s = fresh_state();
  forward(s, "SET ROLE reporting");
  EXPECT_EQ(s.roles()[0].current, "reporting");
  EXPECT_EQ(s.roles()[0].session_user, "app_owner");
  EXPECT_EQ(s.search_paths(), (Paths{{"reporting", "public"}}));
  forward(s, "RESET ROLE");
  EXPECT_EQ(s.roles()[0].current, "app_owner");
  forward(s, "SET SESSION AUTHORIZATION alice");
  EXPECT_EQ(s.roles()[0].current, "alice");
  EXPECT_EQ(s.roles()[0].session_user, "alice");
  forward(s, "SET ROLE bob");
  forward(s, "SET ROLE NONE");
  EXPECT_EQ(s.roles()[0].current, "alice");
  forward(s, "DISCARD ALL");
  EXPECT_EQ(s.roles()[0].current, "app_owner");
  EXPECT_EQ(s.roles()[0].session_user, "app_owner");
  forward(s, "SELECT set_config('role', $1, false)");
  ASSERT_EQ(s.roles().size(), 2u);
  EXPECT_EQ(s.roles()[0].current, "app_owner");
  EXPECT_TRUE(s.roles()[1].unknown);
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"*", "public"}}));
}

TEST(SessionSqlState, ParseModeSettings) {
  auto s = fresh_state();
  forward(s, "SET standard_conforming_strings = of");
  EXPECT_TRUE(s.may_be_escape_strings());
  EXPECT_FALSE(s.may_be_standard_strings());
  forward(s, "SET standard_conforming_strings = maybe");  // refused by the server: no change
  EXPECT_FALSE(s.may_be_standard_strings());
  forward(s, "RESET standard_conforming_strings");
  EXPECT_FALSE(s.may_be_escape_strings());
  forward(s, "SET NAMES 'sjis'");
  EXPECT_FALSE(s.encoding_is_utf8());
  forward(s, "SET client_encoding = 'utf-8'");
  EXPECT_TRUE(s.encoding_is_utf8());
  forward(s, "SET client_encoding = 'SQL_ASCII'");  // the server reads the bytes as UTF8
  EXPECT_TRUE(s.encoding_is_utf8());
}

TEST(SessionSqlState, ParseSettingBool) {
  EXPECT_EQ(parse_setting_bool("on"), true);
  EXPECT_EQ(parse_setting_bool("OFF"), false);
  EXPECT_EQ(parse_setting_bool("of"), false);
  EXPECT_EQ(parse_setting_bool("t"), true);
  EXPECT_EQ(parse_setting_bool("ye"), true);
  EXPECT_EQ(parse_setting_bool("0"), false);
  EXPECT_EQ(parse_setting_bool("o"), std::nullopt);
  EXPECT_EQ(parse_setting_bool("onn"), std::nullopt);
  EXPECT_EQ(normalize_encoding_name("Unicode"), "UTF8");
  EXPECT_EQ(normalize_encoding_name("euc_jp"), "EUCJP");
}

// ---- transactions and the server's answers ----------------------------------------------

TEST(SessionSqlState, CleanAutocommitSetSettles) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  forward(s, "SET search_path = hr");
  c.sent();
  // Outstanding: the SET may still fail, so both paths count.
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"hr"}}));
    c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"hr"}}));
}

TEST(SessionSqlState, FailedStringKeepsBoth) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  forward(s, "SET search_path = hr; SELECT 1/0");
  c.sent();
  c.error();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"hr"}}));
  // A later clean SET settles it again.
  forward(s, "SET search_path = public");
  c.sent();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"public"}}));
}

TEST(SessionSqlState, RollbackUndoesAndIsKept) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  forward(s, "BEGIN");
  c.sent();
  c.ready(s, 'T');
  forward(s, "SET search_path = public");
  c.sent();
  c.ready(s, 'T');
  // In the transaction, with nothing outstanding and no error so far, the
  // SET holds for sure.
  EXPECT_EQ(s.search_paths(), (Paths{{"public"}}));
  forward(s, "ROLLBACK");
  c.sent();
  // ROLLBACK forwarded, not answered yet: either value.
  EXPECT_EQ(s.search_paths().size(), 2u);
  c.error();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"public"}}));
}

TEST(SessionSqlState, CommittedTransactionSettles) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  for (const char* sql : {"BEGIN", "SET search_path = hr", "SET LOCAL search_path = x", "COMMIT"}) {
    forward(s, sql);
    c.sent();
    c.ready(s, std::string_view(sql) == "COMMIT" ? 'I' : 'T');
  }
  // SET LOCAL ends with the transaction; the session-level SET stays.
  EXPECT_EQ(s.search_paths(), (Paths{{"hr"}}));
}

TEST(SessionSqlState, LocalSetInCleanTransactionDoesNotOutliveIt) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  forward(s, "BEGIN; SET LOCAL search_path = hr");
  c.sent();
  c.ready(s, 'T');
  EXPECT_EQ(s.search_paths(), (Paths{{"hr"}}));
  forward(s, "COMMIT");
  c.sent();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
}

TEST(SessionSqlState, PipelinedCyclesSettleInOrder) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  // Three Query messages sent before any answer.
  forward(s, "SET search_path = a");
  c.sent();
  forward(s, "BEGIN; SET LOCAL search_path = b");
  c.sent();
  forward(s, "SELECT 1");
  c.sent();
  // The first answer settles only the first cycle's SET: b is still pending.
  c.ready(s, 'I');
  const auto paths = s.search_paths();
  EXPECT_NE(std::find(paths.begin(), paths.end(), std::vector<std::string>{"b"}), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), std::vector<std::string>{"a"}), paths.end());
  c.ready(s, 'T');
  c.ready(s, 'T');
  // Nothing outstanding, transaction clean: the local value is certain.
  EXPECT_EQ(s.search_paths(), (Paths{{"b"}}));
}

// `SELECT set_config(...) WHERE false` succeeds and sets nothing: what a
// set_config() sets is possible, never the only value, unless the engine
// asked the server afterwards (then the answer says; settings_confirmation_test).
TEST(SessionSqlState, ASetConfigThatMayNotRunStaysPossible) {
  Cycles c;
  auto s = fresh_state("hr", c.p);
  forward(s, "SELECT set_config('search_path', 'public', false) WHERE false");
  EXPECT_EQ(s.search_paths(), (Paths{{"hr"}, {"public"}}));
  c.sent();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"hr"}, {"public"}}));
  // A SET that ran settles it.
  forward(s, "SET search_path = x");
  c.sent();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"x"}}));
  // A local one is possible in its transaction and gone after it.
  forward(s, "BEGIN; SELECT set_config('search_path', 'y', true) WHERE false");
  c.sent();
  c.ready(s, 'T');
  EXPECT_EQ(s.search_paths(), (Paths{{"x"}, {"y"}}));
  forward(s, "COMMIT");
  c.sent();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"x"}}));
  // Asked after: nothing is guessed from the text.
  s.apply(sql::analyze("SELECT set_config('search_path', 'z', false) WHERE false").statements.at(0), true);
  EXPECT_EQ(s.search_paths(), (Paths{{"x"}}));
  // What the engine does not ask about stays possible: client_encoding.
  forward(s, "SELECT set_config('client_encoding', 'SJIS', false) WHERE false");
  EXPECT_FALSE(s.encoding_is_utf8());
}

// COMMIT AND CHAIN ends the transaction and answers 'T': a SET LOCAL made
// before it is gone, though no idle ReadyForQuery says so. Every value of
// the cycle is kept (an adversarial review read hr through this).
TEST(SessionSqlState, ChainedCommitKeepsEveryValueOfItsCycle) {
  Cycles c;
  auto s = fresh_state("hr", c.p);
  forward(s, "BEGIN");
  c.sent();
  c.ready(s, 'T');
  forward(s, "SET LOCAL search_path = public");
  c.sent();
  c.ready(s, 'T');
  EXPECT_EQ(s.search_paths(), (Paths{{"public"}}));
  forward(s, "COMMIT AND CHAIN");
  c.sent();
  c.ready(s, 'T');
  EXPECT_EQ(s.search_paths(), (Paths{{"hr"}, {"public"}}));
  // In one string too, whatever follows the COMMIT.
  auto t = fresh_state("hr", c.p);
  forward(t, "BEGIN; SET LOCAL search_path = public; COMMIT; BEGIN");
  c.sent();
  c.ready(t, 'T');
  EXPECT_EQ(t.search_paths(), (Paths{{"hr"}, {"public"}}));
}

// A WITH HOLD cursor's query runs when its transaction commits, after
// whatever ran in between: what it sets is possible then.
TEST(SessionSqlState, AHoldableCursorsSettingsCountAtCommit) {
  Cycles c;
  auto s = fresh_state("public", c.p);
  forward(s, "BEGIN");
  c.sent();
  c.ready(s, 'T');
  forward(s, "DECLARE c CURSOR WITH HOLD FOR SELECT set_config('search_path', 'hr', false)");
  c.sent();
  c.ready(s, 'T');
  forward(s, "SET search_path = public");
  c.sent();
  c.ready(s, 'T');
  forward(s, "COMMIT");
  c.sent();
  c.ready(s, 'I');
  EXPECT_EQ(s.search_paths(), (Paths{{"public"}, {"hr"}}));
  // A cursor without HOLD runs at FETCH, not at COMMIT.
  auto t = fresh_state("public", c.p);
  forward(t, "BEGIN; DECLARE d CURSOR FOR SELECT set_config('search_path', 'hr', false); COMMIT");
  c.sent();
  c.ready(t, 'I');
  EXPECT_EQ(t.search_paths(), (Paths{{"public"}}));
}

// A protocol Execute of a SQL cursor or PREPAREd statement runs the query
// they hold: its settings count then, as possible. The parse-mode settings
// are reported by the server when they change, so a possible value it did
// not report is gone once the cycle is answered.
TEST(SessionSqlState, AnExecuteRunsTheHeldQuerysSettings) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  const auto declare =
      sql::analyze("DECLARE c CURSOR FOR SELECT set_config('standard_conforming_strings', 'off', false)").statements.at(0);
  s.apply(declare);
  EXPECT_FALSE(s.may_be_escape_strings());  // DECLARE runs nothing
  s.apply_run(declare);
  EXPECT_TRUE(s.may_be_escape_strings());
  EXPECT_TRUE(s.may_be_standard_strings());
  c.sent();
  c.ready(s, 'T');  // no ParameterStatus came: it was not set
  EXPECT_FALSE(s.may_be_escape_strings());
  const auto prepare =
      sql::analyze("PREPARE p AS SELECT set_config('search_path', 'hr', false)").statements.at(0);
  s.apply_run(prepare);
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"hr"}}));
  // A function's cursor: anything may change.
  auto t = fresh_state("\"$user\", public", c.p);
  t.apply_unknown_run(false);
  EXPECT_EQ(t.search_paths().back(), std::vector<std::string>{"*"});
  EXPECT_FALSE(t.encoding_is_utf8());
}

TEST(SessionSqlState, ParameterStatusIsTheTruth) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  forward(s, "SET standard_conforming_strings = off");
  c.sent();
  EXPECT_TRUE(s.may_be_standard_strings());
  EXPECT_TRUE(s.may_be_escape_strings());
  s.on_parameter_status("standard_conforming_strings", "off");
  EXPECT_FALSE(s.may_be_standard_strings());
  c.ready(s, 'I');
  EXPECT_FALSE(s.may_be_standard_strings());
  s.on_parameter_status("client_encoding", "SJIS");
  EXPECT_FALSE(s.encoding_is_utf8());
}

TEST(SessionSqlState, CandidatesAreBounded) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  for (int i = 0; i < 20; ++i) {
    forward(s, "SET search_path = s" + std::to_string(i));
    c.sent();
  }
  // Too many possibilities: the path becomes unknown (any schema), never a
  // guess, and what follows is still kept.
  const auto paths = s.search_paths();
  EXPECT_EQ(paths.front(), std::vector<std::string>{"*"});
  EXPECT_LE(paths.size(), TrackedSetting<SearchPath>::kMaxCandidates + 1);
  EXPECT_EQ(paths.back(), std::vector<std::string>{"s19"});
}

TEST(SessionSqlState, RepeatedSetsDoNotGrowCandidates) {
  Cycles c;
  auto s = fresh_state("\"$user\", public", c.p);
  for (int i = 0; i < 50; ++i) forward(s, i % 2 ? "SET search_path = a" : "SET search_path = b");
  c.sent();
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}, {"b"}, {"a"}}));
}

TEST(SessionSqlState, MeaningKeyFollowsChanges) {
  auto s = fresh_state();
  const std::string k1 = s.meaning_key();
  forward(s, "SET statement_timeout = 1");
  EXPECT_EQ(s.meaning_key(), k1);
  forward(s, "SET search_path = hr");
  const std::string k2 = s.meaning_key();
  EXPECT_NE(k2, k1);
  forward(s, "SET ROLE x");
  EXPECT_NE(s.meaning_key(), k2);
  auto t = fresh_state();
  forward(t, "SET standard_conforming_strings = off");
  EXPECT_NE(t.meaning_key(), k1);
  auto u = fresh_state();
  forward(u, "SET client_encoding = 'BIG5'");
  EXPECT_NE(u.meaning_key(), k1);
}

// ---- prepared statements and cursors ------------------------------------------------------
// The names themselves are the protocol tracker's (engine/relay); the state
// only reads them, and keeps what a string it simulates defines.

TEST(SessionSqlState, NamesComeFromTheProtocol) {
  StandaloneProtocol p;
  p.statements["x"] = {std::make_shared<const sql::StatementFacts>(sql::analyze("SELECT * FROM salaries").statements.at(0)),
                       std::make_shared<const sql::StatementFacts>(sql::analyze("SELECT 1").statements.at(0))};
  auto s = fresh_state("\"$user\", public", p);
  ASSERT_EQ(s.prepared("x").size(), 2u);
  EXPECT_TRUE(s.prepared("y").empty());
  EXPECT_TRUE(s.cursor("c").empty());
}

TEST(SessionSqlState, ForwardingDefinesNoName) {
  auto s = fresh_state();
  forward(s, "PREPARE a AS SELECT * FROM t; DECLARE c CURSOR FOR SELECT 1");
  EXPECT_TRUE(s.prepared("a").empty());  // only once the server confirms it
  EXPECT_TRUE(s.cursor("c").empty());
}

TEST(SessionSqlState, SimulatedStringSeesItsOwnNames) {
  auto s = fresh_state();
  auto a = sql::analyze("PREPARE a AS SELECT * FROM t; DECLARE c CURSOR FOR SELECT 2; DEALLOCATE a");
  ASSERT_TRUE(a.ok());
  s.apply_certain(a.statements[0]);
  s.apply_certain(a.statements[1]);
  ASSERT_EQ(s.prepared("a").size(), 1u);
  EXPECT_TRUE(s.prepared("a")[0]->has(sql::StatementClass::select));
  ASSERT_EQ(s.cursor("c").size(), 1u);
  s.apply_certain(a.statements[2]);
  EXPECT_TRUE(s.prepared("a").empty());
}

TEST(SessionSqlState, PrepareDoesNotApplyItsSettings) {
  auto s = fresh_state();
  forward(s, "PREPARE p AS SELECT set_config('search_path', 'hr', false)");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
  forward(s, "DECLARE c CURSOR FOR SELECT set_config('search_path', 'hr', false)");
  EXPECT_EQ(s.search_paths(), (Paths{{"app_owner", "public"}}));
}

}  // namespace
}  // namespace pgw::policy
