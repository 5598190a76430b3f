#include "engine/cancel_registry.h"

#include <gtest/gtest.h>

namespace pgw::engine {
namespace {

TEST(CancelRegistry, IssuedKeysMapToTheUpstreamKeyAndNeverEqualIt) {
  CancelRegistry reg;
  CancelTarget t;
  t.process_id = 4242;
  t.secret_key = std::string("\x01\x02\x03\x04", 4);
  auto [pid, key] = reg.issue(t);
  EXPECT_EQ(pid, 4242);  // clients compare it with NotificationResponse pids
  EXPECT_EQ(key.size(), 4u);
  auto found = reg.find(pid, key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->secret_key, t.secret_key);
  EXPECT_FALSE(reg.find(pid, t.secret_key).has_value() && key != t.secret_key);
  reg.forget(pid, key);
  EXPECT_FALSE(reg.find(pid, key).has_value());
  EXPECT_EQ(reg.size(), 0u);
}

TEST(CancelRegistry, LongProtocol32KeysKeepTheirLength) {
  CancelRegistry reg;
  CancelTarget t;
  t.process_id = 1;
  t.secret_key = std::string(32, 'k');
  auto issued = reg.issue(t);
  EXPECT_EQ(issued.second.size(), 32u);
}

TEST(CancelRegistry, ManySessionsGetDistinctKeys) {
  CancelRegistry reg;
  CancelTarget t;
  t.process_id = 7;
  t.secret_key = "abcd";
  for (int i = 0; i < 1000; ++i) reg.issue(t);
  EXPECT_EQ(reg.size(), 1000u);
}

}  // namespace
}  // namespace pgw::engine
