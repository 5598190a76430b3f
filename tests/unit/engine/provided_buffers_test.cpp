// ProvidedBuffers' spares: what a receive falls back to when the ring is
// empty. They share the ring buffers' id space and reference counting, are
// freed when their last reference goes, and never count as ring buffers.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "engine/ring.h"

namespace pgw::engine {
namespace {

class ProvidedBuffersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = ring_.init(8);
    if (!st) GTEST_SKIP() << "io_uring unavailable: " << st.error();
    st = buffers_.init(ring_.raw(), 1, 4, 1024);
    ASSERT_TRUE(st.ok()) << st.error();
  }
  Ring ring_;
  ProvidedBuffers buffers_;
};

TEST_F(ProvidedBuffersTest, SparesHaveIdsAfterTheRingAndAreFreedWithTheirLastReference) {
  auto a = buffers_.borrow_spare();
  auto b = buffers_.borrow_spare();
  ASSERT_TRUE(a && b);
  EXPECT_GE(*a, buffers_.count());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(buffers_.spares_in_use(), 2u);
  // A receive completed into each; a send of part of `a` holds it longer.
  buffers_.take(*a);
  buffers_.take(*b);
  std::memset(buffers_.data(*a), 'a', ProvidedBuffers::kSpareSize);
  std::memset(buffers_.data(*b), 'b', ProvidedBuffers::kSpareSize);
  EXPECT_EQ(buffers_.data(*a)[ProvidedBuffers::kSpareSize - 1], 'a');
  EXPECT_EQ(buffers_.in_use(), 0u);  // spares are not ring buffers
  buffers_.retain(*a);
  EXPECT_FALSE(buffers_.release(*a));
  EXPECT_EQ(buffers_.spares_in_use(), 2u);
  EXPECT_FALSE(buffers_.release(*a));  // freed, but no ring buffer came back
  EXPECT_FALSE(buffers_.release(*b));
  EXPECT_EQ(buffers_.spares_in_use(), 0u);
  // Freed slots are reused rather than growing the table.
  auto c = buffers_.borrow_spare();
  ASSERT_TRUE(c);
  EXPECT_TRUE(*c == *a || *c == *b);
  buffers_.take(*c);
  buffers_.release(*c);
}

TEST_F(ProvidedBuffersTest, SparesRunOutAtTheLimit) {
  std::set<uint16_t> ids;
  for (uint32_t i = 0; i < ProvidedBuffers::kMaxSpares; ++i) {
    auto s = buffers_.borrow_spare();
    ASSERT_TRUE(s) << i;
    ids.insert(*s);
  }
  EXPECT_EQ(ids.size(), ProvidedBuffers::kMaxSpares);
  EXPECT_FALSE(buffers_.borrow_spare());
  for (uint16_t id : ids) {
    buffers_.take(id);
    buffers_.release(id);
  }
  EXPECT_EQ(buffers_.spares_in_use(), 0u);
  EXPECT_TRUE(buffers_.borrow_spare());
}

}  // namespace
}  // namespace pgw::engine
