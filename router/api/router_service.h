// RouterService: the OpenAI-compatible HTTP API over the scheduler.
//
// POST /v1/completions: body → ParseCompletionRequest → tokenizer (string prompts; id prompts
// are range-checked) → context-length check → Scheduler::Submit → worker events →
// CompletionOutput (streaming detokenizer, logprobs) → one JSON response, or SSE chunks
// ("data: {...}\n\n" ... "data: [DONE]\n\n") with `stream: true`. A client that disconnects
// has its request cancelled (Scheduler::Cancel → WorkerClient::Abort). Admission errors keep
// their HTTP status (429 queue full, 503 no worker); an error after a stream started is sent as
// a final `data: {"error": ...}` event before [DONE].
// GET /health: 200 while `ready()` says so, else 503. GET /v1/models: the served model.
//
// Handlers never block: tokenization runs on the io thread (CPU only), everything after
// Submit runs on worker threads and posts to the connection.
//
// Lifetime: the tokenizer and scheduler must outlive the service, and the service the server
// it is registered with (stop the server first, then destroy the scheduler; requests still on
// workers end when the scheduler aborts them).
#ifndef MOESERVE_ROUTER_API_ROUTER_SERVICE_H_
#define MOESERVE_ROUTER_API_ROUTER_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "router/api/http_server.h"
#include "router/scheduler/scheduler.h"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::router::api {

struct RouterServiceOptions {
  // The model id clients name in `model` and /v1/models lists (non-empty).
  std::string model_id = "Qwen/Qwen3-30B-A3B";
  std::string owned_by = "moeserve";
  // /v1/models `created` (unix seconds); 0: when the service was constructed.
  int64_t created = 0;
  // Prompt plus max_tokens, at most (>= 2); longer requests get 400.
  int32_t max_model_len = 40960;
  // max_tokens when the request leaves it out (>= 1), as OpenAI's legacy API.
  int32_t default_max_tokens = 16;
  // The model's vocabulary (config.json); 0: the tokenizer's. Checkpoints pad it past the
  // tokenizer (Qwen3: 151,936 vs 151,669); ids in the gap are valid and decode to no text.
  int32_t vocab_size = 0;

  absl::Status Validate() const;
};

class RouterService {
 public:
  // `ready` answers /health (e.g. the scheduler's AnyWorkerReady). Options must be valid
  // (checked: crashes otherwise).
  RouterService(RouterServiceOptions options, const tokenizer::Tokenizer* tokenizer,
                Scheduler* scheduler, std::function<bool()> ready);

  // Adds the routes to `server` (before it starts).
  void Register(HttpServer* server);

  // The handlers, for tests that bypass the network.
  void HandleHealth(const HttpRequest& request, std::shared_ptr<ResponseWriter> writer);
  void HandleModels(const HttpRequest& request, std::shared_ptr<ResponseWriter> writer);
  void HandleCompletions(const HttpRequest& request, std::shared_ptr<ResponseWriter> writer);

 private:
  const RouterServiceOptions options_;
  const tokenizer::Tokenizer* const tokenizer_;
  Scheduler* const scheduler_;
  const std::function<bool()> ready_;
  const int64_t created_;
};

// A fresh "cmpl-" id: 32 random hex digits.
std::string NewCompletionId();

}  // namespace moeserve::router::api

#endif  // MOESERVE_ROUTER_API_ROUTER_SERVICE_H_
