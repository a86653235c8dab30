// Prefix caching for the paged KV cache: full blocks are named by a hash chained over the
// token prefix they complete (hash(parent, block tokens)), kept after their sequence finishes,
// and handed to later sequences whose prompts start with the same tokens. Idle cached blocks
// (held by the cache alone) are evicted least recently used first when the allocator needs
// room. Reference counts live in BlockAllocator: the cache holds one per cached block, each
// sequence one per block in its table.
//
// Bookkeeping only (no KV storage). Thread-safety: none; owned by the worker's step loop.
#ifndef MOESERVE_WORKER_KV_BLOCK_CACHE_H_
#define MOESERVE_WORKER_KV_BLOCK_CACHE_H_

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "worker/kv/block_allocator.h"

namespace moeserve {

class BlockCache {
 public:
  BlockCache(BlockAllocator* allocator, int64_t block_size)
      : allocator_(allocator), block_size_(block_size) {}
  // Drops the cache's references (blocks still in sequences' tables stay theirs).
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // Hash naming the block that holds `tokens` (block_size of them) after prefix `parent`
  // (0 for the first block).
  static uint64_t ChainHash(uint64_t parent, std::span<const int32_t> tokens);

  // The longest run of cached blocks equal to the leading full blocks of `tokens`, at most
  // `max_blocks`. Each returned block carries a new reference for the caller. Counts the
  // query and hit tokens.
  std::vector<int32_t> Match(std::span<const int32_t> tokens, int64_t max_blocks);

  // Names `block` (full, holding tokens[i*bs, (i+1)*bs) of a sequence whose previous block has
  // hash `parent`) in the cache, which takes its own reference. Returns the block's hash.
  // A prefix already cached under another block keeps the older one.
  uint64_t Insert(uint64_t parent, std::span<const int32_t> block_tokens, int32_t block);

  // Evicts idle cached blocks, least recently used first, until `blocks` are free in the
  // allocator. False when that many cannot be freed.
  bool EnsureFree(int32_t blocks);

  int64_t cached_blocks() const { return static_cast<int64_t>(entries_.size()); }
  int64_t hit_tokens() const { return hit_tokens_; }
  int64_t query_tokens() const { return query_tokens_; }

 private:
  struct Entry {
    int32_t block;
    uint64_t last_use;
    std::vector<int32_t> tokens;  // checked on match: a hash collision never shares KV
  };
  BlockAllocator* allocator_;
  int64_t block_size_;
  std::unordered_map<uint64_t, Entry> entries_;  // by chained hash
  uint64_t tick_ = 0;
  int64_t hit_tokens_ = 0, query_tokens_ = 0;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_KV_BLOCK_CACHE_H_
