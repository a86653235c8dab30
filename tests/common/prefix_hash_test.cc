#include "common/prefix_hash.h"

#include <numeric>

#include "gtest/gtest.h"

namespace moeserve {
namespace {

TEST(PrefixBlockHashes, OnlyFullBlocksUpToTheLimit) {
  std::vector<int32_t> ids(40);
  std::iota(ids.begin(), ids.end(), 0);
  EXPECT_EQ(PrefixBlockHashes(ids, 8).size(), 2u);
  EXPECT_EQ(PrefixBlockHashes(ids, 1).size(), 1u);
  EXPECT_TRUE(PrefixBlockHashes(absl::MakeSpan(ids).subspan(0, 15), 8).empty());
  EXPECT_TRUE(PrefixBlockHashes(ids, 0).empty());
}

TEST(PrefixBlockHashes, ChainedOverThePrefix) {
  std::vector<int32_t> a(48, 7), b(48, 7);
  b[20] = 8;  // Second block differs.
  const auto ha = PrefixBlockHashes(a, 8), hb = PrefixBlockHashes(b, 8);
  ASSERT_EQ(ha.size(), 3u);
  EXPECT_EQ(ha[0], hb[0]);
  EXPECT_NE(ha[1], hb[1]);
  EXPECT_NE(ha[2], hb[2]);  // The third block is equal, but its prefix is not.
  EXPECT_NE(ha[0], ha[1]);
}

TEST(PrefixBlockHashes, StableAcrossProcesses) {
  // A fixed value: the worker and the router must agree.
  std::vector<int32_t> ids(16);
  std::iota(ids.begin(), ids.end(), 100);
  const std::vector<uint64_t> expected = {0x9c63148f4c7e223dULL};
  EXPECT_EQ(PrefixBlockHashes(ids, 1), expected);
}

}  // namespace
}  // namespace moeserve
