// Views of the dense (non-expert) weights an attention worker runs: embeddings, attention,
// norms, the MoE gate, dense MLPs and lm_head. The views point into the mmapped checkpoint
// (common/safetensors.h); the TensorStore must outlive them.
#ifndef MOESERVE_WORKER_MODEL_WEIGHTS_H_
#define MOESERVE_WORKER_MODEL_WEIGHTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "common/safetensors.h"
#include "common/weight_ref.h"

namespace moeserve {

struct LayerWeights {
  WeightRef input_norm, post_attention_norm;        // [hidden]
  WeightRef q_proj, k_proj, v_proj, o_proj;          // HF Linear layouts
  WeightRef q_norm, k_norm;                          // [head_dim]
  bool moe = false;
  WeightRef router;                                  // [num_experts, hidden] (moe)
  WeightRef mlp_gate, mlp_up, mlp_down;              // dense MLP (!moe)
};

struct ModelWeights {
  WeightRef embed;       // [vocab, hidden]
  WeightRef final_norm;  // [hidden]
  WeightRef lm_head;     // [vocab, hidden] (the embedding when tied)
  std::vector<LayerWeights> layers;

  static absl::StatusOr<ModelWeights> Load(const ModelConfig& config, const TensorStore& store);
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_MODEL_WEIGHTS_H_
