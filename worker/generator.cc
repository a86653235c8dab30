#include "worker/generator.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace moeserve {
namespace {
double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

absl::StatusOr<GenerateResult> Generator::Generate(const GenerateRequest& req) {
  const ModelConfig& c = runner_->config();
  const RunnerLimits& limits = runner_->limits();
  RETURN_IF_ERROR(req.sampling.Validate());
  if (req.prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  if (req.max_tokens <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens must be > 0, got ", req.max_tokens));
  }
  if (req.logprobs < 0 || req.logprobs > 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("logprobs must be in [0, 20], got ", req.logprobs));
  }
  for (int32_t id : req.prompt) {
    if (id < 0 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompt token id ", id, " is outside the vocabulary [0, ", c.vocab_size,
                       ")"));
    }
  }
  const int64_t total = static_cast<int64_t>(req.prompt.size()) + req.max_tokens;
  if (total > limits.max_context) {
    return absl::OutOfRangeError(absl::StrCat("prompt (", req.prompt.size(), ") + max_tokens (",
                                              req.max_tokens, ") exceeds the context limit ",
                                              limits.max_context));
  }
  BlockTable blocks(block_size_);
  RETURN_IF_ERROR(blocks.Reserve(total, *allocator_));
  struct ReleaseOnExit {
    BlockTable* t;
    BlockAllocator* a;
    ~ReleaseOnExit() { t->Release(*a); }
  } release{&blocks, allocator_};

  GenerateResult result;
  result.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  Sampler sampler(req.sampling);
  std::vector<float> logits(c.vocab_size);
  const int64_t chunk_limit =
      std::min(req.prefill_chunk > 0 ? req.prefill_chunk : limits.max_tokens_per_step,
               limits.max_tokens_per_step);
  const auto t0 = std::chrono::steady_clock::now();

  // Prefill in chunks; only the last chunk asks for logits.
  const int64_t n = static_cast<int64_t>(req.prompt.size());
  for (int64_t pos = 0; pos < n; pos += chunk_limit) {
    SequenceChunk chunk;
    chunk.token_ids = req.prompt.data() + pos;
    chunk.num_tokens = std::min(chunk_limit, n - pos);
    chunk.start_pos = pos;
    chunk.blocks = &blocks;
    chunk.want_logits = pos + chunk.num_tokens == n;
    RETURN_IF_ERROR(runner_->Forward({&chunk, 1}, logits.data()));
  }
  auto t_first = t0;
  int64_t pos = n;
  for (int64_t step = 0; step < req.max_tokens; ++step) {
    if (step > 0) {
      SequenceChunk chunk;
      chunk.token_ids = &result.token_ids.back();
      chunk.num_tokens = 1;
      chunk.start_pos = pos - 1;
      chunk.blocks = &blocks;
      chunk.want_logits = true;
      RETURN_IF_ERROR(runner_->Forward({&chunk, 1}, logits.data()));
    }
    const int32_t token = sampler.Sample(logits.data(), c.vocab_size, req.prompt, result.token_ids);
    if (req.logprobs > 0) {
      result.logprobs.push_back(ComputeLogprobs(logits.data(), c.vocab_size, token, req.logprobs));
    }
    result.token_ids.push_back(token);
    ++pos;
    if (step == 0) t_first = std::chrono::steady_clock::now();
    if (std::find(req.stop_ids.begin(), req.stop_ids.end(), token) != req.stop_ids.end()) {
      result.finish_reason = "stop";
      break;
    }
  }
  if (result.finish_reason.empty()) result.finish_reason = "length";
  const auto t_end = std::chrono::steady_clock::now();
  result.prefill_seconds = Seconds(t0, t_first);
  result.decode_seconds = Seconds(t_first, t_end);
  return result;
}

}  // namespace moeserve
