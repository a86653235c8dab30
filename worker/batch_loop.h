// The attention worker's step loop: continuous batching over a ModelRunner.
//
// Requests join and leave between steps. Each step runs, in one ModelRunner::Forward, the next
// tokens of running sequences in admission order within a per-step token budget: one token for
// a decoding sequence, a chunk for one still prefilling (chunked prefill mixed with decodes).
// KV blocks are taken as sequences grow. Admission (FCFS) first reuses the longest cached
// prefix (BlockCache: full blocks named by a chained token hash, shared by reference count, LRU
// eviction), then needs blocks for the first chunk. When a running sequence needs a block and
// none can be freed, the most recently admitted other sequence is preempted by recompute: its
// blocks are released (its full blocks stay cached) and it waits at the front of the queue with
// prompt + generated tokens to recompute; tokens already streamed are never sent again.
// Because the runner is batch-invariant, a request's tokens do not depend on what else is
// batched with it, on its chunking, on prefix hits, or on preemption.
//
// Threads: Add/Abort/load may be called from any thread (they post to the loop); one thread,
// started by Start, owns the batch, the runner and the sampler state, and calls the sink.
#ifndef MOESERVE_WORKER_BATCH_LOOP_H_
#define MOESERVE_WORKER_BATCH_LOOP_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "worker/kv/block_allocator.h"
#include "worker/kv/block_cache.h"
#include "worker/model_runner.h"
#include "worker/sampler.h"

namespace moeserve {

struct LoopRequest {
  std::string id;
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 16;
  std::vector<int64_t> stop_ids;  // EOS ids (unless ignore_eos) and extra stop ids
  int logprobs = 0;               // top-N alternatives per token (0: none)
};

struct LoopEvent {
  std::string id;
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;  // parallel to tokens when requested
  bool finished = false;
  std::string finish_reason;  // "stop", "length", "abort" when finished without error
  absl::Status error;         // not OK: the request failed (terminal)
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct LoopLoad {
  int64_t waiting_requests = 0, running_requests = 0;
  int64_t queued_tokens = 0, running_tokens = 0;
  int64_t free_kv_blocks = 0, total_kv_blocks = 0;
  int64_t steps = 0, generated_tokens = 0;
  int64_t prefix_hit_tokens = 0, prefix_query_tokens = 0, preemptions = 0;
};

struct BatchLoopOptions {
  int64_t max_num_batched_tokens = 512;  // <= runner limit
  int64_t max_num_seqs = 64;             // <= runner limit
  int64_t block_size = 16;
};

class BatchLoop {
 public:
  // `runner` and `allocator` must outlive the loop; `sink` is called on the loop thread.
  BatchLoop(ModelRunner* runner, BlockAllocator* allocator, BatchLoopOptions options,
            std::function<void(LoopEvent)> sink);
  ~BatchLoop();

  void Start();
  void Stop();  // finishes the current step, fails what is left with Cancelled
  void Add(LoopRequest request);
  void Abort(const std::string& id);
  LoopLoad load() const;

 private:
  struct Sequence {
    LoopRequest request;
    std::unique_ptr<Sampler> sampler;
    BlockTable blocks;
    std::vector<int32_t> output;
    int64_t computed = 0;          // tokens with KV in the cache
    std::vector<uint64_t> hashes;  // chained hashes of the full blocks published to the cache
    uint64_t admit_order = 0;
    explicit Sequence(int64_t block_size) : blocks(block_size) {}
    int64_t length() const {
      return static_cast<int64_t>(request.prompt.size() + output.size());
    }
    int32_t TokenAt(int64_t i) const {
      const int64_t p = static_cast<int64_t>(request.prompt.size());
      return i < p ? request.prompt[i] : output[i - p];
    }
  };
  void Loop();
  void DrainInbox();
  void Admit();
  // Grows `seq`'s blocks to hold `tokens` positions, evicting cached blocks and preempting more
  // recently admitted sequences as needed. False when it cannot (it then waits).
  bool Grow(Sequence* seq, int64_t tokens);
  void Preempt(Sequence* seq);
  void Publish(Sequence* seq);  // names newly full blocks in the prefix cache
  std::vector<int32_t> Tokens(const Sequence& seq) const;
  absl::Status Step();
  void Finish(std::unique_ptr<Sequence>& seq, const std::string& reason, absl::Status error);
  void PublishLoad();

  ModelRunner* const runner_;
  BlockAllocator* const allocator_;
  const BatchLoopOptions options_;
  const std::function<void(LoopEvent)> sink_;

  mutable absl::Mutex mu_;  // inbox and published load
  std::deque<LoopRequest> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> aborts_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  LoopLoad load_ ABSL_GUARDED_BY(mu_);

  // Owned by the loop thread.
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<float> logits_;
  BlockCache cache_;
  uint64_t next_admit_ = 0;
  int64_t steps_ = 0, generated_ = 0, preemptions_ = 0;
  std::thread thread_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_BATCH_LOOP_H_
