// Paged-KV bookkeeping: which cache blocks are free, who holds each, and each sequence's block
// table. Pure CPU bookkeeping with no knowledge of the storage (worker/kv/kv_storage.h) it
// indexes.
//
// Thread-safety: none; owned and used by the worker's step-loop thread.
#ifndef MOESERVE_WORKER_KV_BLOCK_ALLOCATOR_H_
#define MOESERVE_WORKER_KV_BLOCK_ALLOCATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve {

class BlockAllocator {
 public:
  explicit BlockAllocator(int32_t num_blocks);

  int32_t num_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t num_free() const { return static_cast<int32_t>(free_.size()); }

  // Takes a free block with reference count 1; ResourceExhausted when none is free.
  absl::StatusOr<int32_t> Allocate();
  // Adds a holder to an allocated block (shared prefixes).
  void Ref(int32_t block);
  // Drops a holder; the block returns to the free list when the last holder lets go.
  void Unref(int32_t block);
  int32_t ref_count(int32_t block) const { return ref_counts_[block]; }

 private:
  std::vector<int32_t> ref_counts_;
  std::vector<int32_t> free_;  // LIFO: recently freed blocks are warm in cache
};

// The blocks backing one sequence's KV cache, in position order.
class BlockTable {
 public:
  explicit BlockTable(int64_t block_size) : block_size_(block_size) {}

  int64_t block_size() const { return block_size_; }
  int64_t capacity() const { return static_cast<int64_t>(blocks_.size()) * block_size_; }
  const std::vector<int32_t>& blocks() const { return blocks_; }

  // Allocates blocks until `tokens` positions fit. On failure nothing new is kept.
  absl::Status Reserve(int64_t tokens, BlockAllocator& allocator);
  // Cache slot (block * block_size + offset) of position `pos` (< capacity()).
  int64_t Slot(int64_t pos) const {
    return static_cast<int64_t>(blocks_[pos / block_size_]) * block_size_ + pos % block_size_;
  }
  // Appends a block the caller already holds a reference to (a shared prefix block).
  void Append(int32_t block) { blocks_.push_back(block); }
  // Returns every block to the allocator.
  void Release(BlockAllocator& allocator);

 private:
  int64_t block_size_;
  std::vector<int32_t> blocks_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_KV_BLOCK_ALLOCATOR_H_
