// Batched SwiGLU experts for one shard: takes a layer's routed rows (from one or many attention
// workers), groups them by expert, runs each hosted expert once over all its rows, and writes
// every token's weighted sum over its hosted experts (double accumulators; see
// common/moe_dispatch.h for why).
//
// Workspace grows to the largest batch seen and is reused (no allocation in steady state).
// Thread-safety: one thread at a time (the shard's serving loop or the worker's step loop).
#ifndef MOESERVE_EXPERT_SHARD_EXPERT_COMPUTE_H_
#define MOESERVE_EXPERT_SHARD_EXPERT_COMPUTE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/model_config.h"
#include "common/moe_dispatch.h"
#include "expert_shard/expert_store.h"
#include "kernels/backend.h"

namespace moeserve {

class ExpertCompute {
 public:
  // `store` and `backend` must outlive this object.
  ExpertCompute(const ModelConfig& config, const ExpertStore* store, kernels::Backend* backend);

  // Computes batch.out[t] = Σ over slots s of t whose expert is hosted here of
  // weight[t, s] · expert(x[t]); slots with an expert hosted elsewhere are skipped, slots with
  // an id outside [0, num_experts) are an error. Tokens with no hosted slot get zeros.
  absl::Status Run(const MoeLayerBatch& batch);

  // Rows (token, slot pairs) computed so far, for statistics.
  int64_t rows_computed() const { return rows_computed_; }

 private:
  const ModelConfig config_;
  const ExpertStore* store_;
  kernels::Backend* backend_;
  int64_t rows_computed_ = 0;

  // Workspace.
  std::vector<int32_t> counts_, offsets_, row_token_;
  std::vector<float> row_weight_, x_rows_, gate_up_, act_, y_;
};

}  // namespace moeserve

#endif  // MOESERVE_EXPERT_SHARD_EXPERT_COMPUTE_H_
