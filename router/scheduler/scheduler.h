// Scheduler: places requests on attention workers.
//
// One owner thread holds all scheduling state (the waiting queue, which request runs where);
// Submit and Cancel post to it and return at once. The owner hands each waiting request, in
// FIFO order, to a ready worker that has a free slot (fewer than max_inflight_per_worker of this
// scheduler's requests), chosen by PickWorker:
//
//   cost(w)  = queued_tokens + running_tokens (from w's LoadReport)
//              + kv_full_penalty_tokens if w's free KV blocks cannot hold the prompt.
//   L        = the cheapest worker (ties: more free KV blocks, fewer in flight, round robin).
//   A        = the worker whose recent prefixes cover the longest run of the prompt's leading
//              16-token blocks (prefix_hash.h; ties: cheaper).
//   Rule:      A is chosen iff it matched at least one block and
//                cost(A) <= affinity_load_ratio * cost(L) + affinity_slack_tokens
//                           + 16 * matched_blocks,
//              i.e. a cached prefix is worth its saved prefill plus some slack, but never a
//              worker much more loaded than the least loaded one. Otherwise L.
//
// Admission: Submit fails at once with Unavailable when no worker is ready, and with
// ResourceExhausted when max_waiting requests are already waiting (not yet on a worker). A
// waiting request whose workers all go down fails with Unavailable at the next poll.
//
// Every accepted request gets exactly one terminal event (WorkerClient's event contract, which
// the scheduler forwards unchanged), including a cancelled waiting request (kAborted) and a
// request still waiting when the scheduler is destroyed (Unavailable). Cancel of a request on a
// worker calls WorkerClient::Abort; the worker's terminal event ends it. No request is left
// behind: counts are kept in stats().
//
// Thread-safety: all public methods may be called from any thread. Sinks run on worker threads
// or on the owner thread, one request's calls never overlapping.
#ifndef MOESERVE_ROUTER_SCHEDULER_SCHEDULER_H_
#define MOESERVE_ROUTER_SCHEDULER_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "router/scheduler/worker_client.h"

namespace moeserve::router {

struct SchedulerOptions {
  // Requests accepted but not yet on a worker, at most (>= 1); beyond: ResourceExhausted (429).
  int32_t max_waiting = 1024;
  // This scheduler's unfinished requests on one worker, at most (>= 1).
  int32_t max_inflight_per_worker = 256;
  // Leading 16-token blocks of a prompt considered for affinity (>= 0; 0 turns affinity off).
  int32_t affinity_blocks = 8;
  // The affinity rule above (ratio >= 1, slack >= 0).
  double affinity_load_ratio = 1.5;
  int64_t affinity_slack_tokens = 2048;
  // Added to the cost of a worker whose free KV blocks cannot hold the prompt (>= 0).
  int64_t kv_full_penalty_tokens = int64_t{1} << 30;
  // How often waiting requests are retried while no worker has room (> 0).
  absl::Duration poll_interval = absl::Milliseconds(10);

  absl::Status Validate() const;
};

// What PickWorker needs to know of one worker.
struct WorkerView {
  bool available = false;   // Ready and below max_inflight_per_worker.
  int64_t load_tokens = 0;  // queued + running tokens.
  int64_t free_kv_blocks = 0;
  int64_t total_kv_blocks = 0;  // 0: unknown.
  int32_t kv_block_tokens = 16;
  int32_t inflight = 0;
  const absl::flat_hash_set<uint64_t>* recent_prefixes = nullptr;  // May be null.
};

struct WorkerPick {
  int worker = -1;           // -1: no worker available.
  int matched_blocks = 0;    // Leading prompt blocks the chosen worker reported.
  bool by_affinity = false;  // Chosen over the least-loaded worker for its prefix.
};

// The rule above, pure. `prompt_hashes` from PrefixBlockHashes; `rotate` breaks exact ties
// (the first tied worker at or after it wins).
WorkerPick PickWorker(absl::Span<const WorkerView> views, absl::Span<const uint64_t> prompt_hashes,
                      int64_t prompt_tokens, const SchedulerOptions& options, int rotate = 0);

class Scheduler {
 public:
  struct Stats {
    int64_t waiting = 0;      // Accepted, not on a worker.
    int64_t inflight = 0;     // On a worker, terminal event not seen yet.
    int64_t dispatched = 0;   // Handed to a worker, ever.
    int64_t by_affinity = 0;  // Of those, placed by prefix affinity.
  };

  // `workers` must be non-empty and non-null; `options` valid (both checked: crashes otherwise).
  Scheduler(std::vector<std::shared_ptr<WorkerClient>> workers, SchedulerOptions options);
  // Fails waiting requests with Unavailable and aborts those on workers.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `request`; never blocks. Unavailable (no worker ready), ResourceExhausted (queue
  // full) or InvalidArgument (empty prompt or id); on OK, events reach `sink` as described.
  absl::Status Submit(WorkerRequest request, EventSink sink);

  // Cancels a request: a waiting one ends with kAborted, one on a worker is aborted there.
  // A no-op for unknown or finished ids. Never blocks.
  void Cancel(std::string request_id);

  // True when some worker is ready.
  bool AnyWorkerReady() const;

  Stats stats() const;

 private:
  class Mailbox;
  struct Waiting {
    WorkerRequest request;
    EventSink sink;
  };

  // ---- Owner thread only ----
  void Loop();
  void AcceptOnOwner(Waiting waiting);
  void CancelOnOwner(const std::string& request_id);
  void FinishedOnOwner(const std::string& request_id, int worker);
  void DispatchWaiting();
  // Fails every waiting request with `status`.
  void FailWaiting(const absl::Status& status);

  const std::vector<std::shared_ptr<WorkerClient>> workers_;
  const SchedulerOptions options_;
  const std::shared_ptr<Mailbox> mailbox_;  // Shared with worker-side sinks, which may outlive us.

  // Owner-thread state.
  std::deque<Waiting> waiting_;
  absl::flat_hash_map<std::string, int> running_;  // Request id -> worker index.
  std::vector<int32_t> inflight_per_worker_;
  int rotate_ = 0;

  // Readable anywhere.
  std::atomic<int64_t> waiting_count_{0};  // Includes Submits not yet seen by the owner.
  std::atomic<int64_t> inflight_count_{0};
  std::atomic<int64_t> dispatched_count_{0};
  std::atomic<int64_t> affinity_count_{0};

  std::thread thread_;  // Last: starts after everything above exists.
};

}  // namespace moeserve::router

#endif  // MOESERVE_ROUTER_SCHEDULER_SCHEDULER_H_
