#include "worker/kv/block_allocator.h"

#include <cassert>

#include "absl/strings/str_cat.h"

namespace moeserve {

BlockAllocator::BlockAllocator(int32_t num_blocks) : ref_counts_(num_blocks, 0) {
  free_.reserve(num_blocks);
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

absl::StatusOr<int32_t> BlockAllocator::Allocate() {
  if (free_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("KV cache full: all ", num_blocks(), " blocks in use"));
  }
  const int32_t b = free_.back();
  free_.pop_back();
  ref_counts_[b] = 1;
  return b;
}

void BlockAllocator::Ref(int32_t block) {
  assert(ref_counts_[block] > 0);
  ++ref_counts_[block];
}

void BlockAllocator::Unref(int32_t block) {
  assert(ref_counts_[block] > 0);
  if (--ref_counts_[block] == 0) free_.push_back(block);
}

absl::Status BlockTable::Reserve(int64_t tokens, BlockAllocator& allocator) {
  const size_t before = blocks_.size();
  while (capacity() < tokens) {
    auto block = allocator.Allocate();
    if (!block.ok()) {
      while (blocks_.size() > before) {
        allocator.Unref(blocks_.back());
        blocks_.pop_back();
      }
      return block.status();
    }
    blocks_.push_back(*block);
  }
  return absl::OkStatus();
}

void BlockTable::Release(BlockAllocator& allocator) {
  for (int32_t b : blocks_) allocator.Unref(b);
  blocks_.clear();
}

}  // namespace moeserve
