#include "worker/kv/kv_storage.h"

#include <new>

#include "absl/strings/str_cat.h"

namespace moeserve {

absl::StatusOr<std::unique_ptr<KvStorage>> KvStorage::Create(const KvShape& s) {
  if (s.num_layers <= 0 || s.num_blocks <= 0 || s.block_size <= 0 || s.num_kv_heads <= 0 ||
      s.head_dim <= 0) {
    return absl::InvalidArgumentError("KV storage: every dimension must be positive");
  }
  const int64_t layer_floats = s.num_blocks * s.block_size * s.num_kv_heads * s.head_dim;
  std::unique_ptr<float[]> data(new (std::nothrow) float[2 * s.num_layers * layer_floats]());
  if (!data) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV storage: cannot allocate ", s.BytesPerBlock() * s.num_blocks, " bytes"));
  }
  return std::unique_ptr<KvStorage>(new KvStorage(s, std::move(data), layer_floats));
}

}  // namespace moeserve
