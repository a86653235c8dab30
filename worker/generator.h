// Runs single requests end to end on a ModelRunner: chunked prefill, then decode until
// max_tokens or a stop id, with sampling and log-probabilities. This is what
// `moeserve generate` and the golden tests use; the serving step loop batches many requests
// over the same ModelRunner instead.
//
// Thread-safety: one thread; owns the KV bookkeeping for its requests.
#ifndef MOESERVE_WORKER_GENERATOR_H_
#define MOESERVE_WORKER_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/kv/block_allocator.h"
#include "worker/model_runner.h"
#include "worker/sampler.h"

namespace moeserve {

struct GenerateRequest {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  SamplingParams sampling;
  int logprobs = 0;                  // top-N alternatives per generated token (0: none)
  std::vector<int64_t> stop_ids;     // usually the model's EOS ids
  int64_t prefill_chunk = 0;         // 0: the runner's max_tokens_per_step
};

struct GenerateResult {
  std::vector<int32_t> token_ids;
  std::vector<TokenLogprob> logprobs;  // one per generated token when requested
  std::string finish_reason;           // "length" or "stop"
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0.0;  // until the first generated token
  double decode_seconds = 0.0;   // the remaining tokens
};

class Generator {
 public:
  // `runner` and `allocator` must outlive the generator.
  Generator(ModelRunner* runner, BlockAllocator* allocator, int64_t block_size)
      : runner_(runner), allocator_(allocator), block_size_(block_size) {}

  absl::StatusOr<GenerateResult> Generate(const GenerateRequest& request);

 private:
  ModelRunner* runner_;
  BlockAllocator* allocator_;
  int64_t block_size_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_GENERATOR_H_
