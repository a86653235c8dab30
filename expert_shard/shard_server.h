// An expert shard's serving loop: the shard's half of the data-plane all-to-all.
//
// The loop receives dispatch messages (common/transport_a2a.h) from any number of attention
// workers over a Transport, groups what has arrived by layer, and runs ExpertCompute once per
// layer over the rows of all those messages concatenated, so expert batches grow with the number
// of workers. Each worker then gets a combine message with its own rows' partial sums, in the
// order it sent them, with its row tags echoed.
//
// Every message is validated before any of it is used: magic, version, size, shape against the
// model, MoE layer, shard index, row tags (the header's source rank, ascending tokens), expert
// ids (hosted here, or -1 for a slot placed elsewhere; every row has one hosted here). A bad one
// is dropped and answered with an error message to its sender; the loop carries on.
//
// Thread-safety: one thread runs Serve (or calls Poll), the thread that drives `transport`;
// Stop and stats may be called from any thread.
#ifndef MOESERVE_EXPERT_SHARD_SHARD_SERVER_H_
#define MOESERVE_EXPERT_SHARD_SHARD_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model_config.h"
#include "common/transport.h"
#include "common/transport_a2a.h"
#include "expert_shard/expert_compute.h"
#include "expert_shard/expert_store.h"

namespace moeserve {

struct ShardServerOptions {
  // This shard's index in the placement; dispatches addressed to another index are rejected.
  uint32_t shard_index = 0;
  // Receives kept posted (messages that arrive together are batched together).
  int posted_receives = 16;
  // After the first message of a batch arrives, wait up to this long for more (e.g. the other
  // workers' messages for the same layer) before computing. Zero: compute what has arrived.
  absl::Duration batch_window = absl::ZeroDuration();
  // While idle, polls this many times, then waits up to `idle_sleep` per poll for an event
  // (Transport::WaitForEvent: UCX blocks on its event descriptor).
  int spin_polls = 20000;
  absl::Duration idle_sleep = absl::Microseconds(20);

  absl::Status Validate() const;
};

struct ShardServerStats {
  int64_t messages = 0;      // dispatches served
  int64_t rows = 0;          // token rows served
  int64_t expert_calls = 0;  // ExpertCompute::Run calls (one per layer per batch)
  int64_t max_rows_per_call = 0;
  int64_t max_messages_per_call = 0;
  int64_t multi_source_calls = 0;  // calls that combined messages from more than one worker
  int64_t rejected = 0;            // messages answered with an error
  int64_t bytes_received = 0;
  int64_t bytes_sent = 0;
  double rows_per_call() const { return expert_calls ? double(rows) / expert_calls : 0.0; }
};

class ShardServer {
 public:
  // Everything passed in must outlive the server; `store` is the one `compute` uses.
  static absl::StatusOr<std::unique_ptr<ShardServer>> Create(const ModelConfig& config,
                                                             const ExpertStore* store,
                                                             ExpertCompute* compute,
                                                             Transport* transport,
                                                             ShardServerOptions options);
  ~ShardServer();

  // Runs the loop on the calling thread until Stop() (a Stop before Serve makes it return at
  // once); then cancels its receives, waits (up to a second) for answers in flight, and returns
  // OK. Serve may be called again after it returns. Returns the transport's error if it is
  // aborted.
  absl::Status Serve();
  // One round of the loop (receive what has arrived, compute and answer). For callers that
  // drive the transport themselves; returns whether anything happened.
  absl::StatusOr<bool> Poll();
  // Makes Serve return. Any thread.
  void Stop() { stop_.store(true, std::memory_order_relaxed); }

  ShardServerStats stats() const;  // any thread

 private:
  ShardServer(const ModelConfig& config, const ExpertStore* store, ExpertCompute* compute,
              Transport* transport, ShardServerOptions options);
  struct Pending {
    PeerId peer = -1;
    std::vector<std::byte> message;
    a2a::DispatchView view;
  };
  struct Outgoing {
    Request request;
    std::vector<std::byte> message;
  };
  absl::Status Validate(const a2a::DispatchView& view) const;
  absl::Status Receive(size_t slot, const Completion& done);
  void ComputeLayer(int64_t layer);
  void Reply(PeerId peer, std::vector<std::byte> message);
  void Reject(PeerId peer, std::span<const std::byte> message, const absl::Status& error);
  std::vector<std::byte> TakeBuffer();
  bool ReapOutgoing();

  const ModelConfig config_;
  const ExpertStore* store_;
  ExpertCompute* compute_;
  Transport* transport_;
  const ShardServerOptions options_;
  int32_t filler_expert_ = -1;  // an expert hosted elsewhere (stands in for -1 slots)
  std::atomic<bool> stop_{false};

  // Owned by the serving thread.
  std::vector<std::vector<std::byte>> receive_buffers_;
  std::vector<Request> receives_;
  std::vector<Pending> pending_;
  absl::Time first_pending_;
  std::vector<Outgoing> outgoing_;
  std::vector<std::vector<std::byte>> spare_;  // buffers to reuse
  std::vector<float> x_, weights_;
  std::vector<int32_t> ids_;
  std::vector<double> out_;
  std::vector<size_t> group_;
  ShardServerStats local_stats_;

  mutable absl::Mutex stats_mu_;
  ShardServerStats stats_ ABSL_GUARDED_BY(stats_mu_);  // copy of local_stats_ for readers
};

}  // namespace moeserve

#endif  // MOESERVE_EXPERT_SHARD_SHARD_SERVER_H_
