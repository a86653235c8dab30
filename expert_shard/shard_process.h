// The expert-shard process: loads the experts the placement assigns to shard `index`, serves
// them on the data plane (ShardServer over UCX) and its ExpertShard gRPC service, registers with
// the router and sends heartbeats until asked to stop.
//
// Threads: the caller's thread runs registration and the heartbeat loop; one thread owns the
// transport and the ShardServer loop; gRPC has its own. Stop is an atomic flag (set it from a
// signal handler or another thread).
#ifndef MOESERVE_EXPERT_SHARD_SHARD_PROCESS_H_
#define MOESERVE_EXPERT_SHARD_SHARD_PROCESS_H_

#include <atomic>

#include "absl/status/status.h"
#include "common/cluster_config.h"

namespace moeserve {

// Runs until *stop becomes true (then returns OK) or a fatal error.
absl::Status RunExpertShardProcess(const ClusterConfig& config, int index,
                                   const std::atomic<bool>* stop);

}  // namespace moeserve

#endif  // MOESERVE_EXPERT_SHARD_SHARD_PROCESS_H_
