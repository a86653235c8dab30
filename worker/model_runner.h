// The dense half of a Qwen3(-MoE) forward pass over one step's batch.
//
// A step is a list of sequence chunks: each chunk appends `num_tokens` tokens at positions
// [start_pos, start_pos + num_tokens) to its sequence (a whole prompt, a prefill chunk, or one
// decode token). ModelRunner runs embedding, attention over the paged KV cache, norms, the MoE
// gate and dense MLPs itself, hands routed rows to a MoeDispatcher for the experts, and writes
// the next-token logits of the chunks that ask for them.
//
// Every per-row computation is batch-invariant (kernels/backend.h), so a chunk's logits are
// bit-identical whatever else is in the step and however its prompt was split into chunks.
//
// Workspace is planned once at creation from RunnerLimits; Forward never allocates.
// Thread-safety: one thread drives a ModelRunner (the worker's step loop).
#ifndef MOESERVE_WORKER_MODEL_RUNNER_H_
#define MOESERVE_WORKER_MODEL_RUNNER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "common/moe_dispatch.h"
#include "kernels/backend.h"
#include "worker/kv/block_allocator.h"
#include "worker/kv/kv_storage.h"
#include "worker/model_weights.h"
#include "worker/rope.h"

namespace moeserve {

struct RunnerLimits {
  int64_t max_tokens_per_step = 512;  // sum of num_tokens over a step's chunks
  int64_t max_seqs_per_step = 64;     // chunks per step
  int64_t max_context = 4096;         // longest sequence (positions) attention must cover
  int num_threads = 1;                // threads the backend uses (sizes attention workspace)
};

struct SequenceChunk {
  const int32_t* token_ids = nullptr;  // [num_tokens]
  int64_t num_tokens = 0;
  int64_t start_pos = 0;
  const BlockTable* blocks = nullptr;  // must already cover start_pos + num_tokens
  bool want_logits = false;            // logits of the chunk's last token
};

class ModelRunner {
 public:
  // `weights`, `backend`, `dispatcher` and `kv` must outlive the runner.
  static absl::StatusOr<std::unique_ptr<ModelRunner>> Create(const ModelConfig& config,
                                                             const ModelWeights* weights,
                                                             kernels::Backend* backend,
                                                             MoeDispatcher* dispatcher,
                                                             KvStorage* kv,
                                                             const RunnerLimits& limits);

  const ModelConfig& config() const { return config_; }
  const RunnerLimits& limits() const { return limits_; }

  // Runs one step. `logits` receives [number of chunks with want_logits, vocab] rows in chunk
  // order.
  absl::Status Forward(std::span<const SequenceChunk> chunks, float* logits);

 private:
  ModelRunner(const ModelConfig& config, const ModelWeights* weights, kernels::Backend* backend,
              MoeDispatcher* dispatcher, KvStorage* kv, const RunnerLimits& limits,
              RopeTable rope);
  absl::Status Layer(int64_t layer, int64_t tokens, int64_t seqs);

  const ModelConfig config_;
  const ModelWeights* weights_;
  kernels::Backend* backend_;
  MoeDispatcher* dispatcher_;
  KvStorage* kv_;
  const RunnerLimits limits_;
  const RopeTable rope_;
  int64_t max_blocks_per_seq_;

  // Workspace, sized from limits_ at creation.
  std::vector<float> hidden_, normed_, q_, k_, v_, attn_, router_logits_, topk_weights_;
  std::vector<float> gate_up_, act_, cos_, sin_, attn_workspace_, final_rows_;
  std::vector<double> moe_out_;
  std::vector<int32_t> token_ids_, token_seq_, token_pos_, topk_ids_, block_tables_;
  std::vector<int64_t> slots_, logit_rows_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_MODEL_RUNNER_H_
