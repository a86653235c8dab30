#include "common/weight_ref.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace moeserve {

absl::StatusOr<WeightRef> GetWeight(const TensorStore& store, const std::string& name,
                                    const std::vector<int64_t>& shape) {
  ASSIGN_OR_RETURN(TensorInfo info, store.Get(name));
  if (info.shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        info.file, ": tensor \"", name, "\" has shape [", absl::StrJoin(info.shape, ", "),
        "], expected [", absl::StrJoin(shape, ", "), "]"));
  }
  WeightRef ref;
  ref.data = info.data;
  switch (info.dtype) {
    case DType::kBF16:
      ref.type = kernels::WeightType::kBF16;
      break;
    case DType::kF16:
      ref.type = kernels::WeightType::kF16;
      break;
    case DType::kF32:
      ref.type = kernels::WeightType::kF32;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          info.file, ": tensor \"", name, "\" has an unsupported dtype (BF16, F16, F32 only)"));
  }
  return ref;
}

}  // namespace moeserve
