// The router process: the ClusterControl service (registry), the OpenAI-compatible HTTP API,
// and one GrpcWorkerClient per attention worker feeding the scheduler.
//
// Threads: the caller's thread waits for *stop; gRPC, the HTTP server's io threads, the
// scheduler's owner thread and each worker client's threads run on their own.
#ifndef MOESERVE_ROUTER_CLUSTER_ROUTER_PROCESS_H_
#define MOESERVE_ROUTER_CLUSTER_ROUTER_PROCESS_H_

#include <atomic>

#include "absl/status/status.h"
#include "common/cluster_config.h"

namespace moeserve::router {

// `fallback_tokenizer_dir` is used when the model directory ships no tokenizer.json (every
// Qwen3 checkpoint shares one); empty: such a model is refused.
absl::Status RunRouterProcess(const ClusterConfig& config, const std::string& fallback_tokenizer_dir,
                              const std::atomic<bool>* stop);

}  // namespace moeserve::router

#endif  // MOESERVE_ROUTER_CLUSTER_ROUTER_PROCESS_H_
