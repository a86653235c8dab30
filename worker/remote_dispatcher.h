// The cluster placement's MoeDispatcher: the worker's half of the data-plane all-to-all.
//
// Per MoE layer, Run sends each shard that hosts any of the batch's routed experts one dispatch
// message with just the token rows routed there (common/transport_a2a.h), waits for every
// shard's combine message (one double partial sum per row), and adds the partial sums into
// batch.out in shard-index order. Because the sums are exact in double (common/moe_dispatch.h),
// the result is bit-identical to LocalDispatcher for any placement and arrival order.
//
// A shard that fails (its transport peer errors), answers with an error, or does not answer
// within options.timeout makes Run return Unavailable / the shard's error / DeadlineExceeded,
// naming the shard; Run never waits longer than the timeout. A late answer to a failed Run is
// recognised by its sequence number and dropped by the next Run.
//
// Workspace (messages, receive buffers) grows to the largest batch seen and is reused.
// Thread-safety: one thread calls Run (the worker's step loop), the thread that drives
// `transport`; the dispatcher must be the transport's only receiver of kCombineTag messages.
#ifndef MOESERVE_WORKER_REMOTE_DISPATCHER_H_
#define MOESERVE_WORKER_REMOTE_DISPATCHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/moe_dispatch.h"
#include "common/transport.h"

namespace moeserve {

struct RemoteDispatcherOptions {
  // This worker's rank, stamped on every row (source rank) and checked in every answer.
  uint32_t rank = 0;
  // The shards' transport peers, by shard index (Connect()ed by the caller). Required.
  std::vector<PeerId> shards;
  // placement[e]: the shard index hosting expert e, the same for every MoE layer. Empty: the
  // even contiguous split of num_experts over the shards (a2a::EvenPlacement).
  std::vector<int32_t> placement;
  // Experts in the model. Required.
  int64_t num_experts = 0;
  // Longest a Run waits for all answers before DeadlineExceeded.
  absl::Duration timeout = absl::Seconds(10);
  // While waiting, polls this many times without news, then waits up to `idle_sleep` per poll
  // for an event (Transport::WaitForEvent)
  // (a spin keeps latency low; the sleep keeps a stuck wait from eating a core).
  int spin_polls = 20000;
  absl::Duration idle_sleep = absl::Microseconds(20);

  absl::Status Validate() const;
};

struct RemoteDispatcherStats {
  int64_t runs = 0;
  int64_t messages_sent = 0;
  int64_t rows_sent = 0;  // (token, shard) pairs
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
  int64_t stale_replies = 0;  // answers to an earlier, failed Run, dropped
};

class RemoteDispatcher : public MoeDispatcher {
 public:
  // `transport` must outlive the dispatcher.
  static absl::StatusOr<std::unique_ptr<RemoteDispatcher>> Create(Transport* transport,
                                                                  RemoteDispatcherOptions options);
  // Waits (up to options.timeout) for sends of a failed Run that are still in flight; aborts
  // the transport if they are still pending then, since their buffers are about to go.
  ~RemoteDispatcher() override;

  // See the file comment. batch.hidden and top_k must match every call's; batch.out is set.
  absl::Status Run(const MoeLayerBatch& batch) override;

  const RemoteDispatcherStats& stats() const { return stats_; }
  const std::vector<int32_t>& placement() const { return options_.placement; }

 private:
  RemoteDispatcher(Transport* transport, RemoteDispatcherOptions options);
  struct Shard;
  absl::Status RunLocked(const MoeLayerBatch& batch);
  absl::Status WaitForAnswers(const MoeLayerBatch& batch, int pending);
  absl::Status HandleAnswer(size_t slot, const Completion& completion, const MoeLayerBatch& batch,
                            int* pending);
  absl::Status ShardError(size_t shard, const absl::Status& status) const;
  void CancelReceives();

  Transport* const transport_;
  RemoteDispatcherOptions options_;
  RemoteDispatcherStats stats_;
  uint64_t sequence_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;  // by shard index
  // Receive slots for answers (one posted per shard with rows), reused across Runs.
  std::vector<std::vector<std::byte>> answer_buffers_;
  std::vector<Request> answer_requests_;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_REMOTE_DISPATCHER_H_
