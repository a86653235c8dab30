// OpenAI-compatible request parsing and response formatting for the legacy completions API
// (POST /v1/completions) and /v1/models, as pure functions and one per-request accumulator.
//
// Conventions follow vLLM's OpenAI server where OpenAI says nothing: `stop_token_ids`,
// `ignore_eos`, `top_k`, `min_p`, `repetition_penalty`, `skip_special_tokens`,
// `return_tokens_as_token_ids` ("token_id:N"), `stop_reason`; the token that stopped generation
// (EOS or a stop id) counts in usage and appears in logprobs but not in the text. Each
// top_logprobs entry holds the `logprobs` most likely tokens plus the sampled one.
//
// Everything here is deterministic and free of I/O; CompletionOutput is not thread-safe (one per
// request, fed in event order).
#ifndef MOESERVE_ROUTER_API_OPENAI_FORMAT_H_
#define MOESERVE_ROUTER_API_OPENAI_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "router/scheduler/worker_client.h"
#include "router/tokenizer/stream_decoder.h"
#include "router/tokenizer/tokenizer.h"
#include "common/sampling.h"

namespace moeserve::router::api {

inline constexpr int32_t kMaxLogprobs = 20;

// A validated POST /v1/completions body.
struct CompletionRequest {
  std::string model;  // As sent (may be empty: the served model).
  // Exactly one of the two: the prompt text, or its token ids (not yet range-checked).
  std::optional<std::string> prompt_text;
  std::vector<int32_t> prompt_ids;
  int32_t max_tokens = 16;
  SamplingParams sampling;
  std::vector<int32_t> stop_token_ids;  // Not yet range-checked.
  bool ignore_eos = false;
  int32_t logprobs = -1;  // -1: null; else 0..kMaxLogprobs.
  bool return_tokens_as_token_ids = false;
  bool skip_special_tokens = true;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Parses and validates a completions body. InvalidArgument (with the field as param, see
// api_error.h) on malformed JSON, wrong types, out-of-range values and unsupported options
// (echo, n != 1, best_of != 1, batched prompts, suffix, logit_bias, stop strings); NotFound
// when `model` names another model than `served_model`. Unknown fields are ignored.
absl::StatusOr<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                         std::string_view served_model,
                                                         int32_t default_max_tokens = 16);

// Legacy-format logprobs: {tokens, token_logprobs, top_logprobs, text_offset}.
struct CompletionLogprobs {
  std::vector<std::string> tokens;
  std::vector<double> token_logprobs;
  std::vector<std::vector<std::pair<std::string, double>>> top_logprobs;
  std::vector<int64_t> text_offset;  // In code points from the start of the completion text.

  bool empty() const { return tokens.empty(); }
  nlohmann::json ToJson() const;
};

// How one token appears in `tokens` and as a top_logprobs key: its decoded text (a lone
// partial UTF-8 character becomes U+FFFD), or "token_id:N".
std::string TokenDisplay(const tokenizer::Tokenizer& tokenizer, int32_t token_id, bool as_token_id);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  nlohmann::json ToJson() const;
};

// What every completion object repeats.
struct CompletionMeta {
  std::string id;  // "cmpl-..."
  int64_t created = 0;
  std::string model;
};

// A whole text_completion object.
nlohmann::json CompletionJson(const CompletionMeta& meta, const std::string& text,
                              const CompletionLogprobs* logprobs, FinishReason finish,
                              std::optional<int32_t> stop_reason, const Usage& usage);
// One streamed text_completion chunk; finish kNone gives finish_reason null.
nlohmann::json CompletionChunkJson(const CompletionMeta& meta, const std::string& text,
                                   const CompletionLogprobs* logprobs, FinishReason finish,
                                   std::optional<int32_t> stop_reason);
// The final streamed chunk with `choices: []` and usage (stream_options.include_usage).
nlohmann::json UsageChunkJson(const CompletionMeta& meta, const Usage& usage);
// GET /v1/models.
nlohmann::json ModelsJson(std::string_view model, int64_t created, std::string_view owned_by,
                          int32_t max_model_len);

// "data: <json>\n\n" (invalid UTF-8, which cannot occur here, would become U+FFFD).
std::string SseData(const nlohmann::json& json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
// json.dump() with invalid UTF-8 replaced.
std::string Dump(const nlohmann::json& json);

// Turns one request's worker events into completion text and logprobs.
class CompletionOutput {
 public:
  struct Delta {
    std::string text;
    CompletionLogprobs logprobs;  // Empty unless the request asked for logprobs.
  };

  // `tokenizer` must outlive this.
  CompletionOutput(const tokenizer::Tokenizer* tokenizer, const CompletionRequest& request);

  // Consumes the tokens of one event (a terminal kStop event's last token is the stop token:
  // counted, in logprobs, not in text; a terminal event also flushes held-back bytes).
  // Ids at or past the tokenizer's vocabulary add no text (padded model vocabularies).
  absl::StatusOr<Delta> Add(const WorkerEvent& event);

  int64_t completion_tokens() const { return completion_tokens_; }
  // The stop id that ended generation, if it was one of stop_token_ids (vLLM's stop_reason).
  std::optional<int32_t> stop_reason() const { return stop_reason_; }

 private:
  const tokenizer::Tokenizer* tokenizer_;
  tokenizer::StreamDecoder decoder_;
  std::vector<int32_t> stop_token_ids_;
  int32_t logprobs_;
  bool as_token_ids_;
  int64_t completion_tokens_ = 0;
  int64_t text_chars_ = 0;  // Code points of text produced so far.
  std::optional<int32_t> stop_reason_;
};

}  // namespace moeserve::router::api

#endif  // MOESERVE_ROUTER_API_OPENAI_FORMAT_H_
