// The cgroup resolver: paths are found on its own thread, cached for the
// loop threads' lookups, and the cache stays within its bound.
#include "engine/cgroup_resolver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <future>

#include "../kernel/kernel_test_support.h"

namespace pgw::engine {
namespace {

std::string resolve_now(CgroupResolver& r, uint64_t id) {
  std::promise<std::string> p;
  auto f = p.get_future();
  r.resolve(id, [&p](std::string path) { p.set_value(std::move(path)); });
  return f.get();
}

TEST(CgroupResolver, ResolvesOffTheCallersThreadAndCaches) {
  auto cg = kernel::Cgroup2::discover();
  if (!cg.ok()) GTEST_SKIP() << cg.error();
  if (::geteuid() != 0) GTEST_SKIP() << "creating a cgroup needs root";
  const std::string parent = "/" + kernel::testing::unique_name("pgw-test-resolver");
  kernel::testing::ScopedCgroup outer(*cg, parent);
  ASSERT_TRUE(outer.created());
  auto id = cg->id_of(parent);
  ASSERT_TRUE(id.ok()) << id.error();

  CgroupResolver resolver(*cg, 2);
  EXPECT_FALSE(resolver.cached(*id).has_value());  // a loop thread never walks the tree
  EXPECT_EQ(resolve_now(resolver, *id), parent);
  EXPECT_EQ(resolver.cached(*id), parent);
  EXPECT_EQ(resolve_now(resolver, ~0ull), "");  // no such cgroup: empty, not cached
  EXPECT_EQ(resolver.size(), 1u);

  // Ids are never reused: the cached path stays right after the cgroup is gone.
  ASSERT_TRUE(outer.remove().ok());
  EXPECT_EQ(resolver.cached(*id), parent);

  // Bounded: the least recently used id goes first.
  auto root = cg->id_of("/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(resolve_now(resolver, *root), "/");
  const std::string other = "/" + kernel::testing::unique_name("pgw-test-resolver");
  kernel::testing::ScopedCgroup second(*cg, other);
  ASSERT_TRUE(second.created());
  EXPECT_EQ(resolve_now(resolver, *cg->id_of(other)), other);
  EXPECT_EQ(resolver.size(), 2u);
  EXPECT_FALSE(resolver.cached(*id).has_value());
}

}  // namespace
}  // namespace pgw::engine
