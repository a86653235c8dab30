// The boundary between an attention worker and the expert shards, for one MoE layer.
//
// The worker computes the gate (top-k expert ids and weights per token) and hands the routed
// rows to a MoeDispatcher; the dispatcher gets them to whichever shards own those experts and
// returns, per token, the weighted sum of its experts' outputs. Implementations: in-process
// (engine/local_dispatcher.h) and, for the cluster, the data-plane all-to-all.
//
// Sums are accumulated in double: each expert's weighted output row (an fp32 product) is added
// into a double accumulator. Sums of up to top-k such terms are exact in double unless their
// magnitudes differ by more than ~2^29, so the result does not depend on how experts are split
// across shards or in which order partial sums arrive. The worker rounds to fp32 once.
#ifndef MOESERVE_COMMON_MOE_DISPATCH_H_
#define MOESERVE_COMMON_MOE_DISPATCH_H_

#include <cstdint>

#include "absl/status/status.h"

namespace moeserve {

struct MoeLayerBatch {
  int64_t layer = 0;                     // index in the model (0-based, dense layers counted)
  int64_t tokens = 0;                    // rows in this batch
  int64_t hidden = 0;                    // row width
  int64_t top_k = 0;                     // slots per token
  const float* x = nullptr;              // [tokens, hidden] post-attention-normed activations
  const int32_t* topk_ids = nullptr;     // [tokens, top_k]
  const float* topk_weights = nullptr;   // [tokens, top_k]
  double* out = nullptr;                 // [tokens, hidden], set (not added) by Run
};

class MoeDispatcher {
 public:
  virtual ~MoeDispatcher() = default;
  // Runs the routed experts for every (token, slot) of `batch` and writes the per-token sums.
  virtual absl::Status Run(const MoeLayerBatch& batch) = 0;
};

}  // namespace moeserve

#endif  // MOESERVE_COMMON_MOE_DISPATCH_H_
