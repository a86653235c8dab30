// A typed view of one weight tensor inside a mapped checkpoint (common/safetensors.h), as the
// kernels take it: a pointer and the storage type. Attention workers and expert shards both look
// their weights up by name with GetWeight, which checks the shape. The TensorStore must outlive
// every view taken from it.
#ifndef MOESERVE_COMMON_WEIGHT_REF_H_
#define MOESERVE_COMMON_WEIGHT_REF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/safetensors.h"
#include "kernels/backend.h"

namespace moeserve {

struct WeightRef {
  const void* data = nullptr;
  kernels::WeightType type = kernels::WeightType::kBF16;
};

// Looks up `name`, checks its shape is `shape`, and returns a view. InvalidArgument names the
// file and tensor when the shape or dtype (BF16, F16, F32) is wrong; NotFound when it is absent.
absl::StatusOr<WeightRef> GetWeight(const TensorStore& store, const std::string& name,
                                    const std::vector<int64_t>& shape);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_WEIGHT_REF_H_
