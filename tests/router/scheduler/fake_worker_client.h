// FakeWorkerClient: an in-process WorkerClient for tests and demos, with deterministic output.
//
// The k-th generated token of a request is a fixed function of its prompt and k (TokenAt), drawn
// from a configurable vocabulary, so a test can compute the expected completion. Every
// `token_interval` one step runs on the fake's own thread: each running request gets one token
// (one WorkerEvent each, with made-up but deterministic logprobs). Requests finish on max_tokens
// (kLength), on a stop id or on the configured EOS (kStop), on Abort (kAborted), or with an
// injected error.
//
// Load is reported from the requests held (waiting = no token yet), KV blocks are counted from
// their lengths, and the leading-block prefix hashes of every prompt submitted are remembered
// (bounded, oldest dropped first). Tests can pause generation, take the worker down, fail
// submits or running requests, and override the load report.
//
// Thread-safety: all methods may be called concurrently. Sinks run on the fake's thread, never
// under its lock. The destructor ends remaining requests with kAborted.
#ifndef MOESERVE_TESTS_ROUTER_SCHEDULER_FAKE_WORKER_CLIENT_H_
#define MOESERVE_TESTS_ROUTER_SCHEDULER_FAKE_WORKER_CLIENT_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "router/scheduler/worker_client.h"

namespace moeserve::router {

struct FakeWorkerOptions {
  std::string name = "fake-worker";
  // Ids the fake generates from (non-empty). Default: 32 ASCII-word ids of the Qwen3 vocabulary
  // ("Ġthe" and friends are not needed: any valid ids do).
  std::vector<int32_t> vocabulary = DefaultVocabulary();
  // Time between generation steps (> 0).
  absl::Duration token_interval = absl::Milliseconds(1);
  // The model's EOS id, -1 for none. With eos_after >= 1, the eos_after-th generated token is
  // this id (unless the request sets ignore_eos).
  int32_t eos_token_id = -1;
  int32_t eos_after = -1;
  int64_t total_kv_blocks = 4096;      // > 0
  int32_t kv_block_tokens = 16;        // > 0
  int32_t max_prefix_blocks = 8;       // Leading blocks hashed per prompt (>= 0).
  int32_t max_recent_prefixes = 4096;  // Hashes remembered (>= 0).

  absl::Status Validate() const;
  static std::vector<int32_t> DefaultVocabulary();
};

class FakeWorkerClient : public WorkerClient {
 public:
  // The options must be valid (checked: crashes otherwise).
  explicit FakeWorkerClient(FakeWorkerOptions options);
  ~FakeWorkerClient() override;
  FakeWorkerClient(const FakeWorkerClient&) = delete;
  FakeWorkerClient& operator=(const FakeWorkerClient&) = delete;

  std::string name() const override { return options_.name; }
  absl::Status Submit(WorkerRequest request, EventSink sink) override;
  void Abort(std::string_view request_id) override;
  LoadReport load() const override;
  bool ready() const override;

  // The k-th (0-based) token generated for `prompt` from `vocabulary`, before EOS/stop rules.
  static int32_t TokenAt(absl::Span<const int32_t> prompt, int k,
                         absl::Span<const int32_t> vocabulary);
  // The first n tokens this fake generates for `prompt` (before EOS/stop rules).
  std::vector<int32_t> ExpectedTokens(absl::Span<const int32_t> prompt, int n) const;
  // The logprob entry this fake reports for the k-th token with `top_n` alternatives.
  TokenLogprob LogprobAt(absl::Span<const int32_t> prompt, int k, int top_n) const;

  // ---- Test controls ----
  void SetReady(bool ready);
  // While paused, no tokens are generated (aborts and failures still complete).
  void SetPaused(bool paused);
  // Submit returns `status` while it is not OK.
  void SetSubmitError(absl::Status status);
  // Every request held now ends with `status` at the next step.
  void FailRunning(absl::Status status);
  // load() returns `report` (plus the recent prefixes) instead of the computed load.
  void SetLoadOverride(std::optional<LoadReport> report);

  // ---- Observations ----
  std::vector<std::string> submitted() const;  // Ids accepted, in order.
  std::vector<std::string> aborted() const;    // Ids Abort() was called for that were held.
  int active() const;                          // Requests held now.
  // Waits until no request is held; false on timeout.
  bool WaitUntilIdle(absl::Duration timeout) const;

 private:
  struct Running {
    WorkerRequest request;
    EventSink sink;
    std::vector<int32_t> generated;
    bool abort = false;
    absl::Status failure;
  };

  void Loop();
  // Advances one request by one step; returns its event (nullopt when nothing happens).
  std::optional<WorkerEvent> StepOne(Running& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FakeWorkerOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = true;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status submit_error_ ABSL_GUARDED_BY(mu_);
  std::optional<LoadReport> load_override_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // Held ids, submission order.
  absl::flat_hash_map<std::string, Running> running_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> recent_order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> recent_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> submitted_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> aborted_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;  // Runs Loop(); last member so that it starts after the others exist.
};

}  // namespace moeserve::router

#endif  // MOESERVE_TESTS_ROUTER_SCHEDULER_FAKE_WORKER_CLIENT_H_
