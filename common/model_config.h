// The model's architecture (config.json) and decoding defaults (generation_config.json).
//
// Covers Hugging Face's `qwen3_moe` and the dense `qwen3` (the same code with no MoE layers).
// Parsing checks every field's type and range and names the file and field in its error.
#ifndef MOESERVE_COMMON_MODEL_CONFIG_H_
#define MOESERVE_COMMON_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve {

// rope_scaling / rope_parameters. Only "default" and "yarn" are accepted (what Qwen3 ships).
struct RopeScaling {
  std::string rope_type = "default";  // "default" or "yarn"
  double factor = 1.0;
  // YaRN options (HF defaults when absent).
  std::optional<double> attention_factor;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  int64_t original_max_position_embeddings = 0;  // 0: max_position_embeddings
  bool truncate = true;
};

struct ModelConfig {
  std::string model_type;  // "qwen3_moe" or "qwen3"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;      // dense MLP (mlp_only_layers, or every layer of qwen3)
  int64_t moe_intermediate_size = 0;  // each expert
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;             // explicit in Qwen3; hidden/heads only when absent
  int64_t num_experts = 0;          // 0 for dense
  int64_t num_experts_per_tok = 0;  // top-k
  int64_t decoder_sparse_step = 1;
  std::vector<int64_t> mlp_only_layers;  // each in [0, num_hidden_layers)
  bool norm_topk_prob = true;  // absent in config.json: false (HF's Qwen3MoeConfig default)
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 32768;
  RopeScaling rope_scaling;
  std::string torch_dtype;  // informational ("bfloat16", ...)

  // True when layer `layer` uses the sparse MoE block (HF: not in mlp_only_layers, has experts,
  // and (layer + 1) % decoder_sparse_step == 0).
  bool IsMoeLayer(int64_t layer) const;
  int64_t num_moe_layers() const;
};

struct GenerationConfig {
  std::vector<int64_t> eos_token_ids;  // from eos_token_id (int or list)
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
};

// `source` names the file in error messages.
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source);
absl::StatusOr<GenerationConfig> ParseGenerationConfig(const std::string& json_text,
                                                       const std::string& source);

// Reads DIR/config.json (required) and DIR/generation_config.json (optional: defaults when
// absent; eos_token_id and bos_token_id fall back to config.json's when it does not set them).
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir);
absl::StatusOr<GenerationConfig> LoadGenerationConfig(const std::string& dir);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_MODEL_CONFIG_H_
