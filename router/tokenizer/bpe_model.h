// The byte-level BPE model: vocabulary, merge ranks, and the merge loop with a word cache.
//
// Words are raw bytes (the byte-level alphabet is applied implicitly: each byte starts as the id
// of its byte-level character). Merges are applied lowest rank first, leftmost first among equal
// ranks, which is what the reference's priority queue does.
//
// Thread-safety: immutable after construction except the word cache, which is split into shards,
// each behind its own absl::Mutex; Encode() may be called from any number of threads. A full
// shard is cleared (simple bounded memory, no LRU bookkeeping on the hot path).
#ifndef MOESERVE_ROUTER_TOKENIZER_BPE_MODEL_H_
#define MOESERVE_ROUTER_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace moeserve::tokenizer {

class BpeModel {
 public:
  // `vocab`: byte-level token text -> id. `merges`: pairs of byte-level token texts, best first.
  // Every byte's character, every merge side and every merge result must be in `vocab`.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      std::vector<std::pair<std::string, int32_t>> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges);

  // Appends the ids of `word` (raw bytes, non-empty) to `ids`.
  void Encode(std::string_view word, std::vector<int32_t>* ids) const;

  // Byte-level token text -> id.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // Id -> byte-level token text, nullptr for an id outside the model.
  const std::string* IdToToken(int32_t id) const;
  // Raw bytes of a token; nullptr for an id outside the model.
  const std::string* IdToBytes(int32_t id) const;
  // Number of tokens in the vocabulary.
  int32_t size() const { return static_cast<int32_t>(token_to_id_.size()); }
  // One past the largest id.
  int32_t id_limit() const { return static_cast<int32_t>(tokens_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  static constexpr int kCacheShards = 64;
  static constexpr size_t kCacheShardCapacity = 4096;
  static constexpr size_t kMaxCachedWordBytes = 256;
  struct CacheShard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::vector<int32_t>> words ABSL_GUARDED_BY(mu);
  };

  BpeModel() = default;
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* FindMerge(int32_t a, int32_t b) const {
    auto it = merges_.find(PairKey(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  // The merge loop without the cache; `symbols` holds the byte ids on entry.
  void MergeShortWord(std::vector<int32_t>* symbols) const;
  void MergeLongWord(std::vector<int32_t>* symbols) const;

  // Immutable after Create().
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  std::vector<std::string> tokens_;       // By id; empty string for holes.
  std::vector<std::string> token_bytes_;  // By id: raw bytes.
  std::vector<bool> present_;             // By id.
  std::array<int32_t, 256> byte_ids_{};
  absl::flat_hash_map<uint64_t, Merge> merges_;

  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_BPE_MODEL_H_
