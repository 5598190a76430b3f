#include "engine/proc_identity.h"
#include "kernel/cgroup_v2.h"

#include <gtest/gtest.h>

namespace pgw::engine {
namespace {

TEST(ProcIdentity, FindsTheUnifiedLineInAHybridLayout) {
  const char* hybrid =
      "12:pids:/user.slice\n"
      "4:memory:/process_api/abc\n"
      "1:name=systemd:/\n"
      "0::/agents/a1\n";
  EXPECT_EQ(kernel::cgroup_path_from_proc(hybrid), "/agents/a1");
  EXPECT_EQ(kernel::cgroup_path_from_proc("0::/\n"), "/");
  EXPECT_EQ(kernel::cgroup_path_from_proc("0::/kubepods.slice/x"), "/kubepods.slice/x");
}

TEST(ProcIdentity, NoUnifiedLineMeansUnknown) {
  EXPECT_EQ(kernel::cgroup_path_from_proc("4:memory:/a\n1:cpu:/b\n"), std::nullopt);
  EXPECT_EQ(kernel::cgroup_path_from_proc(""), std::nullopt);
}

TEST(ProcIdentity, CommLosesItsNewline) {
  EXPECT_EQ(comm_from_proc("psql\n"), "psql");
  EXPECT_EQ(comm_from_proc("python3"), "python3");
}

}  // namespace
}  // namespace pgw::engine
