// A policy's mask rules against a catalog: which table columns a rule
// covers (globs, partitions), what views and SQL functions become through
// their definitions, and what the lineage tracer is told about names.
#include "policy/mask_model.h"

#include <gtest/gtest.h>

#include "sample_catalog.h"

namespace pgw::policy {
namespace {

constexpr Oid kCustomers = 16386;
constexpr Oid kOrders = 16395;
constexpr Oid kContacts = 16440;
constexpr Oid kTaxIds = 16444;
constexpr Oid kTaxIdsUpper = 16448;

MaskRule column_rule(std::string glob, mask::MaskSpec::Kind kind, uint32_t last = 0) {
  MaskRule r;
  r.column = std::move(glob);
  r.with.kind = kind;
  r.with.last = last;
  return r;
}

Policy policy_with(std::vector<MaskRule> rules) {
  Policy p;
  p.identity = "agent";
  p.mask = std::move(rules);
  return p;
}

std::shared_ptr<const MaskModel> build(const Policy& p, const Catalog* c) {
  auto key = mask::KeyedHash::create("k");
  auto m = MaskModel::build(p, c, key ? *key : nullptr);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error());
  return m.ok() ? *m : nullptr;
}

TEST(MaskModel, ColumnRulesMatchByGlobAndFirstRuleWins) {
  auto catalog = testing::masking_catalog();
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::partial, 4),
                              column_rule("*.*.ssn", mask::MaskSpec::Kind::redact),
                              column_rule("public.customers.e*", mask::MaskSpec::Kind::email)}),
                 catalog.get());
  ASSERT_TRUE(m);
  const mask::MaskFunction* ssn = m->column_function(kCustomers, 4);
  ASSERT_NE(ssn, nullptr);
  EXPECT_EQ(ssn->kind(), mask::MaskFunction::Kind::partial);
  ASSERT_NE(m->column_function(kCustomers, 3), nullptr);
  EXPECT_EQ(m->column_function(kCustomers, 3)->kind(), mask::MaskFunction::Kind::email);
  EXPECT_EQ(m->column_function(kCustomers, 2), nullptr);  // name
  EXPECT_EQ(m->column_function(kOrders, 1), nullptr);
  EXPECT_EQ(m->column_rule_name(kCustomers, 4), "public.customers.ssn");
  EXPECT_TRUE(m->active());
}

TEST(MaskModel, ViewsAreTracedThroughTheirDefinitions) {
  auto catalog = testing::masking_catalog();
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact),
                              column_rule("public.customers.email", mask::MaskSpec::Kind::email)}),
                 catalog.get());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_view(kContacts));
  EXPECT_EQ(m->view_column_taint(kContacts, 1), sql::Taint::clean);    // id
  EXPECT_EQ(m->view_column_taint(kContacts, 2), sql::Taint::clean);    // name
  EXPECT_EQ(m->view_column_taint(kContacts, 3), sql::Taint::tainted);  // email
  EXPECT_EQ(m->view_column_taint(kTaxIds, 2), sql::Taint::tainted);    // ssn AS tax_id
  EXPECT_EQ(m->view_column_taint(kTaxIdsUpper, 2), sql::Taint::tainted);  // upper(tax_id), a view over a view
  EXPECT_EQ(m->view_column_taint(kTaxIdsUpper, 1), sql::Taint::clean);
  EXPECT_FALSE(m->is_view(kCustomers));
  // A view column that shows a masked column as it is keeps that column's rule.
  ASSERT_NE(m->column_function(kContacts, 3), nullptr);
  EXPECT_EQ(m->column_function(kContacts, 3)->kind(), mask::MaskFunction::Kind::email);
  ASSERT_NE(m->column_function(kTaxIds, 2), nullptr);  // ssn AS tax_id
  EXPECT_EQ(m->column_function(kTaxIds, 2)->kind(), mask::MaskFunction::Kind::redact);
  EXPECT_EQ(m->column_function(kTaxIdsUpper, 2), nullptr);  // upper(): masked whole by taint
  EXPECT_EQ(m->column_function(kContacts, 2), nullptr);
  // The tracer learns the renamed column and the views' names.
  EXPECT_TRUE(m->oracle().column_is_masked("tax_id"));
  EXPECT_TRUE(m->oracle().relation_is_masked("", "tax_ids"));
  EXPECT_TRUE(m->oracle().relation_is_masked("public", "customers"));
  EXPECT_FALSE(m->oracle().relation_is_masked("", "orders"));
}

TEST(MaskModel, FunctionsAreCleanTaintedOrUntraceable) {
  auto catalog = testing::masking_catalog();
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  const sql::TaintOracle& o = m->oracle();
  EXPECT_EQ(o.function_taint("", "get_ssn"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("public", "get_ssn"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("", "order_count"), sql::Taint::clean);
  EXPECT_EQ(o.function_taint("", "plpgsql_fn"), sql::Taint::untraceable);
  EXPECT_EQ(o.function_taint("", "lower"), sql::Taint::clean);
  EXPECT_EQ(o.function_taint("pg_catalog", "anything"), sql::Taint::clean);
  EXPECT_EQ(o.function_taint("", "not_in_the_snapshot"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("pg_catalog", "query_to_xml"), sql::Taint::tainted);
}

TEST(MaskModel, PartitionsAndChildrenInheritTheirParentsRules) {
  CatalogData d = testing::sample_catalog_data();
  d.relations.push_back({16500, "public", "customers_2024", RelationKind::table, {}});
  d.relations.push_back({16501, "archive", "customers_2024_q1", RelationKind::table, {}});
  d.columns.push_back({16500, 1, "id", 23});
  d.columns.push_back({16500, 2, "ssn", 25});
  d.columns.push_back({16501, 1, "ssn", 25});
  d.inheritance.push_back({16500, kCustomers});
  d.inheritance.push_back({16501, 16500});
  auto catalog = Catalog::build(std::move(d));
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  EXPECT_NE(m->column_function(16500, 2), nullptr);
  EXPECT_NE(m->column_function(16501, 1), nullptr);
  EXPECT_EQ(m->column_function(16500, 1), nullptr);
  EXPECT_TRUE(m->oracle().relation_is_masked("archive", "customers_2024_q1"));
}

// A parent's scan returns its partitions' rows: a masked table attached
// under a parent of the client's own is masked through that parent too.
TEST(MaskModel, ParentsOfAMaskedPartitionTakeItsRules) {
  CatalogData d = testing::sample_catalog_data();
  d.relations.push_back({16510, "public", "my_parent", RelationKind::table, {}});
  d.relations.push_back({16511, "public", "my_grandparent", RelationKind::table, {}});
  d.columns.push_back({16510, 1, "id", 23});
  d.columns.push_back({16510, 2, "ssn", 25});
  d.columns.push_back({16511, 1, "ssn", 25});
  d.inheritance.push_back({kCustomers, 16510});
  d.inheritance.push_back({16510, 16511});
  auto catalog = Catalog::build(std::move(d));
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  EXPECT_NE(m->column_function(16510, 2), nullptr);
  EXPECT_NE(m->column_function(16511, 1), nullptr);
  EXPECT_EQ(m->column_function(16510, 1), nullptr);
  EXPECT_TRUE(m->oracle().relation_is_masked("public", "my_parent"));
  EXPECT_TRUE(m->oracle().relation_is_masked("", "my_grandparent"));
}

TEST(MaskModel, StatisticsValueColumnsAreMaskedWithAnyColumnRule) {
  CatalogData d = testing::sample_catalog_data();
  d.relations.push_back({12100, "pg_catalog", "pg_stats", RelationKind::view, {}});
  d.columns.push_back({12100, 1, "schemaname", 19});
  d.columns.push_back({12100, 2, "most_common_vals", 2277});
  d.columns.push_back({12100, 3, "histogram_bounds", 2277});
  auto catalog = Catalog::build(std::move(d));
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_view(12100));
  EXPECT_EQ(m->view_column_taint(12100, 1), sql::Taint::clean);
  EXPECT_EQ(m->view_column_taint(12100, 2), sql::Taint::tainted);
  EXPECT_EQ(m->view_column_taint(12100, 3), sql::Taint::tainted);
}

// An application's SQL carries what it stores and looks up as literals
// (`WHERE ssn = '...'`); a session of the same role reads it back from
// pg_stat_activity.query and the functions under it.
TEST(MaskModel, OtherSessionsSqlTextIsMaskedWithAnyColumnRule) {
  CatalogData d = testing::sample_catalog_data();
  d.columns.push_back({12004, 1, "pid", 23});
  d.columns.push_back({12004, 2, "state", 25});
  d.columns.push_back({12004, 3, "query", 25});
  auto catalog = Catalog::build(std::move(d));
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_view(12004));
  EXPECT_EQ(m->view_column_taint(12004, 1), sql::Taint::clean);
  EXPECT_EQ(m->view_column_taint(12004, 2), sql::Taint::clean);
  EXPECT_EQ(m->view_column_taint(12004, 3), sql::Taint::tainted);
  const sql::TaintOracle& o = m->oracle();
  EXPECT_TRUE(o.relation_is_masked("", "pg_stat_activity"));
  EXPECT_TRUE(o.relation_is_masked("pg_catalog", "pg_stat_activity"));
  EXPECT_EQ(o.function_taint("pg_catalog", "pg_stat_get_activity"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("", "pg_stat_get_backend_activity"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("public", "pg_stat_statements"), sql::Taint::tainted);
  EXPECT_EQ(o.field_call_taint("pg_stat_get_backend_activity"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("pg_catalog", "pg_stat_get_backend_pid"), sql::Taint::clean);
  // Without a snapshot too: the names decide.
  auto bare = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), nullptr);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->oracle().function_taint("pg_catalog", "pg_stat_get_activity"), sql::Taint::tainted);
  // Detectors alone mask no column: the text goes through them like any other.
  MaskRule detect;
  detect.detect = {mask::Detector::us_ssn};
  detect.with.kind = mask::MaskSpec::Kind::redact;
  auto detecting = build(policy_with({detect}), catalog.get());
  ASSERT_TRUE(detecting);
  EXPECT_FALSE(detecting->is_view(12004));
  EXPECT_EQ(detecting->oracle().function_taint("pg_catalog", "pg_stat_get_activity"), sql::Taint::clean);
}

TEST(MaskModel, DetectRulesAndDerivedValues) {
  auto catalog = testing::masking_catalog();
  MaskRule detect;
  detect.detect = {mask::Detector::email, mask::Detector::us_ssn};
  detect.with.kind = mask::MaskSpec::Kind::redact;
  auto m = build(policy_with({detect}), catalog.get());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->active());
  EXPECT_TRUE(m->detectors().contains(mask::Detector::email));
  EXPECT_FALSE(m->detectors().contains(mask::Detector::iban));
  EXPECT_EQ(m->derived_function().kind(), mask::MaskFunction::Kind::redact);
  auto nulls = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::null)}), catalog.get());
  EXPECT_EQ(nulls->derived_function().kind(), mask::MaskFunction::Kind::null);
}

TEST(MaskModel, HashNeedsAKeyAndIsStablePerKey) {
  auto catalog = testing::masking_catalog();
  Policy p = policy_with({column_rule("public.customers.phone", mask::MaskSpec::Kind::hash)});
  EXPECT_FALSE(MaskModel::build(p, catalog.get(), nullptr).ok());
  auto k1 = mask::KeyedHash::create("one");
  auto k2 = mask::KeyedHash::create("two");
  auto a = MaskModel::build(p, catalog.get(), *k1);
  auto b = MaskModel::build(p, catalog.get(), *k1);
  auto c = MaskModel::build(p, catalog.get(), *k2);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const auto* fa = (*a)->column_function(kCustomers, 6);
  const auto* fb = (*b)->column_function(kCustomers, 6);
  const auto* fc = (*c)->column_function(kCustomers, 6);
  ASSERT_TRUE(fa && fb && fc);
  EXPECT_EQ(fa->apply("+1 415 555 2671"), fb->apply("+1 415 555 2671"));
  EXPECT_NE(fa->apply("+1 415 555 2671"), fc->apply("+1 415 555 2671"));
}

TEST(MaskModel, GlobsCoverEveryPartAndCopyColumnsFollowTheRules) {
  auto catalog = testing::masking_catalog();
  auto m = build(policy_with({column_rule("public.customers.*", mask::MaskSpec::Kind::null),
                              column_rule("*.*.amount", mask::MaskSpec::Kind::redact)}),
                 catalog.get());
  ASSERT_TRUE(m);
  for (std::int16_t attnum = 1; attnum <= 8; ++attnum) EXPECT_NE(m->column_function(kCustomers, attnum), nullptr);
  EXPECT_EQ(m->column_function(kOrders, 1), nullptr);
  EXPECT_NE(m->column_function(kOrders, 3), nullptr);  // public.orders.amount
  EXPECT_NE(m->column_function(16410, 2), nullptr);    // hr.salaries.amount
  EXPECT_EQ(m->column_rule_name(16410, 2), "*.*.amount");

  const auto table = m->copy_columns(kCustomers);
  ASSERT_EQ(table.size(), 8u);
  EXPECT_EQ(table[3].name, "ssn");
  ASSERT_NE(table[3].function, nullptr);
  EXPECT_EQ(table[3].function->kind(), mask::MaskFunction::Kind::null);
  EXPECT_EQ(table[3].taint, sql::Taint::clean);
  const auto orders = m->copy_columns(kOrders);
  ASSERT_EQ(orders.size(), 4u);
  EXPECT_EQ(orders[0].function, nullptr);
  EXPECT_EQ(orders[0].type, 23u);
  const auto view = m->copy_columns(kTaxIdsUpper);
  ASSERT_EQ(view.size(), 2u);
  EXPECT_EQ(view[0].name, "id");
  EXPECT_EQ(view[0].taint, sql::Taint::tainted);  // customers.id is masked too here
  EXPECT_EQ(view[1].taint, sql::Taint::tainted);
  EXPECT_EQ(view[1].function, nullptr);  // upper(): masked whole by taint
  EXPECT_TRUE(m->copy_columns(99999).empty());
}

TEST(MaskModel, GlobPartsMatchNamesThatHoldDots) {
  CatalogData d = testing::sample_catalog_data();
  d.relations.push_back({16700, "public", "odd.table", RelationKind::table, {}});
  d.columns.push_back({16700, 1, "e.mail", 25});
  d.columns.push_back({16700, 2, "id", 23});
  auto catalog = Catalog::build(std::move(d));
  auto star = build(policy_with({column_rule("public.*.e*", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(star);
  EXPECT_NE(star->column_function(16700, 1), nullptr);  // * spans the dots of "odd.table" and "e.mail"
  EXPECT_EQ(star->column_function(16700, 2), nullptr);
  EXPECT_NE(star->column_function(kCustomers, 3), nullptr);  // email
  auto escaped = build(policy_with({column_rule("public.odd\\.table.e\\.mail", mask::MaskSpec::Kind::redact)}),
                       catalog.get());
  ASSERT_TRUE(escaped);
  EXPECT_NE(escaped->column_function(16700, 1), nullptr);
  EXPECT_EQ(escaped->column_function(kCustomers, 3), nullptr);
  auto spanning = build(policy_with({column_rule("**.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(spanning);
  EXPECT_NE(spanning->column_function(kCustomers, 4), nullptr);
  EXPECT_EQ(spanning->column_function(kCustomers, 3), nullptr);
  // A spanning glob that names the table by its escaped dot covers every
  // column of it: the name is matched as its parts, never as one dotted
  // string in which "odd.table" would read as two.
  auto whole_table = build(policy_with({column_rule("public.odd\\.table.**", mask::MaskSpec::Kind::redact)}),
                           catalog.get());
  ASSERT_TRUE(whole_table);
  EXPECT_NE(whole_table->column_function(16700, 1), nullptr);
  EXPECT_NE(whole_table->column_function(16700, 2), nullptr);
  EXPECT_EQ(whole_table->column_function(kCustomers, 3), nullptr);
  auto any_schema = build(policy_with({column_rule("**.odd\\.table.id", mask::MaskSpec::Kind::redact)}),
                          catalog.get());
  ASSERT_TRUE(any_schema);
  EXPECT_NE(any_schema->column_function(16700, 2), nullptr);
}

// What an admin might add on top of the masking catalog: views over SQL
// functions, SQL functions over each other, an opaque column behind a view.
std::shared_ptr<const Catalog> definitions_catalog() {
  CatalogData d = testing::sample_catalog_data();
  using K = RelationKind;
  auto view = [&](Oid oid, const char* name, const char* definition, std::vector<const char*> columns) {
    d.relations.push_back({oid, "public", name, K::view, definition});
    std::int16_t attnum = 0;
    for (const char* c : columns) d.columns.push_back({oid, ++attnum, c, 25});
  };
  view(16600, "counted", " SELECT customers.id,\n    order_count(customers.id) AS n\n   FROM customers;", {"id", "n"});
  view(16601, "ssn_by_fn", " SELECT customers.id,\n    ssn_via_fn(customers.id) AS s\n   FROM customers;", {"id", "s"});
  view(16602, "opaque", " SELECT customers.id,\n    plpgsql_fn(customers.id) AS u\n   FROM customers;", {"id", "u"});
  view(16603, "over_opaque", " SELECT opaque.id,\n    upper(opaque.u) AS uu\n   FROM opaque;", {"id", "uu"});
  d.relations.push_back({16604, "public", "no_definition", K::view, {}});
  d.columns.push_back({16604, 1, "x", 25});
  auto fn = [&](Oid oid, const char* name, const char* language, const char* body) {
    d.functions.push_back({oid, "public", name, language, body});
  };
  fn(16610, "order_count", "sql", "SELECT count(*) FROM public.orders WHERE customer_id = $1");
  fn(16611, "get_ssn", "sql", "SELECT ssn FROM public.customers WHERE id = $1");
  fn(16612, "ssn_via_fn", "sql", "SELECT get_ssn($1)");  // traced before get_ssn is known
  fn(16613, "plpgsql_fn", "plpgsql", "");
  fn(16614, "ping", "sql", "SELECT pong($1 - 1)");  // a clean cycle
  fn(16615, "pong", "sql", "SELECT CASE WHEN $1 > 0 THEN ping($1) ELSE 0 END");
  fn(16616, "tick", "sql", "SELECT tock($1)");  // a cycle that reads ssn
  fn(16617, "tock", "sql", "SELECT tick($1) || (SELECT ssn FROM public.customers LIMIT 1)");
  fn(16618, "alias_of_upper", "internal", "");
  d.functions.push_back({2147, "pg_catalog", "count", "internal", {}});
  d.functions.push_back({871, "pg_catalog", "upper", "internal", {}});
  return Catalog::build(std::move(d));
}

TEST(MaskModel, DefinitionsResolveThroughEachOtherInAnyOrder) {
  auto catalog = definitions_catalog();
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  const sql::TaintOracle& o = m->oracle();
  // A view over a clean SQL function stays clean, whatever the trace order.
  EXPECT_EQ(m->view_column_taint(16600, 2), sql::Taint::clean);
  EXPECT_FALSE(o.relation_is_masked("public", "counted"));
  // A function reaching ssn through another one, and a view over it.
  EXPECT_EQ(o.function_taint("", "ssn_via_fn"), sql::Taint::tainted);
  EXPECT_EQ(m->view_column_taint(16601, 2), sql::Taint::tainted);
  EXPECT_EQ(m->view_column_taint(16601, 1), sql::Taint::clean);
  // Cycles: clean when nothing in them reads a masked value, else tainted.
  EXPECT_EQ(o.function_taint("public", "ping"), sql::Taint::clean);
  EXPECT_EQ(o.function_taint("public", "pong"), sql::Taint::clean);
  EXPECT_EQ(o.function_taint("", "tick"), sql::Taint::tainted);
  EXPECT_EQ(o.function_taint("", "tock"), sql::Taint::tainted);
  // Opaque functions, `internal` ones outside pg_catalog included.
  EXPECT_EQ(o.function_taint("", "alias_of_upper"), sql::Taint::untraceable);
  EXPECT_EQ(m->view_column_taint(16602, 2), sql::Taint::untraceable);
  // What reads an untraceable view column is masked, not let through clean.
  EXPECT_TRUE(o.column_is_masked("u"));
  EXPECT_EQ(m->view_column_taint(16603, 2), sql::Taint::tainted);
  EXPECT_EQ(m->view_column_taint(16603, 1), sql::Taint::clean);
  // A user view without a definition: nothing is known, so it is masked.
  EXPECT_TRUE(m->is_view(16604));
  EXPECT_EQ(m->view_column_taint(16604, 1), sql::Taint::tainted);
  EXPECT_TRUE(o.relation_is_masked("", "no_definition"));
  EXPECT_FALSE(m->is_view(12004));  // pg_stat_activity: a system view, not traced
}

TEST(MaskModel, WithoutASnapshotRulesStillNameRelationsAndColumns) {
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), nullptr);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->oracle().relation_is_masked("", "customers"));
  EXPECT_TRUE(m->oracle().column_is_masked("ssn"));
  EXPECT_FALSE(m->oracle().column_is_masked("name"));
  EXPECT_EQ(m->column_function(kCustomers, 4), nullptr);  // nothing resolves: lineage masks computed columns
  EXPECT_FALSE(m->is_view(kContacts));  // nothing known: the policy gate refuses relations without a catalog
  EXPECT_EQ(m->oracle().function_taint("", "lower"), sql::Taint::tainted);  // could be anyone's lower()
  EXPECT_EQ(m->oracle().function_taint("pg_catalog", "lower"), sql::Taint::clean);
  auto spanning = build(policy_with({column_rule("**.ssn", mask::MaskSpec::Kind::redact)}), nullptr);
  ASSERT_TRUE(spanning);
  EXPECT_TRUE(spanning->oracle().relation_is_masked("hr", "anything"));  // ** could name any relation
  EXPECT_TRUE(spanning->oracle().column_is_masked("ssn"));
}

}  // namespace
}  // namespace pgw::policy

namespace pgw::policy {
namespace {

std::optional<MaskDenial> denial_of(const MaskModel& m, std::string_view sql, std::string_view encoding = "UTF8") {
  auto traced = sql::trace_lineage(sql, m.oracle());
  EXPECT_TRUE(traced.ok()) << sql;
  if (!traced.ok()) return MaskDenial{"<trace failed>", ""};
  return masking_denial(*traced, m, "agent", encoding);
}

// A COPY whose rows the masker could not split for sure is refused before it
// runs: options the server itself would refuse, and an encoding other than
// the session's (in SJIS a byte that looks like a backslash can be half a
// character).
TEST(MaskModel, CopyInAFormatTheMaskerCannotSplitIsRefused) {
  auto catalog = testing::masking_catalog();
  auto m = build(policy_with({column_rule("public.customers.ssn", mask::MaskSpec::Kind::redact)}), catalog.get());
  ASSERT_TRUE(m);
  EXPECT_FALSE(denial_of(*m, "COPY (SELECT ssn FROM customers) TO STDOUT WITH (FORMAT csv, HEADER 'OFF')"));
  EXPECT_FALSE(denial_of(*m, "COPY customers TO STDOUT WITH (FORMAT csv, ENCODING 'utf-8')"));
  EXPECT_FALSE(denial_of(*m, "COPY customers TO STDOUT WITH (FORMAT csv, ENCODING 'Unicode')"));
  auto sjis = denial_of(*m, "COPY customers TO STDOUT WITH (FORMAT csv, ENCODING 'SJIS')");
  ASSERT_TRUE(sjis);
  EXPECT_EQ(sjis->message,
            "pgwarden: COPY in an encoding other than the session's while masking is in force denied by policy for "
            "agent");
  EXPECT_FALSE(denial_of(*m, "COPY customers TO STDOUT WITH (ENCODING 'LATIN1')", "latin1"));
  EXPECT_TRUE(denial_of(*m, "COPY customers TO STDOUT WITH (ENCODING 'UTF8')", "LATIN1"));
  // A session in an encoding whose characters hold ASCII bytes: its own COPY
  // rows cannot be split for sure either.
  EXPECT_TRUE(denial_of(*m, "COPY customers TO STDOUT", "SJIS"));
  EXPECT_TRUE(denial_of(*m, "COPY customers TO STDOUT WITH (ENCODING 'Shift_JIS_2004')", "SHIFT_JIS_2004"));
  EXPECT_FALSE(denial_of(*m, "COPY customers TO STDOUT", "SQL_ASCII"));
  EXPECT_FALSE(denial_of(*m, "SELECT ssn FROM customers", "SJIS"));  // not a COPY: not this rule
  auto bad = denial_of(*m, "COPY (SELECT ssn FROM customers) TO STDOUT WITH (FORMAT csv, HEADER 'match')");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->message,
            "pgwarden: COPY with options pgwarden cannot read while masking is in force denied by policy for agent");
  EXPECT_NE(bad->detail.find("HEADER"), std::string::npos) << bad->detail;
}

}  // namespace
}  // namespace pgw::policy
