// The mask model store: models are built where blocking is fine (the catalog
// thread, a reload) and only looked up by loop threads; one built ahead is
// the one every thread gets, and a lookup that misses says so.
#include "engine/mask_model_store.h"

#include <gtest/gtest.h>

#include "../policy/sample_catalog.h"

namespace pgw::engine {
namespace {

policy::Config config_with_a_mask_rule() {
  policy::Config c;
  policy::Policy p;
  p.identity = "agent";
  p.upstream = "app";
  policy::MaskRule ssn;
  ssn.column = "public.customers.ssn";
  ssn.with.kind = mask::MaskSpec::Kind::redact;
  p.mask = {ssn};
  policy::Policy other;
  other.identity = "reader";
  other.upstream = "elsewhere";
  other.mask = {ssn};
  policy::Policy plain;
  plain.identity = "plain";
  c.policies = {p, other, plain};
  return c;
}

TEST(MaskModelStore, ModelsBuiltAheadAreSharedAndLookupsDoNotBuild) {
  const policy::Config config = config_with_a_mask_rule();
  auto catalog = policy::testing::masking_catalog();
  MaskModelStore store;
  store.build(config, 7, "app", catalog);
  // Only the masking policy of that upstream.
  EXPECT_EQ(store.size(), 1u);
  auto a = store.get(config, 7, config.policies[0], catalog);
  auto b = store.get(config, 7, config.policies[0], catalog);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(store.built_on_demand(), 0u);
  // Another generation (a reload nobody built ahead for): built on demand,
  // and counted.
  ASSERT_TRUE(store.get(config, 8, config.policies[0], catalog));
  EXPECT_EQ(store.built_on_demand(), 1u);
  store.forget_before(8);
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace pgw::engine
