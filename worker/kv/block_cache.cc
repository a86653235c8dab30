#include "worker/kv/block_cache.h"

#include <algorithm>

namespace moeserve {

uint64_t BlockCache::ChainHash(uint64_t parent, std::span<const int32_t> tokens) {
  // FNV-1a over the parent hash and the tokens, then a final avalanche (splitmix64).
  uint64_t h = 1469598103934665603ull ^ parent;
  for (int32_t t : tokens) {
    h ^= static_cast<uint32_t>(t);
    h *= 1099511628211ull;
  }
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return (h ^ (h >> 31)) | 1;  // never 0, the "no parent" value
}

BlockCache::~BlockCache() {
  for (const auto& [h, e] : entries_) allocator_->Unref(e.block);
}

std::vector<int32_t> BlockCache::Match(std::span<const int32_t> tokens, int64_t max_blocks) {
  std::vector<int32_t> out;
  const int64_t full = std::min<int64_t>(static_cast<int64_t>(tokens.size()) / block_size_,
                                         max_blocks);
  query_tokens_ += static_cast<int64_t>(tokens.size());
  uint64_t parent = 0;
  for (int64_t i = 0; i < full; ++i) {
    const auto block_tokens = tokens.subspan(i * block_size_, block_size_);
    const uint64_t h = ChainHash(parent, block_tokens);
    auto it = entries_.find(h);
    if (it == entries_.end() ||
        !std::equal(block_tokens.begin(), block_tokens.end(), it->second.tokens.begin())) {
      break;
    }
    it->second.last_use = ++tick_;
    allocator_->Ref(it->second.block);
    out.push_back(it->second.block);
    parent = h;
  }
  hit_tokens_ += static_cast<int64_t>(out.size()) * block_size_;
  return out;
}

uint64_t BlockCache::Insert(uint64_t parent, std::span<const int32_t> block_tokens,
                            int32_t block) {
  const uint64_t h = ChainHash(parent, block_tokens);
  auto [it, inserted] = entries_.try_emplace(h);
  if (inserted) {
    it->second.block = block;
    it->second.tokens.assign(block_tokens.begin(), block_tokens.end());
    allocator_->Ref(block);
  }
  it->second.last_use = ++tick_;
  return h;
}

bool BlockCache::EnsureFree(int32_t blocks) {
  if (allocator_->num_free() >= blocks) return true;
  // Idle entries (the cache's reference is the only one), oldest first.
  std::vector<std::pair<uint64_t, uint64_t>> idle;  // (last_use, hash)
  for (const auto& [h, e] : entries_) {
    if (allocator_->ref_count(e.block) == 1) idle.emplace_back(e.last_use, h);
  }
  std::sort(idle.begin(), idle.end());
  for (const auto& [use, h] : idle) {
    if (allocator_->num_free() >= blocks) break;
    auto it = entries_.find(h);
    allocator_->Unref(it->second.block);
    entries_.erase(it);
  }
  return allocator_->num_free() >= blocks;
}

}  // namespace moeserve
