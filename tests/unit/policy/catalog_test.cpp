// The catalog model: lookups, view dependencies, and resolve()'s "every
// relation this name could mean".
#include <gtest/gtest.h>

#include "policy/catalog.h"
#include "sample_catalog.h"

namespace pgw::policy {
namespace {

using testing::sample_catalog;

std::vector<std::string> names(const std::vector<RelationCandidate>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.qualified() + (c.exists() ? "" : "?"));
  return out;
}

using Names = std::vector<std::string>;
const std::vector<std::string> kDefault = {"app_owner", "public"};

TEST(Catalog, Lookups) {
  auto c = sample_catalog();
  ASSERT_NE(c->find("public", "customers"), nullptr);
  EXPECT_EQ(c->find("public", "customers")->oid, 16386u);
  EXPECT_EQ(c->find("public", "nope"), nullptr);
  EXPECT_EQ(c->find("hr", "customers"), nullptr);
  EXPECT_EQ(c->relation(16410)->qualified(), "hr.salaries");
  EXPECT_TRUE(c->has_schema("hr"));
  EXPECT_FALSE(c->has_schema("app_owner"));
  ASSERT_NE(c->function(2624), nullptr);
  EXPECT_EQ(c->function(2624)->name, "pg_read_file");
  EXPECT_EQ(c->function(99999), nullptr);
  auto cols = c->columns(16386);
  ASSERT_EQ(cols.size(), 8u);
  EXPECT_EQ(cols[3].name, "ssn");
  EXPECT_TRUE(c->columns(42).empty());
  EXPECT_EQ(c->default_search_path(), "\"$user\", public");
}

TEST(Catalog, VersionsAreUnique) {
  auto a = sample_catalog();
  auto b = sample_catalog();
  EXPECT_NE(a->version(), b->version());
}

TEST(Catalog, BaseRelationsThroughViewsOfViews) {
  auto c = sample_catalog();
  auto bases = c->base_relations(c->find("public", "payroll_summary")->oid);
  ASSERT_EQ(bases.size(), 2u);
  EXPECT_EQ(bases[0]->qualified(), "public.payroll");
  EXPECT_EQ(bases[1]->qualified(), "hr.salaries");
  EXPECT_TRUE(c->base_relations(c->find("public", "customers")->oid).empty());
}

TEST(Catalog, BaseRelationsSurviveCycles) {
  CatalogData d;
  d.relations = {{1, "s", "a", RelationKind::view, {}}, {2, "s", "b", RelationKind::view, {}}};
  d.view_dependencies = {{1, 2}, {2, 1}, {1, 1}};
  auto c = Catalog::build(std::move(d));
  auto bases = c->base_relations(1);
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_EQ(bases[0]->name, "b");
}

TEST(Resolve, QualifiedMeansExactly) {
  auto c = sample_catalog();
  EXPECT_EQ(names(resolve(c.get(), "hr", "salaries", kDefault)), (Names{"hr.salaries"}));
  EXPECT_EQ(names(resolve(c.get(), "hr", "later", kDefault)), (Names{"hr.later?"}));
  EXPECT_EQ(names(resolve(nullptr, "hr", "salaries", kDefault)), (Names{"hr.salaries?"}));
}

TEST(Resolve, UnqualifiedStopsAtTheFirstHolder) {
  auto c = sample_catalog();
  // app_owner.customers could be created later and would win: it counts.
  EXPECT_EQ(names(resolve(c.get(), "", "customers", kDefault)), (Names{"app_owner.customers?", "public.customers"}));
  EXPECT_EQ(names(resolve(c.get(), "", "customers", Names{"public", "hr"})), (Names{"public.customers"}));
  EXPECT_EQ(names(resolve(c.get(), "", "customers", Names{"hr", "public"})),
            (Names{"hr.customers?", "public.customers"}));
}

TEST(Resolve, NotFoundMeansEverySchemaOfThePath) {
  auto c = sample_catalog();
  EXPECT_EQ(names(resolve(c.get(), "", "salaries", kDefault)), (Names{"app_owner.salaries?", "public.salaries?"}));
  EXPECT_EQ(names(resolve(c.get(), "", "salaries", Names{"public", "hr"})), (Names{"public.salaries?", "hr.salaries"}));
  EXPECT_EQ(names(resolve(c.get(), "", "x", Names{})), Names{});
}

TEST(Resolve, PgCatalogFirstUnlessListed) {
  auto c = sample_catalog();
  EXPECT_EQ(names(resolve(c.get(), "", "pg_class", kDefault)), (Names{"pg_catalog.pg_class"}));
  // Listed later: public is searched first and could shadow it.
  EXPECT_EQ(names(resolve(c.get(), "", "pg_class", Names{"public", "pg_catalog"})),
            (Names{"public.pg_class?", "pg_catalog.pg_class"}));
  // Without a snapshot, only pg_* names can be system relations.
  EXPECT_EQ(names(resolve(nullptr, "", "pg_class", kDefault)),
            (Names{"pg_catalog.pg_class?", "app_owner.pg_class?", "public.pg_class?"}));
  EXPECT_EQ(names(resolve(nullptr, "", "customers", kDefault)), (Names{"app_owner.customers?", "public.customers?"}));
}

TEST(Resolve, UnknownSchemaOnThePath) {
  auto c = sample_catalog();
  EXPECT_EQ(names(resolve(c.get(), "", "customers", Names{"*", "public"})), (Names{"*.customers?", "public.customers"}));
}

TEST(Resolve, ExplicitPgTempIsWalked) {
  auto c = sample_catalog();
  EXPECT_EQ(names(resolve(c.get(), "", "customers", Names{"pg_temp", "public"})),
            (Names{"pg_temp.customers?", "public.customers"}));
  EXPECT_EQ(names(resolve(c.get(), "pg_temp", "t", kDefault)), (Names{"pg_temp.t?"}));
}

}  // namespace
}  // namespace pgw::policy
