// Argument checks for the ops in kernels/backend.h, shared by every backend.
//
// Each function checks one params struct (null pointers, non-positive or inconsistent shapes,
// strides shorter than a row, indices out of range where the struct carries the bound) and
// returns absl::InvalidArgumentError naming the op and the offending field, or OkStatus.
// Checks that scan index arrays (slots, ids, positions) read host memory, so backends whose
// indices live on a device must check those separately. Stateless and thread-safe.
#ifndef MOESERVE_KERNELS_VALIDATE_H_
#define MOESERVE_KERNELS_VALIDATE_H_

#include "absl/status/status.h"
#include "kernels/backend.h"

namespace moeserve::kernels {

absl::Status ValidateMatmul(const MatmulParams& p);
absl::Status ValidateRmsNorm(const RmsNormParams& p);
absl::Status ValidateRope(const RopeParams& p);
absl::Status ValidateKvWrite(const KvWriteParams& p);
absl::Status ValidateAttention(const AttentionParams& p);
absl::Status ValidateSiluMul(const SiluMulParams& p);
absl::Status ValidateTopKGate(const TopKGateParams& p);
absl::Status ValidateEmbedding(const EmbeddingParams& p);

}  // namespace moeserve::kernels

#endif  // MOESERVE_KERNELS_VALIDATE_H_
