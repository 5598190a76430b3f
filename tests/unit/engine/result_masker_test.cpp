// The result masker against the message sequences real clients and servers
// produce: rows are attributed to the statement they answer (simple and
// extended protocol, pipelined, after errors), masked by origin and by
// lineage, an undescribed portal gets a Describe injected, and anything out
// of order ends the session instead of passing unchecked.
#include "engine/result_masker.h"

#include <gtest/gtest.h>

#include "../policy/sample_catalog.h"
#include "engine/mask_models.h"
#include "pgwire/copy_messages.h"
#include "pgwire/data_row.h"
#include "pgwire/error_response.h"
#include "pgwire/frontend_messages.h"
#include "pgwire/row_description.h"

namespace pgw::engine {
namespace {

using Outcome = ResultMasker::Outcome;
constexpr uint32_t kCustomers = 16386;

mask::MaskSpec fn(mask::MaskSpec::Kind kind, uint32_t last = 0) {
  mask::MaskSpec f;
  f.kind = kind;
  f.last = last;
  return f;
}

struct FakeSource : ResultMasker::Source {
  policy::Config config;
  policy::Policy policy;
  std::shared_ptr<const policy::Catalog> catalog = policy::testing::masking_catalog();
  MaskModels models;
  FakeSource() {
    policy.identity = "agent";
    policy::MaskRule ssn;
    ssn.column = "public.customers.ssn";
    ssn.with = fn(mask::MaskSpec::Kind::partial, 4);
    policy::MaskRule email;
    email.column = "public.customers.email";
    email.with = fn(mask::MaskSpec::Kind::email);
    policy.mask = {ssn, email};
  }
  Result<std::shared_ptr<MaskHandle>> mask_handle() override { return models.get(config, 1, policy, catalog); }
  bool standard_conforming_strings() const override { return true; }
  std::vector<std::string> search_path() const override { return {"public"}; }
};

std::string row_description(std::initializer_list<pgwire::FieldDescription> fields) {
  std::string out;
  pgwire::encode_row_description(std::span<const pgwire::FieldDescription>(fields.begin(), fields.size()), out);
  return out;
}

pgwire::FieldDescription field(std::string_view name, uint32_t table, int16_t column, uint32_t type = 25) {
  pgwire::FieldDescription f;
  f.name = name;
  f.table = table;
  f.column = column;
  f.type = type;
  f.type_size = -1;
  f.type_modifier = -1;
  return f;
}

std::string data_row(std::initializer_list<std::string_view> values) {
  std::string out;
  pgwire::DataRowWriter w(out);
  for (auto v : values) w.add(v);
  w.finish();
  return out;
}

std::string simple(char type, std::string_view body = {}) {
  std::string out(1, type);
  const uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  out.append(body);
  return out;
}

// The type bytes of the messages in a stream.
std::string types_of(std::string_view stream) {
  std::string types;
  while (stream.size() >= 5) {
    types.push_back(stream[0]);
    const uint32_t len = (static_cast<uint8_t>(stream[1]) << 24) | (static_cast<uint8_t>(stream[2]) << 16) |
                         (static_cast<uint8_t>(stream[3]) << 8) | static_cast<uint8_t>(stream[4]);
    stream.remove_prefix(std::min<size_t>(stream.size(), len + 1));
  }
  return types;
}

std::string command_complete(std::string_view tag) { return simple('C', std::string(tag) + '\0'); }
std::string ready() { return simple('Z', "I"); }

// Feeds server messages and returns what the client receives.
struct Harness {
  FakeSource source;
  ResultMasker masker{source, "agent", 1};
  std::string client;
  bool failed = false;
  void server(const std::string& whole) {
    std::string out;
    const char type = whole[0];
    if (!masker.wants(type)) {
      client += whole;
      return;
    }
    switch (masker.on_upstream(type, whole, out)) {
      case Outcome::forward: client += whole; break;
      case Outcome::replace: client += out; break;
      case Outcome::drop: break;
      case Outcome::fail: failed = true; break;
    }
  }
};

TEST(ResultMasker, PlainColumnsAreMaskedByOriginAndOthersPassUntouched) {
  Harness h;
  ASSERT_EQ(h.masker.on_query("SELECT id, name, ssn, email FROM customers").action, GateVerdict::Action::kForward);
  h.server(row_description({field("id", kCustomers, 1, 23), field("name", kCustomers, 2), field("ssn", kCustomers, 4),
                            field("email", kCustomers, 3)}));
  h.server(data_row({"7", "Ann Lee", "123-45-6789", "ann@example.com"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client.find("***-**-6789"), std::string::npos);
  EXPECT_NE(h.client.find("a**@example.com"), std::string::npos);
  EXPECT_NE(h.client.find("Ann Lee"), std::string::npos);
}

TEST(ResultMasker, ExpressionsOverMaskedColumnsAreMaskedWhole) {
  Harness h;
  ASSERT_EQ(h.masker.on_query("SELECT reverse(ssn), id FROM customers").action, GateVerdict::Action::kForward);
  h.server(row_description({field("reverse", 0, 0), field("id", kCustomers, 1, 23)}));
  h.server(data_row({"9876-54-321", "7"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(h.client.find("9876-54-321"), std::string::npos);
  EXPECT_NE(h.client.find("***********"), std::string::npos);
}

TEST(ResultMasker, AWholeRowReportedWithTheTableAsOriginIsMasked) {
  // PostgreSQL names the table, with attribute 0, as the origin of `c`.
  Harness h;
  ASSERT_EQ(h.masker.on_query("SELECT c FROM customers c").action, GateVerdict::Action::kForward);
  h.server(row_description({field("c", kCustomers, 0, 16388)}));
  h.server(data_row({"(7,\"Ann Lee\",ann@example.com,123-45-6789)"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
  EXPECT_EQ(h.client.find("ann@example.com"), std::string::npos);
}

TEST(ResultMasker, SecondStatementOfAQueryUsesItsOwnLineage) {
  Harness h;
  ASSERT_EQ(h.masker.on_query("SELECT lower(name) FROM customers; SELECT lower(email) FROM customers").action,
            GateVerdict::Action::kForward);
  h.server(row_description({field("lower", 0, 0)}));
  h.server(data_row({"ann lee"}));
  h.server(command_complete("SELECT 1"));
  h.server(row_description({field("lower", 0, 0)}));
  h.server(data_row({"ann@example.com"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_NE(h.client.find("ann lee"), std::string::npos);
  EXPECT_EQ(h.client.find("ann@example.com"), std::string::npos);
}

TEST(ResultMasker, AnUndescribedPortalGetsADescribeWhoseAnswerTheClientNeverSees) {
  Harness h;
  ASSERT_EQ(h.masker.on_parse("s1", "SELECT ssn FROM customers WHERE id = $1").action, GateVerdict::Action::kForward);
  h.masker.on_bind("", "s1");
  const std::string injected = h.masker.on_execute("");
  ASSERT_FALSE(injected.empty());
  EXPECT_EQ(injected[0], 'D');
  h.masker.on_sync();
  h.server(simple('1'));
  h.server(simple('2'));
  h.server(row_description({field("ssn", kCustomers, 4)}));  // answers the injected Describe
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(types_of(h.client), "12DCZ") << "the injected Describe's answer must be swallowed";
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client.find("***-**-6789"), std::string::npos);
}

TEST(ResultMasker, ADescribedPortalIsNotDescribedTwice) {
  Harness h;
  h.masker.on_parse("", "SELECT ssn FROM customers");
  h.masker.on_bind("", "");
  h.masker.on_describe('P', "");
  EXPECT_TRUE(h.masker.on_execute("").empty());
}

TEST(ResultMasker, AnErrorSkipsTheRestOfTheExtendedCycle) {
  Harness h;
  h.masker.on_parse("", "SELECT ssn FROM customers");
  h.masker.on_bind("", "");
  h.masker.on_describe('P', "");
  h.masker.on_execute("");
  h.masker.on_sync();
  h.masker.on_query("SELECT ssn FROM customers");
  h.server(simple('1'));
  std::string error;
  pgwire::build_error_response({"ERROR", "42P01", "bind failed"}, error);
  h.server(error);
  h.server(ready());
  // The next Query's rows are still attributed to it.
  h.server(row_description({field("ssn", kCustomers, 4)}));
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("SELECT 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
}

TEST(ResultMasker, RowsNobodyAskedForEndTheSession) {
  Harness h;
  h.server(data_row({"123-45-6789"}));
  EXPECT_TRUE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
}

TEST(ResultMasker, CursorsAreMaskedThroughTheirDeclaration) {
  Harness h;
  ASSERT_EQ(h.masker.on_query("DECLARE c CURSOR WITH HOLD FOR SELECT ssn || '' AS s FROM customers").action,
            GateVerdict::Action::kForward);
  h.server(command_complete("DECLARE CURSOR"));
  h.server(ready());
  ASSERT_EQ(h.masker.on_query("FETCH 1 FROM c").action, GateVerdict::Action::kForward);
  h.server(row_description({field("s", 0, 0)}));
  h.server(data_row({"123-45-6789"}));
  h.server(command_complete("FETCH 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
}

TEST(ResultMasker, WritesOfMaskedValuesAreRefused) {
  Harness h;
  auto v = h.masker.on_query("UPDATE customers SET notes = ssn");
  EXPECT_EQ(v.action, GateVerdict::Action::kDeny);
  EXPECT_EQ(v.sqlstate, "42501");
  v = h.masker.on_query("SELECT set_config('application_name', ssn, false) FROM customers");
  EXPECT_EQ(v.action, GateVerdict::Action::kDeny);
}

TEST(ResultMasker, StrictRefusesFilteringOnMaskedColumns) {
  Harness h;
  EXPECT_EQ(h.masker.on_query("SELECT id FROM customers WHERE ssn LIKE '123%'").action, GateVerdict::Action::kForward);
  h.source.policy.strict = true;
  h.source.models = MaskModels();
  auto v = h.masker.on_query("SELECT id FROM customers WHERE ssn LIKE '123%'");
  EXPECT_EQ(v.action, GateVerdict::Action::kDeny);
  EXPECT_EQ(v.message.rfind("pgwarden:", 0), 0u);
}

TEST(ResultMasker, CopyRowsAreMaskedByColumnPosition) {
  Harness h;
  ASSERT_EQ(h.masker.on_query("COPY customers (id, ssn) TO STDOUT").action, GateVerdict::Action::kForward);
  std::string copy_out;
  pgwire::CopyOutResponse response;
  const int16_t formats[] = {0, 0};
  std::string raw_formats = pgwire::Int16Array::pack(std::span<const int16_t>(formats, 2));
  response.column_formats = pgwire::Int16Array(raw_formats);
  pgwire::encode(response, copy_out);
  h.server(copy_out);
  h.server(simple('d', "7\t123-45-6789\n"));
  h.server(simple('c'));
  h.server(command_complete("COPY 1"));
  h.server(ready());
  EXPECT_FALSE(h.failed);
  EXPECT_EQ(h.client.find("123-45-6789"), std::string::npos);
  EXPECT_NE(h.client.find("7\t***-**-6789\n"), std::string::npos);
}

TEST(ResultMasker, AStatementTooDeepToTraceIsRefused) {
  Harness h;
  // Sub-selects nested 1000 deep in FROM: past what the tracer follows.
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "SELECT * FROM (";
  deep += "SELECT 1 FROM customers";
  for (int i = 0; i < 1000; ++i) deep += ") s";
  auto v = h.masker.on_query(deep);
  EXPECT_EQ(v.action, GateVerdict::Action::kDeny);
  EXPECT_NE(v.message.find("cannot trace"), std::string::npos);
}

TEST(ResultMasker, BinaryCopyOfMaskedColumnsIsRefused) {
  Harness h;
  auto v = h.masker.on_query("COPY customers TO STDOUT (FORMAT binary)");
  EXPECT_EQ(v.action, GateVerdict::Action::kDeny);
}

}  // namespace
}  // namespace pgw::engine
