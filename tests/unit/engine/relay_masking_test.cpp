// The mask filter on the relay, against the message sequences real clients
// and servers produce: rows are attributed by the protocol tracker to the
// statement they answer (simple and extended protocol, pipelined, after
// errors), masked by origin and by lineage, an undescribed portal gets a
// Describe injected whose answer the client never sees, names are followed
// to what the server confirmed, and anything out of order ends the session
// instead of passing unchecked.
#include "engine/relay/mask_filter.h"

#include <gtest/gtest.h>

#include <deque>

#include "../policy/sample_catalog.h"
#include "engine/mask_models.h"
#include "pgwire/copy_messages.h"
#include "relay_test_support.h"

namespace pgw::relay {
namespace {

using namespace testing;
constexpr uint32_t kCustomers = 16386;

mask::MaskSpec fn(mask::MaskSpec::Kind kind, uint32_t last = 0) {
  mask::MaskSpec f;
  f.kind = kind;
  f.last = last;
  return f;
}

// A CopyOutResponse of `columns` text columns.
std::string text_copy_out(size_t columns) {
  std::string out;
  pgwire::CopyOutResponse response;
  const std::vector<int16_t> formats(columns, 0);
  const std::string raw_formats = pgwire::Int16Array::pack(std::span<const int16_t>(formats));
  response.column_formats = pgwire::Int16Array(raw_formats);
  pgwire::encode(response, out);
  return out;
}

struct FakePolicySide : MaskFilter::PolicySide {
  policy::Config config_;
  policy::Policy policy_;
  std::shared_ptr<const policy::Catalog> catalog_ = policy::testing::masking_catalog();
  engine::MaskModelStore store;
  engine::MaskModels models{store};
  uint64_t generation = 1;
  FakePolicySide() {
    policy_.identity = "agent";
    policy::MaskRule ssn;
    ssn.column = "public.customers.ssn";
    ssn.with = fn(mask::MaskSpec::Kind::partial, 4);
    policy::MaskRule email;
    email.column = "public.customers.email";
    email.with = fn(mask::MaskSpec::Kind::email);
    policy_.mask = {ssn, email};
  }
  const policy::Config& config() override { return config_; }
  uint64_t config_generation() override { return generation; }
  const policy::Policy* policy() override { return &policy_; }
  std::shared_ptr<const policy::Catalog> catalog() const override { return catalog_; }
  std::vector<std::vector<std::string>> search_paths() const override { return {{"public"}}; }
  bool client_encoding_is_utf8() const override { return true; }
};

struct Harness {
  FakePolicySide side;
  RelayHarness h;
  Harness() {
    h.relay.add_filter(std::make_unique<FactsFilter>());
    h.relay.add_filter(std::make_unique<MaskFilter>(side, side.models, h.tracker(), "agent", 1));
  }
  bool query(std::string_view sql) { return h.send(testing::query(sql)); }
  // Sends a Query the filters refuse, answers its denial marker as the
  // server does, and returns the error the client read.
  pgwire::ErrorResponse refused(std::string_view sql) {
    const size_t before = h.upstream.size();
    EXPECT_FALSE(query(sql)) << sql;
    const std::string sent = h.upstream.substr(before);
    const size_t at = sent.find("pgwarden_denied_");
    EXPECT_NE(at, std::string::npos) << "no denial marker went upstream";
    const std::string token = at == std::string::npos ? "" : sent.substr(at, sent.find('\0', at) - at);
    const size_t seen = h.client.size();
    server(error("42601", "syntax error at or near \"" + token + "\""));
    server(ready());
    // What the client read: one ErrorResponse, then the ReadyForQuery.
    const std::string& reply = replies.emplace_back(h.client.substr(seen));
    EXPECT_EQ(types_of(reply), "EZ");
    const uint32_t length = reply.size() < 5 ? 0 : pgwire::load_u32(reply.data() + 1);
    auto decoded = pgwire::ErrorResponse::decode(std::string_view(reply).substr(5, length >= 4 ? length - 4 : 0));
    EXPECT_TRUE(decoded) << "the client got no ErrorResponse";
    return decoded ? *decoded : pgwire::ErrorResponse{};
  }
  std::deque<std::string> replies;  // what refused() decoded views into
  void server(const std::string& m) { h.server(m); }
  const std::string& client() const { return h.client; }
  bool failed() const { return h.failed; }
};

TEST(MaskFilter, PlainColumnsAreMaskedByOriginAndOthersPassUntouched) {
  Harness h;
  ASSERT_TRUE(h.query("SELECT id, name, ssn, email FROM customers"));
  h.server(row_description({field("id", kCustomers, 1, 23), field("name", kCustomers, 2), field("ssn", kCustomers, 4),
                            field("email", kCustomers, 3)}));
  h.server(data_row({"7", "Ann Lee", "123-45-6789", "ann@example.com"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client().find("***-**-6789"), std::string::npos);
  EXPECT_NE(h.client().find("a**@example.com"), std::string::npos);
  EXPECT_NE(h.client().find("Ann Lee"), std::string::npos);
}

TEST(MaskFilter, ExpressionsOverMaskedColumnsAreMaskedWhole) {
  Harness h;
  ASSERT_TRUE(h.query("SELECT reverse(ssn), id FROM customers"));
  h.server(row_description({field("reverse", 0, 0), field("id", kCustomers, 1, 23)}));
  h.server(data_row({"9876-54-321", "7"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("9876-54-321"), std::string::npos);
  EXPECT_NE(h.client().find("***********"), std::string::npos);
}

TEST(MaskFilter, AWholeRowReportedWithTheTableAsOriginIsMasked) {
  // PostgreSQL names the table, with attribute 0, as the origin of `c`.
  Harness h;
  ASSERT_TRUE(h.query("SELECT c FROM customers c"));
  h.server(row_description({field("c", kCustomers, 0, 16388)}));
  h.server(data_row({"(7,\"Ann Lee\",ann@example.com,123-45-6789)"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
  EXPECT_EQ(h.client().find("ann@example.com"), std::string::npos);
}

TEST(MaskFilter, SecondStatementOfAQueryUsesItsOwnLineage) {
  Harness h;
  ASSERT_TRUE(h.query("SELECT lower(name) FROM customers; SELECT lower(email) FROM customers"));
  h.server(row_description({field("lower", 0, 0)}));
  h.server(data_row({"ann lee"}));
  h.server(command_complete("SELECT 1"));
  h.server(row_description({field("lower", 0, 0)}));
  h.server(data_row({"ann@example.com"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_NE(h.client().find("ann lee"), std::string::npos);
  EXPECT_EQ(h.client().find("ann@example.com"), std::string::npos);
}

TEST(MaskFilter, AnUndescribedPortalGetsADescribeWhoseAnswerTheClientNeverSees) {
  Harness h;
  ASSERT_TRUE(h.h.send(parse("s1", "SELECT ssn FROM customers WHERE id = $1")));
  ASSERT_TRUE(h.h.send(bind("", "s1")));
  const size_t before = h.h.upstream.size();
  ASSERT_TRUE(h.h.send(execute("")));
  EXPECT_EQ(types_of(h.h.upstream.substr(before)), "DE") << "a Describe goes first";
  h.h.send(sync());
  h.server(parse_complete());
  h.server(bind_complete());
  h.server(row_description({field("ssn", kCustomers, 4)}));  // answers the injected Describe
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(types_of(h.client()), "12DCZ") << "the injected Describe's answer must be swallowed";
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client().find("***-**-6789"), std::string::npos);
}

TEST(MaskFilter, ADescribedPortalIsNotDescribedTwice) {
  Harness h;
  h.h.send(parse("", "SELECT ssn FROM customers"));
  h.h.send(bind("", ""));
  h.h.send(describe('P', ""));
  const size_t before = h.h.upstream.size();
  h.h.send(execute(""));
  EXPECT_EQ(types_of(h.h.upstream.substr(before)), "E");
}

TEST(MaskFilter, ABindThatMayFailLeavesTheHeldCursorToBeDescribed) {
  // Found by the random protocol test: the Describe pgwarden sent after a
  // Bind of the name counted, although the Bind's error voided it and the
  // next cycle's Execute ran the cursor held before.
  Harness h;
  ASSERT_TRUE(h.query("DECLARE c1 CURSOR WITH HOLD FOR SELECT ssn || '' AS s FROM customers"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  h.h.send(parse("", "SELECT email FROM customers"));
  h.h.send(bind("c1", ""));
  h.h.send(execute("c1"));
  h.h.send(sync());
  const size_t before = h.h.upstream.size();
  h.h.send(execute("c1"));
  EXPECT_EQ(types_of(h.h.upstream.substr(before)), "DE") << "the held cursor was never described";
  h.h.send(sync());
  h.server(parse_complete());
  h.server(error("42P03", "cursor \"c1\" already exists"));
  h.server(ready());
  h.server(row_description({field("s", 0, 0)}));
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed()) << h.h.failure;
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
}

TEST(MaskFilter, ASqlCursorReadByAProtocolExecuteIsDescribedAndMasked) {
  Harness h;
  ASSERT_TRUE(h.query("DECLARE c1 CURSOR WITH HOLD FOR SELECT ssn || '' AS s FROM customers"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  const size_t before = h.h.upstream.size();
  h.h.send(execute("c1"));
  EXPECT_EQ(types_of(h.h.upstream.substr(before)), "DE");
  h.h.send(sync());
  h.server(row_description({field("s", 0, 0)}));
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
}

TEST(MaskFilter, ARefusedRedeclarationKeepsTheFirstCursorsLineage) {
  Harness h;
  ASSERT_TRUE(h.query("DECLARE c3 CURSOR WITH HOLD FOR SELECT replace(ssn, '-', '') AS n FROM customers"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  ASSERT_TRUE(h.query("DECLARE c3 CURSOR WITH HOLD FOR SELECT 'x' AS n"));
  h.server(error("42P03", "cursor \"c3\" already exists"));
  h.server(ready());
  ASSERT_TRUE(h.query("FETCH 1 FROM c3"));
  h.server(row_description({field("n", 0, 0)}));
  h.server(data_row({"123456789"}));
  h.server(command_complete("FETCH 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123456789"), std::string::npos);
}

TEST(MaskFilter, AnErrorSkipsTheRestOfTheExtendedCycle) {
  Harness h;
  h.h.send(parse("", "SELECT ssn FROM customers"));
  h.h.send(bind("", ""));
  h.h.send(describe('P', ""));
  h.h.send(execute(""));
  h.h.send(sync());
  h.query("SELECT ssn FROM customers");
  h.server(parse_complete());
  h.server(error("42P01", "bind failed"));
  h.server(ready());
  // The next Query's rows are still attributed to it.
  h.server(row_description({field("ssn", kCustomers, 4)}));
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
}

TEST(MaskFilter, RowsNobodyAskedForEndTheSession) {
  Harness h;
  h.server(data_row({"123-45-6789"}));
  EXPECT_TRUE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
}

TEST(MaskFilter, CursorsAreMaskedThroughTheirDeclaration) {
  Harness h;
  ASSERT_TRUE(h.query("DECLARE c CURSOR WITH HOLD FOR SELECT ssn || '' AS s FROM customers"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  ASSERT_TRUE(h.query("FETCH 1 FROM c"));
  h.server(row_description({field("s", 0, 0)}));
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("FETCH 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
}

TEST(MaskFilter, WritesOfMaskedValuesAreRefused) {
  Harness h;
  EXPECT_EQ(h.refused("UPDATE customers SET notes = ssn").sqlstate(), "42501");
  EXPECT_EQ(h.refused("SELECT set_config('application_name', ssn, false) FROM customers").sqlstate(), "42501");
  EXPECT_FALSE(h.failed());
}

TEST(MaskFilter, StrictRefusesFilteringOnMaskedColumns) {
  Harness h;
  EXPECT_TRUE(h.query("SELECT id FROM customers WHERE ssn LIKE '123%'"));
  h.server(ready());
  h.side.policy_.strict = true;
  h.side.generation = 2;  // a reload
  auto e = h.refused("SELECT id FROM customers WHERE ssn LIKE '123%'");
  EXPECT_EQ(std::string(e.message()).rfind("pgwarden:", 0), 0u) << e.message();
}

TEST(MaskFilter, CopyRowsAreMaskedByColumnPosition) {
  Harness h;
  ASSERT_TRUE(h.query("COPY customers (id, ssn) TO STDOUT"));
  h.server(text_copy_out(2));
  h.server(simple('d', "7\t123-45-6789\n"));
  h.server(simple('c'));
  h.server(command_complete("COPY 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed());
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client().find("7\t***-**-6789\n"), std::string::npos);
}

TEST(MaskFilter, ACopyPortalThatSurvivedARollbackToSavepointIsStillMasked) {
  Harness h;
  ASSERT_TRUE(h.query("BEGIN"));
  h.server(command_complete("BEGIN"));
  h.server(ready('T'));
  h.h.send(parse("c", "COPY customers (id, ssn) TO STDOUT"));
  h.h.send(bind("p", "c"));
  h.h.send(sync());
  h.server(parse_complete());
  h.server(bind_complete());
  h.server(ready('T'));
  ASSERT_TRUE(h.query("SAVEPOINT a; ROLLBACK TO SAVEPOINT a"));
  h.server(command_complete("SAVEPOINT"));
  h.server(command_complete("ROLLBACK"));
  h.server(ready('T'));
  h.h.send(execute("p"));
  h.h.send(sync());
  h.server(simple('n'));  // the injected Describe: a COPY has no row shape
  h.server(text_copy_out(2));
  h.server(simple('d', "7\t123-45-6789\n"));
  h.server(simple('c'));
  h.server(command_complete("COPY 1"));
  h.server(ready('T'));
  EXPECT_FALSE(h.failed()) << h.h.failure;
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client().find("7\t***-**-6789\n"), std::string::npos);
}

TEST(MaskFilter, ACopyRunByEXECUTEOfAProtocolStatementIsMasked) {
  // Found by the random protocol test: a Query in the middle of a batch
  // runs EXECUTE of a statement a Parse of that batch made.
  Harness h;
  ASSERT_TRUE(h.query("DECLARE p1 CURSOR WITH HOLD FOR SELECT email FROM customers; CLOSE p1; "
                      "DECLARE p1 CURSOR WITH HOLD FOR SELECT ssn FROM customers"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(command_complete("CLOSE CURSOR"));
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  h.h.send(execute("p1"));
  h.h.send(parse("s1", "COPY (SELECT id, ssn FROM customers) TO STDOUT"));
  h.query("EXECUTE s1");
  h.h.send(sync());
  h.server(row_description({field("ssn", kCustomers, 4)}));  // the injected Describe
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("FETCH 1"));
  h.server(parse_complete());
  h.server(text_copy_out(2));
  h.server(simple('d', "7\t123-45-6789\n"));
  h.server(simple('c'));
  h.server(command_complete("COPY 1"));
  h.server(ready('T'));
  h.server(ready());
  EXPECT_FALSE(h.failed()) << h.h.failure;
  EXPECT_EQ(h.client().find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client().find("7\t*"), std::string::npos) << "the COPY's row reached the client masked";
}

TEST(MaskFilter, AStatementTooDeepToTraceIsRefused) {
  Harness h;
  // Sub-selects nested 1000 deep in FROM: past what the tracer follows.
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "SELECT * FROM (";
  deep += "SELECT 1 FROM customers";
  for (int i = 0; i < 1000; ++i) deep += ") s";
  auto e = h.refused(deep);
  EXPECT_NE(std::string(e.message()).find("cannot trace"), std::string::npos);
}

TEST(MaskFilter, BinaryCopyOfMaskedColumnsIsRefused) {
  Harness h;
  EXPECT_EQ(h.refused("COPY customers TO STDOUT (FORMAT binary)").sqlstate(), "42501");
}

}  // namespace
}  // namespace pgw::relay
