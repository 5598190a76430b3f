// The protocol tracker against the message sequences PostgreSQL produces:
// names bind when the server confirms them and stay as they were when it
// refuses, candidates while a definition is in flight, portals ending with
// their transaction, the skip to Sync after an extended-protocol error (also
// over messages the client sends later), cycle counting, and a desync when
// the server answers what nobody asked.
#include "engine/relay/protocol_tracker.h"

#include <gtest/gtest.h>

#include "relay_test_support.h"

namespace pgw::relay {
namespace {

using namespace testing;

struct TrackerTest : ::testing::Test {
  RelayHarness h;
  TrackerTest() { h.relay.add_filter(std::make_unique<FactsFilter>()); }
  const ProtocolTracker& t() const { return h.tracker(); }
  std::string held_sql(std::string_view name) const {
    auto s = t().held_statement(name);
    return s ? s->source.text->sql : "-";
  }
};

TEST_F(TrackerTest, AParsedStatementIsANameOnlyOnceTheServerConfirmsIt) {
  h.send(parse("s", "SELECT 1"));
  EXPECT_EQ(t().held_statement("s"), nullptr);
  EXPECT_EQ(t().statement_candidates("s").size(), 1u);  // in flight: a candidate
  h.send(sync());
  h.server(parse_complete());
  EXPECT_EQ(held_sql("s"), "SELECT 1");
  h.server(ready());
  EXPECT_TRUE(t().idle());
  EXPECT_FALSE(h.failed);
}

TEST_F(TrackerTest, ARefusedDuplicateParseKeepsWhatTheNameHeld) {
  h.send(parse("s", "SELECT ssn FROM customers"));
  h.send(sync());
  h.server(parse_complete());
  h.server(ready());
  h.send(parse("s", "SELECT 1"));
  // While the second Parse is unanswered the name may be either.
  EXPECT_EQ(t().statement_candidates("s").size(), 2u);
  h.send(sync());
  h.server(error("42P05", "prepared statement \"s\" already exists"));
  h.server(ready());
  EXPECT_EQ(held_sql("s"), "SELECT ssn FROM customers");
  EXPECT_EQ(t().statement_candidates("s").size(), 1u);
}

TEST_F(TrackerTest, AFailedParseOfTheUnnamedStatementStillDropsTheOldOne) {
  h.send(parse("", "SELECT 1"));
  h.send(sync());
  h.server(parse_complete());
  h.server(ready());
  h.send(parse("", "SELEC nonsense"));
  h.send(sync());
  h.server(error("42601", "syntax error"));
  h.server(ready());
  EXPECT_EQ(t().held_statement(""), nullptr);
}

TEST_F(TrackerTest, ASimpleQueryDropsTheUnnamedStatement) {
  h.send(parse("", "SELECT 1"));
  h.send(sync());
  h.server(parse_complete());
  h.server(ready());
  h.send(query("SELECT 2"));
  h.server(row_description({field("x", 0, 0, 23)}));
  EXPECT_EQ(t().held_statement(""), nullptr);
}

TEST_F(TrackerTest, APortalRunsWhatItsStatementWasWhenTheServerBoundIt) {
  h.send(parse("s", "SELECT ssn FROM customers"));
  h.send(bind("p", "s"));
  h.send(close('S', "s"));
  h.send(parse("s", "SELECT 1"));
  h.send(sync());
  h.server(parse_complete());
  h.server(bind_complete());
  h.server(close_complete());
  h.server(parse_complete());
  auto p = t().held_portal("p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->source().text->sql, "SELECT ssn FROM customers");
  EXPECT_EQ(held_sql("s"), "SELECT 1");
  h.server(ready());
  // Protocol portals end with their (implicit) transaction.
  EXPECT_EQ(t().held_portal("p"), nullptr);
}

TEST_F(TrackerTest, AnErrorSkipsToSyncAlsoOverWhatTheClientSendsLater) {
  h.send(parse("a", "SELECT 1/0"));
  h.send(bind("", "a"));
  h.send(execute(""));
  h.server(parse_complete());
  h.server(bind_complete());
  h.server(error("22012", "division by zero"));
  // Sent after the error reached pgwarden: the server skips these too.
  h.send(parse("b", "SELECT 2"));
  h.send(bind("", "b"));
  h.send(execute(""));
  h.send(query("SELECT 3"));
  EXPECT_EQ(t().held_statement("b"), nullptr);
  EXPECT_TRUE(t().statement_candidates("b").empty());
  h.send(sync());
  h.server(ready());
  EXPECT_TRUE(t().idle());
  // The skipped Query ended its cycle without a ReadyForQuery.
  EXPECT_EQ(t().cycles_sent(), t().cycles_answered());
  EXPECT_FALSE(h.failed);
  // After the Sync, messages are answered again.
  h.send(query("SELECT 4"));
  h.server(row_description({field("x", 0, 0, 23)}));
  h.server(data_row({"4"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
}

TEST_F(TrackerTest, SqlCursorsAndPreparedStatementsBindAtTheirCommandComplete) {
  h.send(query("DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM customers; PREPARE p AS SELECT 1"));
  EXPECT_EQ(t().portal_candidates("c").size(), 1u);
  EXPECT_EQ(t().held_portal("c"), nullptr);
  h.server(command_complete("DECLARE CURSOR"));
  EXPECT_NE(t().held_portal("c"), nullptr);
  EXPECT_EQ(held_sql("p"), "-");
  h.server(command_complete("PREPARE"));
  EXPECT_EQ(held_sql("p"), "DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM customers; PREPARE p AS SELECT 1");
  EXPECT_EQ(t().held_statement("p")->source.index, 1u);
  h.server(ready());
  // WITH HOLD: it outlives the committed (implicit) transaction.
  EXPECT_NE(t().held_portal("c"), nullptr);
}

TEST_F(TrackerTest, ARefusedDuplicateDeclareKeepsTheFirstCursor) {
  h.send(query("DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM customers"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  h.send(query("DECLARE c CURSOR WITH HOLD FOR SELECT 1"));
  EXPECT_EQ(t().portal_candidates("c").size(), 2u);
  h.server(error("42P03", "cursor \"c\" already exists"));
  h.server(ready());
  ASSERT_NE(t().held_portal("c"), nullptr);
  EXPECT_EQ(t().held_portal("c")->source().text->sql, "DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM customers");
}

TEST_F(TrackerTest, AStatementAfterAnErrorInTheSameQueryDefinesNothing) {
  h.send(query("SELECT 1/0; PREPARE p AS SELECT 1"));
  h.server(error("22012", "division by zero"));
  h.server(ready());
  EXPECT_EQ(t().held_statement("p"), nullptr);
  EXPECT_TRUE(t().statement_candidates("p").empty());
}

TEST_F(TrackerTest, ExecutesOfAPortalThatDeclaresACursorAddOneCandidate) {
  // Found by the random protocol test: each Execute of a portal counted the
  // candidates of the ones before it as sources, and doubled them.
  h.send(parse("d", "DECLARE p1 CURSOR WITH HOLD FOR SELECT 1"));
  h.send(bind("p1", "d"));
  for (int i = 0; i < 64; ++i) h.send(execute("p1"));
  EXPECT_LE(t().portal_candidates("p1").size(), 2u);
  h.send(sync());
  h.server(parse_complete());
  h.server(bind_complete());
  h.server(error("42P03", "cursor \"p1\" already exists"));  // the portal p1 is one
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_TRUE(t().idle());
  EXPECT_TRUE(t().portal_candidates("p1").empty());  // the implicit transaction ended
}

TEST_F(TrackerTest, ACursorsExecuteDefinesNothing) {
  h.send(query("DECLARE c CURSOR WITH HOLD FOR SELECT 1"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  h.send(execute("c"));
  EXPECT_EQ(t().portal_candidates("c").size(), 1u);
}

TEST_F(TrackerTest, APortalOfASqlPreparedStatementRunsItsQueryNotThePrepare) {
  h.send(query("PREPARE s1 AS SELECT 1"));
  h.server(command_complete("PREPARE"));
  h.server(ready());
  h.send(bind("p1", "s1"));
  h.send(execute("p1"));
  h.send(sync());
  h.server(bind_complete());
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(t().names_uncertain());
  EXPECT_EQ(t().statement_candidates("s1").size(), 1u);
}

TEST_F(TrackerTest, EXECUTEMakesTheNamesOfWhatItsStatementHolds) {
  h.send(parse("s1", "DEALLOCATE s2"));
  h.send(sync());
  h.server(parse_complete());
  h.server(ready());
  h.send(query("PREPARE s2 AS SELECT 1"));
  h.server(command_complete("PREPARE"));
  h.server(ready());
  h.send(query("EXECUTE s1"));
  h.server(command_complete("DEALLOCATE"));
  h.server(ready());
  EXPECT_FALSE(t().names_uncertain());
  EXPECT_EQ(t().held_statement("s2"), nullptr);
}

TEST_F(TrackerTest, DeallocateAllKeepsTheUnnamedStatement) {
  // Run by a protocol Execute: a simple Query drops the unnamed one anyway.
  h.send(parse("", "SELECT 1"));
  h.send(parse("s", "SELECT 2"));
  h.send(parse("d", "DEALLOCATE ALL"));
  h.send(bind("", "d"));
  h.send(execute(""));
  h.send(sync());
  h.server(parse_complete());
  h.server(parse_complete());
  h.server(parse_complete());
  h.server(bind_complete());
  h.server(command_complete("DEALLOCATE ALL"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(held_sql(""), "SELECT 1");
  EXPECT_EQ(t().held_statement("s"), nullptr);
}

TEST_F(TrackerTest, CursorsEndWithTheirTransaction) {
  h.send(query("BEGIN; DECLARE a CURSOR FOR SELECT 1; DECLARE b CURSOR WITH HOLD FOR SELECT 2"));
  h.server(command_complete("BEGIN"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready('T'));
  EXPECT_NE(t().held_portal("a"), nullptr);
  h.send(query("COMMIT"));
  h.server(command_complete("COMMIT"));
  h.server(ready('I'));
  EXPECT_EQ(t().held_portal("a"), nullptr);
  EXPECT_NE(t().held_portal("b"), nullptr);
  // A holdable cursor of a transaction that rolls back is gone.
  h.send(query("BEGIN; DECLARE d CURSOR WITH HOLD FOR SELECT 3"));
  h.server(command_complete("BEGIN"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready('T'));
  h.send(query("ROLLBACK"));
  h.server(command_complete("ROLLBACK"));
  h.server(ready('I'));
  EXPECT_EQ(t().held_portal("d"), nullptr);
  EXPECT_NE(t().held_portal("b"), nullptr);
}

// "ROLLBACK; DECLARE d CURSOR WITH HOLD ...": the ROLLBACK makes the cycle
// unclean, but d is made in the next transaction, which commits. Which of
// the two it was, the answers do not say: d stays, uncertain.
TEST_F(TrackerTest, AHoldCursorMadeAfterARollbackOfTheSameStringStaysUncertain) {
  h.send(query("ROLLBACK; DECLARE d CURSOR WITH HOLD FOR SELECT 3"));
  h.server(command_complete("ROLLBACK"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready('I'));
  ASSERT_NE(t().held_portal("d"), nullptr);
  EXPECT_TRUE(t().held_portal("d")->uncertain);
}

TEST_F(TrackerTest, RollbackToASavepointMakesTheTransactionsPortalsUncertain) {
  h.send(query("BEGIN; DECLARE a CURSOR FOR SELECT 1"));
  h.server(command_complete("BEGIN"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready('T'));
  h.send(query("ROLLBACK TO s"));
  h.server(command_complete("ROLLBACK"));
  h.server(ready('T'));
  ASSERT_NE(t().held_portal("a"), nullptr);
  EXPECT_TRUE(t().held_portal("a")->uncertain);
  EXPECT_FALSE(t().transaction_clean());
}

TEST_F(TrackerTest, CloseDeallocateAndDiscardDropNames) {
  h.send(query("PREPARE p AS SELECT 1; PREPARE q AS SELECT 2; DECLARE c CURSOR WITH HOLD FOR SELECT 3"));
  h.server(command_complete("PREPARE"));
  h.server(command_complete("PREPARE"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  h.send(query("DEALLOCATE p; CLOSE c"));
  h.server(command_complete("DEALLOCATE"));
  h.server(command_complete("CLOSE CURSOR"));
  h.server(ready());
  EXPECT_EQ(t().held_statement("p"), nullptr);
  EXPECT_NE(t().held_statement("q"), nullptr);
  EXPECT_EQ(t().held_portal("c"), nullptr);
  h.send(query("DISCARD ALL"));
  h.server(command_complete("DISCARD ALL"));
  h.server(ready());
  EXPECT_EQ(t().held_statement("q"), nullptr);
}

TEST_F(TrackerTest, ANameChangeTheTrackerCannotFollowMakesNamesUncertain) {
  h.send(query("PREPARE p AS SELECT 1"));
  // The server says it closed a cursor where pgwarden saw no CLOSE.
  h.server(command_complete("CLOSE CURSOR"));
  h.server(ready());
  EXPECT_TRUE(t().names_uncertain());
}

TEST_F(TrackerTest, CyclesAndTheTransactionStateFollowTheServer) {
  h.send(query("BEGIN"));
  h.send(query("SELECT 1/0"));
  EXPECT_EQ(t().cycles_sent(), 2u);
  EXPECT_EQ(t().cycles_answered(), 0u);
  h.server(command_complete("BEGIN"));
  h.server(ready('T'));
  EXPECT_TRUE(t().transaction_clean());
  h.server(error("22012", "division by zero"));
  EXPECT_FALSE(t().transaction_clean());
  h.server(ready('E'));
  EXPECT_EQ(t().transaction_status(), 'E');
  h.send(query("ROLLBACK"));
  h.server(command_complete("ROLLBACK"));
  h.server(ready('I'));
  EXPECT_TRUE(t().transaction_clean());
  EXPECT_EQ(t().cycles_answered(), 3u);
}

TEST_F(TrackerTest, AnswersNobodyAskedForAreADesync) {
  h.server(data_row({"123-45-6789"}));
  EXPECT_TRUE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
}

TEST_F(TrackerTest, AReadyForQueryInTheMiddleOfAPipelineIsADesync) {
  h.send(parse("s", "SELECT 1"));
  h.send(bind("", "s"));
  h.server(ready());
  EXPECT_TRUE(h.failed);
  EXPECT_NE(h.relay.failure().find("Parse, Bind"), std::string::npos) << h.relay.failure();
}

TEST_F(TrackerTest, NoticesAndParameterReportsAnswerNothing) {
  std::string notice;
  pgwire::build_notice_response({"NOTICE", "00000", "hello"}, notice);
  h.server(notice);
  h.server(simple('S', std::string("application_name\0x\0", 19)));
  EXPECT_FALSE(h.failed);
  EXPECT_TRUE(t().idle());
}

}  // namespace
}  // namespace pgw::relay

namespace pgw::relay {
namespace {

using namespace testing;

// Refuses every Query as a syntax error pgwarden's parser found.
class SyntaxDenier final : public RelayFilter {
 public:
  Verdict on_request(Request& r, const ClientMessage&) override {
    if (r.kind != Request::Kind::query) return Verdict::forward();
    Verdict v = Verdict::deny("syntax error at or near \"x\"", "42601", "", 8);
    v.server_checks_syntax = true;
    v.if_server_reads_message = "pgwarden: unparseable statement denied by policy for agent";
    return v;
  }
  bool wants(char, const Answer&) const override { return false; }
  Outcome on_answer(char, std::string_view, const Answer&, std::string&) override { return Outcome::forward; }
  const std::string& failure() const override { return failure_; }

 private:
  std::string failure_;
};

std::string message_of(const std::string& stream) {
  const uint32_t length = pgwire::load_u32(stream.data() + 1);
  auto e = pgwire::ErrorResponse::decode(std::string_view(stream).substr(5, length - 4));
  return e ? std::string(e->message()) : "?";
}

TEST(ParseProbe, TheServersOwnSyntaxErrorReachesTheClient) {
  RelayHarness h;
  h.relay.add_filter(std::make_unique<SyntaxDenier>());
  EXPECT_FALSE(h.send(query("SELECT 123abc")));
  // Parsed by the server, never run: Parse of the unnamed statement, Sync.
  EXPECT_EQ(types_of(h.upstream), "PS");
  EXPECT_NE(h.upstream.find("SELECT 123abc"), std::string::npos);
  h.server(error("42601", "trailing junk after numeric literal at or near \"123abc\""));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(types_of(h.client), "EZ");
  EXPECT_EQ(message_of(h.client), "trailing junk after numeric literal at or near \"123abc\"");
  EXPECT_TRUE(h.tracker().idle());
}

TEST(ParseProbe, AnyRefusalOfTheServersParseReachesTheClient) {
  // Lexer errors have codes of their own; an unknown table is found by the
  // server's Parse too. Either way nothing ran, and directly the client
  // would have read the same.
  for (const auto& [code, text] : {std::pair{"22025", "invalid Unicode escape"},
                                   std::pair{"0A000", "unsafe use of string constant with Unicode escapes"},
                                   std::pair{"42P01", "relation \"t\" does not exist"}}) {
    RelayHarness h;
    h.relay.add_filter(std::make_unique<SyntaxDenier>());
    h.send(query("SELECT x"));
    h.server(error(code, text));
    h.server(ready());
    EXPECT_FALSE(h.failed);
    EXPECT_EQ(types_of(h.client), "EZ");
    EXPECT_EQ(message_of(h.client), text);
  }
}

TEST(ParseProbe, WhatTheServerCanParseIsRefusedAsUnparseable) {
  for (const std::string& answer : {parse_complete(), error("42601", "cannot insert multiple commands into a prepared statement")}) {
    RelayHarness h;
    h.relay.add_filter(std::make_unique<SyntaxDenier>());
    h.send(query("SELECT 1; SELECT 2"));
    h.server(answer);
    h.server(ready());
    EXPECT_FALSE(h.failed);
    EXPECT_EQ(types_of(h.client), "EZ");
    EXPECT_EQ(message_of(h.client), "pgwarden: unparseable statement denied by policy for agent");
  }
}

TEST(ParseProbe, NotInsideAnExtendedBatch) {
  RelayHarness h;
  h.relay.add_filter(std::make_unique<SyntaxDenier>());
  h.send(parse("", "SELECT 1"));
  const size_t before = h.upstream.size();
  h.send(query("SELECT 123abc"));
  // A Sync of pgwarden's would end the client's batch: the marker instead.
  EXPECT_EQ(types_of(h.upstream.substr(before)), "Q");
}

}  // namespace
}  // namespace pgw::relay
