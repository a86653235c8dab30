#include "worker/kv/block_allocator.h"

#include <set>

#include "gtest/gtest.h"

namespace moeserve {
namespace {

TEST(BlockAllocator, AllocatesEveryBlockOnceThenReportsExhaustion) {
  BlockAllocator a(4);
  std::set<int32_t> seen;
  for (int i = 0; i < 4; ++i) {
    auto b = a.Allocate();
    ASSERT_TRUE(b.ok());
    EXPECT_TRUE(seen.insert(*b).second);
  }
  EXPECT_EQ(a.num_free(), 0);
  EXPECT_EQ(a.Allocate().status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(BlockAllocator, SharedBlockFreedByLastHolder) {
  BlockAllocator a(2);
  const int32_t b = *a.Allocate();
  a.Ref(b);
  EXPECT_EQ(a.ref_count(b), 2);
  a.Unref(b);
  EXPECT_EQ(a.num_free(), 1);
  a.Unref(b);
  EXPECT_EQ(a.num_free(), 2);
}

TEST(BlockTable, ReserveMapsPositionsToSlots) {
  BlockAllocator a(8);
  BlockTable t(4);
  ASSERT_TRUE(t.Reserve(9, a).ok());
  ASSERT_EQ(t.blocks().size(), 3u);
  EXPECT_EQ(t.capacity(), 12);
  for (int64_t pos = 0; pos < 12; ++pos) {
    EXPECT_EQ(t.Slot(pos), int64_t{t.blocks()[pos / 4]} * 4 + pos % 4);
  }
  t.Release(a);
  EXPECT_EQ(a.num_free(), 8);
  EXPECT_TRUE(t.blocks().empty());
}

TEST(BlockTable, FailedReserveKeepsNothingNew) {
  BlockAllocator a(3);
  BlockTable t(2);
  ASSERT_TRUE(t.Reserve(2, a).ok());
  EXPECT_EQ(t.Reserve(100, a).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(t.blocks().size(), 1u);
  EXPECT_EQ(a.num_free(), 2);
  t.Release(a);
}

}  // namespace
}  // namespace moeserve
