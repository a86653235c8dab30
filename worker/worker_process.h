// The attention-worker process: loads the dense (non-expert) weights, connects to every expert
// shard on the data plane (RemoteDispatcher over UCX), runs the BatchLoop, and serves the
// AttentionWorker gRPC service (the router's request stream), registering with the router and
// sending heartbeats until asked to stop.
//
// Threads: the caller's thread does start-up and the heartbeat loop; the BatchLoop thread owns
// the runner and the transport; each Generate stream has a reader (gRPC's) and a writer thread.
#ifndef MOESERVE_WORKER_WORKER_PROCESS_H_
#define MOESERVE_WORKER_WORKER_PROCESS_H_

#include <atomic>

#include "absl/status/status.h"
#include "common/cluster_config.h"

namespace moeserve {

absl::Status RunWorkerProcess(const ClusterConfig& config, int index,
                              const std::atomic<bool>* stop);

}  // namespace moeserve

#endif  // MOESERVE_WORKER_WORKER_PROCESS_H_
