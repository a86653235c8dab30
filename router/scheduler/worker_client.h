// The router's view of one attention worker: submit a tokenized request, receive its generated
// tokens as a stream of events, abort it, and read the worker's load for scheduling.
//
// This is the seam between the router and the workers. FakeWorkerClient (fake_worker_client.h)
// implements it in-process for tests; the gRPC client implements it over the generation stream
// (one WorkerEvent per stream message).
//
// Event contract, for every Submit that returns OK:
//   * the sink is called zero or more times with token events, then exactly once with a
//     terminal event (finish_reason != kNone, or !status.ok()), and never after that;
//   * calls for one request never overlap and arrive in order (they may come from any thread);
//   * the sink must not block: it hands the event on (to an HTTP connection's strand, a queue).
// A Submit that returns an error never calls the sink.
//
// Thread-safety: every method may be called from any thread concurrently. Submit and Abort
// never block on the network or on the worker's step loop.
#ifndef MOESERVE_ROUTER_SCHEDULER_WORKER_CLIENT_H_
#define MOESERVE_ROUTER_SCHEDULER_WORKER_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "common/sampling.h"

namespace moeserve::router {

// Why a generation ended.
enum class FinishReason {
  kNone = 0,  // Not finished (a token event).
  // An EOS token (unless ignore_eos) or one of stop_token_ids was generated. That token is the
  // last token of the terminal event; it counts as generated (usage, logprobs) but the router
  // leaves it out of the text, as vLLM does.
  kStop,
  kLength,   // max_tokens reached (or the worker's context limit).
  kAborted,  // Abort() was called (or the scheduler cancelled it before it started).
};

// "stop", "length" or "abort".
std::string_view FinishReasonName(FinishReason reason);

struct WorkerRequest {
  std::string request_id;           // Unique among the requests in flight.
  std::vector<int32_t> prompt_ids;  // Not empty.
  SamplingParams sampling;
  int32_t max_tokens = 16;              // >= 1: tokens to generate at most.
  std::vector<int32_t> stop_token_ids;  // Generation stops after any of these (kStop).
  bool ignore_eos = false;              // Keep generating past the model's EOS tokens.
  // -1: no log-probabilities. 0..20: the sampled token's logprob and the `logprobs` most likely
  // tokens per generated token (TokenLogprob::top).
  int32_t logprobs = -1;
};

// One message of a request's output stream.
struct WorkerEvent {
  std::vector<int32_t> token_ids;      // Newly generated tokens, in order (may be empty).
  std::vector<TokenLogprob> logprobs;  // One per token when requested, else empty.
  FinishReason finish_reason = FinishReason::kNone;
  // Not OK: the request failed (worker lost, out of memory, bad request). Terminal; the tokens
  // delivered before stand, but the request has no finish reason.
  absl::Status status;

  bool terminal() const { return finish_reason != FinishReason::kNone || !status.ok(); }
};

using EventSink = std::function<void(WorkerEvent event)>;

// What a worker reports about itself; the scheduler balances on it.
struct LoadReport {
  int32_t waiting_requests = 0;  // Accepted, prefill not started.
  int32_t running_requests = 0;  // In the running batch.
  int64_t queued_tokens = 0;     // Prompt tokens still to prefill, over all requests.
  int64_t running_tokens = 0;    // Tokens held in KV by running requests (prompt + generated).
  int64_t free_kv_blocks = 0;    // Paged-KV blocks free now.
  int64_t total_kv_blocks = 0;   // 0: unknown (then KV is not considered).
  int32_t kv_block_tokens = 16;  // Tokens per KV block.
  // Prefix hashes (prefix_hash.h) of the leading blocks of prompts served recently, whose KV the
  // worker probably still holds.
  absl::flat_hash_set<uint64_t> recent_prefixes;
};

class WorkerClient {
 public:
  virtual ~WorkerClient() = default;

  // A name for logs and errors ("worker-0", "10.0.0.7:50051").
  virtual std::string name() const = 0;

  // Starts generating `request`; events go to `sink` (see the contract above). Never blocks.
  // Unavailable when the worker cannot take requests now (then the sink is never called).
  virtual absl::Status Submit(WorkerRequest request, EventSink sink) = 0;

  // Stops a request: its sink gets a terminal kAborted event soon (or whatever terminal event
  // was already on its way). A no-op for an unknown or finished id. Never blocks.
  virtual void Abort(std::string_view request_id) = 0;

  // The latest load. Requests submitted through this client are counted from the moment Submit
  // returns (a remote client adds its own in-flight requests to the last report), so that
  // back-to-back scheduling decisions see each other.
  virtual LoadReport load() const = 0;

  // True while the worker is connected, healthy and accepting requests.
  virtual bool ready() const = 0;
};

}  // namespace moeserve::router

#endif  // MOESERVE_ROUTER_SCHEDULER_WORKER_CLIENT_H_
