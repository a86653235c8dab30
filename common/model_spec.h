// The tensors a Qwen3 / Qwen3-MoE checkpoint must hold: Hugging Face names and exact shapes.
//
// This is the one source of truth for weight names: the engine, the expert shards and the tiny
// model writer build names with the helpers below rather than by hand.
//
// CheckTensors compares a TensorStore against the config: every expected tensor (or the subset
// SpecOptions selects, for the worker / expert-shard split) must exist with its exact shape and
// an allowed dtype. Tensors the spec does not know (some checkpoints carry extras, e.g. rotary
// inv_freq buffers or a tied lm_head) are not an error: CheckTensors logs one warning line
// naming how many and the first few, and UnexpectedTensors lists them.
//
// Everything here is a pure function of its arguments; thread-safe.
#ifndef MOESERVE_COMMON_MODEL_SPEC_H_
#define MOESERVE_COMMON_MODEL_SPEC_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/model_config.h"
#include "common/safetensors.h"

namespace moeserve {

enum class LayerNormWeight { kInput, kPostAttention };
enum class AttentionWeight {
  kQProj,  // [num_attention_heads * head_dim, hidden_size]
  kKProj,  // [num_key_value_heads * head_dim, hidden_size]
  kVProj,  // [num_key_value_heads * head_dim, hidden_size]
  kOProj,  // [hidden_size, num_attention_heads * head_dim]
  kQNorm,  // [head_dim], RMSNorm over each query head
  kKNorm,  // [head_dim]
  kQBias,  // only with attention_bias: [num_attention_heads * head_dim]
  kKBias,  // [num_key_value_heads * head_dim]
  kVBias,  // [num_key_value_heads * head_dim]
  kOBias,  // [hidden_size]
};
// The SwiGLU projections of a routed expert or of a dense MLP.
enum class MlpWeight { kGateProj, kUpProj, kDownProj };

// "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight".
std::string EmbedTokensName();
std::string FinalNormName();
std::string LmHeadName();
// "model.layers.3.input_layernorm.weight", "model.layers.3.post_attention_layernorm.weight".
std::string LayerNormName(int64_t layer, LayerNormWeight which);
// "model.layers.3.self_attn.q_proj.weight", "...self_attn.q_norm.weight", "...q_proj.bias".
std::string AttentionWeightName(int64_t layer, AttentionWeight which);
// "model.layers.3.mlp.gate.weight": the router, [num_experts, hidden_size].
std::string RouterWeightName(int64_t layer);
// "model.layers.3.mlp.experts.17.gate_proj.weight".
std::string ExpertWeightName(int64_t layer, int64_t expert, MlpWeight which);
// "model.layers.3.mlp.gate_proj.weight" (dense layers).
std::string DenseMlpWeightName(int64_t layer, MlpWeight which);

struct ExpertWeightId {
  int64_t layer = 0;
  int64_t expert = 0;
  MlpWeight which = MlpWeight::kGateProj;
  bool operator==(const ExpertWeightId&) const = default;
};
// The inverse of ExpertWeightName; nullopt for any other name.
std::optional<ExpertWeightId> ParseExpertWeightName(std::string_view name);

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string
      dims;  // how the shape follows from the config: "[moe_intermediate_size, hidden_size]"
};

// Which tensors to expect. The defaults check the whole model.
struct SpecOptions {
  // Everything but the routed experts: embeddings, norms, attention, routers, dense MLPs,
  // lm_head. What an attention worker loads.
  bool non_expert = true;
  // Routed experts of MoE layers, those `expert_filter` accepts (all when null). What an
  // expert shard loads.
  bool experts = true;
  std::function<bool(int64_t layer, int64_t expert)> expert_filter;
  std::vector<DType> allowed_dtypes = {DType::kBF16, DType::kF16, DType::kF32};
  // Log one warning line when the store holds tensors the full spec does not name.
  bool warn_unexpected = true;
};

// In a fixed order: embeddings, then per layer norms, attention, router or dense MLP, experts,
// then the final norm and lm_head.
std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config, const SpecOptions& options);

// OK, or the first problem as one line naming the file (or the index / model file for a
// missing tensor) and the tensor, expected vs found, with a count of further problems.
absl::Status CheckTensors(const ModelConfig& config, const TensorStore& store,
                          const SpecOptions& options = {});

// Names in `store` that the full spec does not expect, sorted.
std::vector<std::string> UnexpectedTensors(const ModelConfig& config, const TensorStore& store);

// A predicate for OpenOptions::populate selecting what `options` selects (by name only; extras
// count as non-expert).
std::function<bool(std::string_view name)> SpecSelector(const SpecOptions& options);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_MODEL_SPEC_H_
