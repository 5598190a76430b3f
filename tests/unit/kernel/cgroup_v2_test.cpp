#include "kernel/cgroup_v2.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "kernel_test_support.h"

namespace pgw::kernel {
namespace {

TEST(CgroupPath, Normalizes) {
  EXPECT_EQ(*normalize_cgroup_path(""), "/");
  EXPECT_EQ(*normalize_cgroup_path("/"), "/");
  EXPECT_EQ(*normalize_cgroup_path("agents"), "/agents");
  EXPECT_EQ(*normalize_cgroup_path("//agents//a1/"), "/agents/a1");
  EXPECT_FALSE(normalize_cgroup_path("/agents/../etc").ok());
  EXPECT_FALSE(normalize_cgroup_path("/./agents").ok());
}

TEST(CgroupPath, ContainsBySegment) {
  EXPECT_TRUE(cgroup_contains("/", "/a/b"));
  EXPECT_TRUE(cgroup_contains("/a", "/a"));
  EXPECT_TRUE(cgroup_contains("/a", "/a/b"));
  EXPECT_FALSE(cgroup_contains("/a", "/ab"));
  EXPECT_FALSE(cgroup_contains("/a/b", "/a"));
}

TEST(Cgroup2, DiscoversTheMountFromProcMounts) {
  auto cg = Cgroup2::discover();
  if (!cg.ok()) GTEST_SKIP() << cg.error();
  struct stat st {};
  ASSERT_EQ(::stat((cg->mount_point() + "/cgroup.procs").c_str(), &st), 0) << cg->mount_point();
  auto own = Cgroup2::cgroup_of_pid(::getpid());
  ASSERT_TRUE(own.ok()) << own.error();
  EXPECT_EQ(own->front(), '/');
}

TEST(Cgroup2, IdIsTheDirectoryInode) {
  auto cg = Cgroup2::discover();
  if (!cg.ok()) GTEST_SKIP() << cg.error();
  auto id = cg->id_of("/");
  ASSERT_TRUE(id.ok()) << id.error();
  struct stat st {};
  ASSERT_EQ(::stat(cg->mount_point().c_str(), &st), 0);
  EXPECT_EQ(*id, static_cast<uint64_t>(st.st_ino));
}

TEST(Cgroup2, CreateMoveResolveRemove) {
  PGW_REQUIRE_PRIVILEGES(false);
  auto cg = Cgroup2::discover();
  ASSERT_TRUE(cg.ok());
  const std::string parent = "/" + testing::unique_name("pgw-test-cg");
  testing::ScopedCgroup outer(*cg, parent);
  ASSERT_TRUE(outer.created());
  testing::ScopedCgroup inner(*cg, parent + "/inner");
  ASSERT_TRUE(inner.created());

  auto id = cg->id_of(inner.path());
  ASSERT_TRUE(id.ok()) << id.error();
  auto path = cg->path_of(*id);
  ASSERT_TRUE(path.ok()) << path.error();
  EXPECT_EQ(*path, inner.path());

  testing::Child child(*cg, inner.path(), [] {
    auto own = Cgroup2::cgroup_of_pid(::getpid());
    return own.ok() ? *own : own.error();
  });
  EXPECT_EQ(child.wait(), inner.path());

  ASSERT_TRUE(inner.remove().ok());
  ASSERT_TRUE(outer.remove().ok());
  EXPECT_FALSE(std::filesystem::exists(cg->absolute(parent)));
  EXPECT_FALSE(cg->path_of(*id).ok());
}

}  // namespace
}  // namespace pgw::kernel
