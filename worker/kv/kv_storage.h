// Paged KV cache storage: per layer, K and V arrays of [num_blocks, block_size, kv_heads,
// head_dim] floats. Storage owns the memory and hands kernels raw views; which block belongs
// to whom is BlockAllocator's business.
#ifndef MOESERVE_WORKER_KV_KV_STORAGE_H_
#define MOESERVE_WORKER_KV_KV_STORAGE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve {

struct KvShape {
  int64_t num_layers = 0;
  int64_t num_blocks = 0;
  int64_t block_size = 16;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;

  // Bytes one block takes across all layers (K and V).
  int64_t BytesPerBlock() const {
    return num_layers * 2 * block_size * num_kv_heads * head_dim * int64_t{sizeof(float)};
  }
};

class KvStorage {
 public:
  static absl::StatusOr<std::unique_ptr<KvStorage>> Create(const KvShape& shape);

  const KvShape& shape() const { return shape_; }
  float* k(int64_t layer) { return data_.get() + layer * 2 * layer_floats_; }
  float* v(int64_t layer) { return k(layer) + layer_floats_; }

 private:
  KvStorage(const KvShape& shape, std::unique_ptr<float[]> data, int64_t layer_floats)
      : shape_(shape), data_(std::move(data)), layer_floats_(layer_floats) {}

  KvShape shape_;
  std::unique_ptr<float[]> data_;
  int64_t layer_floats_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_KV_KV_STORAGE_H_
