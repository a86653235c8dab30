// Deterministic random Qwen3-MoE checkpoints for tests, demos and benchmarks.
//
// The default TinyModelOptions is Qwen3-235B-A22B scaled down while keeping what makes it
// distinctive: 128 experts with 8 active and norm_topk_prob, GQA 16:1, an explicit head_dim that
// differs from hidden/heads (16 x 32 = 512 != 128), per-head q/k RMSNorm, the full 151,936-token
// vocabulary (so the real Qwen3 tokenizer works), rope_theta 1e6, untied lm_head. Other shapes
// (e.g. Qwen3-30B-A3B layers with fewer of them) come from changing the options.
//
// Weights are a pure function of (options, seed, tensor name): each tensor has its own
// xoshiro256** stream seeded from splitmix64(seed) and the FNV-1a hash of its name, and normal
// variates are Irwin-Hall sums of 12 uniforms computed in integers, so no libm call is involved
// and the same seed gives the same bytes on every machine and compiler. Files contain no
// timestamps. Scales (N(mean, std) per tensor, stored as BF16 rounded to nearest even):
//   embed_tokens                      N(0, 1)
//   q/k/v_proj, router, gate/up_proj  N(0, gain / sqrt(fan_in)), gain 1 (router: router_gain)
//   o_proj, down_proj                 N(0, 1 / sqrt(fan_in))
//   every RMSNorm weight (incl. q/k)  N(1, norm_jitter)
//   attention biases                  N(0, 0.1)
//   lm_head                           N(0, lm_head_gain / sqrt(hidden))
// The final RMSNorm makes the last hidden state unit-RMS, so logits have std ~lm_head_gain (8):
// top logits stand several units apart and the softmax is peaked, which keeps greedy decoding
// stable under reordered float sums. (No scale makes it immune to large numeric differences,
// e.g. BF16 activations vs an FP32 reference: compare logits with a tolerance there.)
//
// Thread-safety: free functions of their arguments.
#ifndef MOESERVE_COMMON_TINY_MODEL_H_
#define MOESERVE_COMMON_TINY_MODEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model_config.h"

namespace moeserve {

struct TinyModelOptions {
  uint64_t seed = 0;

  // Architecture (written to config.json; validated by ParseModelConfig).
  int64_t vocab_size = 151936;
  int64_t hidden_size = 128;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 16;
  int64_t num_key_value_heads = 1;
  int64_t head_dim = 32;
  int64_t num_experts = 128;
  int64_t num_experts_per_tok = 8;
  int64_t moe_intermediate_size = 64;
  int64_t intermediate_size = 384;  // dense MLP of mlp_only_layers (none by default)
  std::vector<int64_t> mlp_only_layers;
  int64_t decoder_sparse_step = 1;
  bool norm_topk_prob = true;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;
  int64_t max_position_embeddings = 40960;
  int64_t bos_token_id = 151643;  // <|endoftext|>
  int64_t eos_token_id = 151645;  // <|im_end|> (config.json)

  // Weight scales (see the file comment).
  double lm_head_gain = 8.0;
  double router_gain = 1.0;
  double norm_jitter = 0.1;

  // 0: one model.safetensors. Otherwise shards of at most this many bytes (a tensor larger
  // than that gets a shard of its own) plus model.safetensors.index.json, as HF writes them.
  int64_t max_shard_bytes = 0;
  // Copy tokenizer.json and tokenizer_config.json from here; empty: write no tokenizer.
  std::string tokenizer_dir;

  // Qwen3-30B-A3B's layer shapes (hidden 2048, 32:4 heads of 128, 128 experts of 768, top-8)
  // with `layers` layers.
  static TinyModelOptions Qwen3_30B_A3B(int64_t layers);
};

// The config.json / generation_config.json text WriteTinyModel writes (sorted keys, 2-space
// indent). generation_config has Qwen3's thinking-mode sampling defaults.
std::string TinyModelConfigJson(const TinyModelOptions& options);
std::string TinyGenerationConfigJson(const TinyModelOptions& options);
// ParseModelConfig of TinyModelConfigJson: fails when the options are inconsistent.
absl::StatusOr<ModelConfig> TinyModelConfig(const TinyModelOptions& options);

// Fills `out` with the BF16 bits of tensor `name` (row-major; out.size() is the element count).
// InvalidArgument for a name the spec does not know.
absl::Status FillTinyTensor(const TinyModelOptions& options, std::string_view name,
                            std::span<uint16_t> out);
// The same, allocating: the tensor's BF16 bits, in memory.
absl::StatusOr<std::vector<uint16_t>> TinyTensor(const TinyModelOptions& options,
                                                 std::string_view name);

struct TinyModelSummary {
  int64_t tensors = 0;
  int64_t weight_bytes = 0;
  std::vector<std::string> files;  // written, relative to the output directory
  bool wrote_tokenizer = false;
};

// Writes the checkpoint into `dir` (created if needed): config.json, generation_config.json,
// the safetensors file(s) and, when options.tokenizer_dir is set, the tokenizer files. Removes
// safetensors files and an index left there by an earlier write.
absl::StatusOr<TinyModelSummary> WriteTinyModel(const TinyModelOptions& options,
                                                const std::string& dir);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_TINY_MODEL_H_
