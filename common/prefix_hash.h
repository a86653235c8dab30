// Prefix hashes for KV-cache affinity: a prompt's leading full blocks of tokens, each hashed
// together with everything before it, so equal hashes mean equal prefixes.
//
// The hash is a fixed function (not absl::Hash, which is seeded per process): the worker computes
// the hashes it reports in LoadReport::recent_prefixes, the router those of a new prompt, and
// they must agree across processes and builds.
#ifndef MOESERVE_COMMON_PREFIX_HASH_H_
#define MOESERVE_COMMON_PREFIX_HASH_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace moeserve {

inline constexpr int kPrefixBlockTokens = 16;

// hashes[i] identifies ids[0, block_tokens * (i + 1)); only full blocks count, and at most
// `max_blocks` of them. A prompt shorter than one block has no hashes.
std::vector<uint64_t> PrefixBlockHashes(absl::Span<const int32_t> ids, int max_blocks,
                                        int block_tokens = kPrefixBlockTokens);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_PREFIX_HASH_H_
