#include "worker/kv/block_cache.h"

#include "gtest/gtest.h"

namespace moeserve {
namespace {

std::vector<int32_t> Seq(int n, int offset = 0) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = i + offset;
  return v;
}

TEST(BlockCache, HashChainsOverThePrefix) {
  const auto a = Seq(4), b = Seq(4, 100);
  EXPECT_NE(BlockCache::ChainHash(0, a), BlockCache::ChainHash(1, a));
  EXPECT_NE(BlockCache::ChainHash(0, a), BlockCache::ChainHash(0, b));
  EXPECT_EQ(BlockCache::ChainHash(7, a), BlockCache::ChainHash(7, a));
}

TEST(BlockCache, MatchesLongestCachedPrefixAndCountsReferences) {
  BlockAllocator alloc(8);
  BlockCache cache(&alloc, 4);
  const auto tokens = Seq(12);
  std::vector<int32_t> blocks = {*alloc.Allocate(), *alloc.Allocate()};
  const uint64_t h0 = cache.Insert(0, std::span(tokens).subspan(0, 4), blocks[0]);
  cache.Insert(h0, std::span(tokens).subspan(4, 4), blocks[1]);
  EXPECT_EQ(alloc.ref_count(blocks[0]), 2);
  const auto hit = cache.Match(tokens, 3);
  EXPECT_EQ(hit, blocks);
  EXPECT_EQ(cache.hit_tokens(), 8);
  EXPECT_EQ(alloc.ref_count(blocks[1]), 3);
  // A different second block matches only the first.
  auto other = tokens;
  other[5] = 99;
  EXPECT_EQ(cache.Match(other, 3).size(), 1u);
  // The max_blocks limit.
  EXPECT_EQ(cache.Match(tokens, 1).size(), 1u);
}

TEST(BlockCache, EvictsIdleBlocksLeastRecentlyUsedFirst) {
  BlockAllocator alloc(3);
  BlockCache cache(&alloc, 2);
  const int32_t b0 = *alloc.Allocate(), b1 = *alloc.Allocate(), b2 = *alloc.Allocate();
  cache.Insert(0, Seq(2, 0), b0);
  cache.Insert(0, Seq(2, 10), b1);
  cache.Insert(0, Seq(2, 20), b2);
  alloc.Unref(b0);
  alloc.Unref(b1);  // b0, b1 now idle (cache only); b2 still held by its sequence
  cache.Match(Seq(2, 0), 1);  // b0 used again (and referenced by the caller)
  alloc.Unref(b0);
  EXPECT_TRUE(cache.EnsureFree(1));
  EXPECT_EQ(alloc.ref_count(b1), 0);  // b1 was the least recently used idle block
  EXPECT_EQ(alloc.ref_count(b0), 1);
  EXPECT_TRUE(cache.EnsureFree(2));
  EXPECT_FALSE(cache.EnsureFree(3));  // b2 is still in use
  EXPECT_EQ(cache.cached_blocks(), 1);
}

}  // namespace
}  // namespace moeserve
