// The compute interface every backend (CPU now, CUDA later) implements.
//
// Kernels are framework-free: raw typed pointers, sizes, strides and a params struct per op.
// They never allocate, never know about requests, sequences' lifetimes or processes, and report
// bad arguments as absl::Status. Shapes are given in the comments as [rows, cols], row-major.
//
// Batch invariance: every op computes each output row with a reduction order that depends only
// on that row's own inputs and the op's shape constants (k, head_dim, ...), never on how many
// rows are in the call, which rows sit beside it, or how many threads run it. The worker relies
// on this to give bit-identical logits for a sequence whatever else is batched with it.
//
// Thread-safety: a Backend is driven by one thread at a time (the worker's step loop); it may
// use its own thread pool internally.
#ifndef MOESERVE_KERNELS_BACKEND_H_
#define MOESERVE_KERNELS_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace moeserve {
class ThreadPool;
}

namespace moeserve::kernels {

// Element type of a weight tensor as stored in the checkpoint.
enum class WeightType { kBF16, kF16, kF32 };

// y = x · wᵀ  (a torch Linear without bias), or y += x · wᵀ when accumulate is set.
struct MatmulParams {
  const float* x = nullptr;  // [m, k], row stride ldx
  int64_t ldx = 0;
  const void* w = nullptr;  // [n, k] of w_type, row stride ldw (HF Linear layout)
  int64_t ldw = 0;
  WeightType w_type = WeightType::kBF16;
  float* y = nullptr;  // [m, n], row stride ldy
  int64_t ldy = 0;
  int64_t m = 0, n = 0, k = 0;
  bool accumulate = false;
};

// out[i] = x[i] * rsqrt(mean(x[i]^2) + eps) * weight   (Qwen3 RMSNorm, fp32 math)
struct RmsNormParams {
  const float* x = nullptr;  // [rows, dim], row stride ldx; may alias out
  int64_t ldx = 0;
  const void* weight = nullptr;  // [dim] of weight_type
  WeightType weight_type = WeightType::kBF16;
  float* out = nullptr;  // [rows, dim], row stride ldout
  int64_t ldout = 0;
  int64_t rows = 0, dim = 0;
  float eps = 1e-6f;
};

// In-place rotary embedding, "rotate_half" (NeoX) layout as in HF Qwen3:
// for d < half: x[d], x[d+half] = x[d]*cos - x[d+half]*sin, x[d+half]*cos + x[d]*sin.
struct RopeParams {
  float* x = nullptr;  // [tokens, heads, head_dim], token stride ldx (elements)
  int64_t ldx = 0;
  int64_t tokens = 0, heads = 0, head_dim = 0;
  const float* cos = nullptr;  // [tokens, head_dim / 2] (already multiplied by attention scaling)
  const float* sin = nullptr;  // [tokens, head_dim / 2]
};

// Writes new keys and values into the paged cache at the given slots.
// slot = block_id * block_size + offset_in_block. Cache layout per layer:
// [num_blocks, block_size, num_kv_heads, head_dim] for K and for V.
struct KvWriteParams {
  const float* k = nullptr;  // [tokens, num_kv_heads * head_dim], row stride ldk
  int64_t ldk = 0;
  const float* v = nullptr;  // [tokens, num_kv_heads * head_dim], row stride ldv
  int64_t ldv = 0;
  const int64_t* slots = nullptr;  // [tokens]
  int64_t tokens = 0, num_kv_heads = 0, head_dim = 0;
  float* k_cache = nullptr;
  float* v_cache = nullptr;
};

// Causal GQA attention of each query token over its sequence's paged KV cache, positions
// [0, pos] inclusive. Query head h reads kv head h / (num_q_heads / num_kv_heads).
// The reduction over key positions runs in ascending position order for every token, so a
// token's output is the same however the prompt was chunked.
struct AttentionParams {
  const float* q = nullptr;  // [tokens, num_q_heads, head_dim], token stride ldq
  int64_t ldq = 0;
  float* out = nullptr;  // [tokens, num_q_heads, head_dim], token stride ldout
  int64_t ldout = 0;
  const float* k_cache = nullptr;  // see KvWriteParams
  const float* v_cache = nullptr;
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  const int32_t* token_seq = nullptr;  // [tokens] row of block_tables for each token
  const int32_t* token_pos = nullptr;  // [tokens] absolute position of each token
  int64_t tokens = 0, num_q_heads = 0, num_kv_heads = 0, head_dim = 0, block_size = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
  float* workspace = nullptr;  // caller-owned, AttentionWorkspaceFloats(...) floats
};

// Floats of workspace AttentionParams needs for contexts up to max_context tokens.
int64_t AttentionWorkspaceFloats(int64_t max_context, int num_threads);

// out[i, j] = silu(gate_up[i, j]) * gate_up[i, inter + j]  for j < inter.
struct SiluMulParams {
  const float* gate_up = nullptr;  // [rows, 2 * inter], row stride ld_gate_up
  int64_t ld_gate_up = 0;
  float* out = nullptr;  // [rows, inter], row stride ldout
  int64_t ldout = 0;
  int64_t rows = 0, inter = 0;
};

// MoE routing as in HF Qwen3MoeSparseMoeBlock: softmax over all experts in fp32, top-k (ties
// broken toward the lower expert id), renormalised to sum 1 when `renormalize`.
struct TopKGateParams {
  const float* logits = nullptr;  // [tokens, num_experts], row stride ldlogits
  int64_t ldlogits = 0;
  int64_t tokens = 0, num_experts = 0, top_k = 0;
  bool renormalize = true;
  int32_t* topk_ids = nullptr;     // [tokens, top_k], descending weight
  float* topk_weights = nullptr;   // [tokens, top_k]
};

// out[i] = float(table[ids[i]])
struct EmbeddingParams {
  const void* table = nullptr;  // [vocab, dim] of table_type
  WeightType table_type = WeightType::kBF16;
  int64_t vocab = 0, dim = 0;
  const int32_t* ids = nullptr;  // [tokens]
  int64_t tokens = 0;
  float* out = nullptr;  // [tokens, dim], row stride ldout
  int64_t ldout = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Human-readable name including the selected ISA, e.g. "cpu-avx512bf16".
  virtual std::string name() const = 0;

  virtual absl::Status Matmul(const MatmulParams& p) = 0;
  virtual absl::Status RmsNorm(const RmsNormParams& p) = 0;
  virtual absl::Status Rope(const RopeParams& p) = 0;
  virtual absl::Status KvWrite(const KvWriteParams& p) = 0;
  virtual absl::Status Attention(const AttentionParams& p) = 0;
  virtual absl::Status SiluMul(const SiluMulParams& p) = 0;
  virtual absl::Status TopKGate(const TopKGateParams& p) = 0;
  virtual absl::Status Embedding(const EmbeddingParams& p) = 0;
};

}  // namespace moeserve::kernels

#endif  // MOESERVE_KERNELS_BACKEND_H_
