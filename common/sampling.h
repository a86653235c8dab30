// Request-level generation types shared by the router and the attention worker: the sampling
// parameters a request carries and the log-probabilities a worker returns per token.
//
// These are plain values; the worker's Sampler (worker/sampler.h) interprets them, the router
// fills them from API requests and both validate them with SamplingParams::Validate.
#ifndef MOESERVE_COMMON_SAMPLING_H_
#define MOESERVE_COMMON_SAMPLING_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace moeserve {

struct SamplingParams {
  float temperature = 1.0f;  // 0: greedy
  int32_t top_k = 0;         // 0 or -1: off
  float top_p = 1.0f;        // (0, 1]
  float min_p = 0.0f;        // [0, 1]
  float repetition_penalty = 1.0f;  // > 0; 1: off (HF/vLLM semantics, prompt + output)
  float presence_penalty = 0.0f;    // [-2, 2] (OpenAI semantics, output tokens)
  float frequency_penalty = 0.0f;   // [-2, 2]
  uint64_t seed = 0;

  // Checks ranges; InvalidArgument names the offending field.
  absl::Status Validate() const;
};

struct TokenLogprob {
  int32_t token_id = 0;
  double logprob = 0.0;
  std::vector<std::pair<int32_t, double>> top;  // most likely first
};

}  // namespace moeserve

#endif  // MOESERVE_COMMON_SAMPLING_H_
