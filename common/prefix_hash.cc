#include "common/prefix_hash.h"

#include <algorithm>

namespace moeserve {
namespace {

// SplitMix64's finalizer: a fixed, well-mixing 64-bit permutation.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<uint64_t> PrefixBlockHashes(absl::Span<const int32_t> ids, int max_blocks,
                                        int block_tokens) {
  std::vector<uint64_t> hashes;
  if (block_tokens <= 0 || max_blocks <= 0) return hashes;
  const size_t full = ids.size() / static_cast<size_t>(block_tokens);
  const size_t blocks = std::min(full, static_cast<size_t>(max_blocks));
  hashes.reserve(blocks);
  uint64_t h = Mix(static_cast<uint64_t>(block_tokens));
  for (size_t b = 0; b < blocks; ++b) {
    for (int t = 0; t < block_tokens; ++t) {
      const auto id = static_cast<uint32_t>(ids[b * block_tokens + t]);
      h = Mix(h ^ id);
    }
    hashes.push_back(h);
  }
  return hashes;
}

}  // namespace moeserve
