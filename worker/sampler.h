// Next-token selection and log-probabilities over one row of logits.
//
// Sampling applies, in order: repetition/presence/frequency penalties (on the logits),
// temperature, top-k, top-p, min-p, then draws from the renormalised distribution with the
// request's own RNG (seeded: the same seed gives the same tokens). temperature == 0 is greedy
// (ties go to the lowest id, like torch.argmax). Log-probabilities are those of the model's raw
// distribution (log_softmax of the unprocessed logits), computed in double.
//
// Thread-safety: a Sampler belongs to one request; SampleToken/Logprobs are pure functions.
#ifndef MOESERVE_WORKER_SAMPLER_H_
#define MOESERVE_WORKER_SAMPLER_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/sampling.h"

namespace moeserve {

// log_softmax of `logits` at `token`, plus the `top_n` most likely tokens (ties: lower id first).
TokenLogprob ComputeLogprobs(const float* logits, int64_t vocab, int32_t token, int top_n);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

  // Picks the next token. `prompt` and `output` feed the penalties.
  int32_t Sample(const float* logits, int64_t vocab, const std::vector<int32_t>& prompt,
                 const std::vector<int32_t>& output);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> scratch_;
  std::vector<int32_t> order_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_SAMPLER_H_
