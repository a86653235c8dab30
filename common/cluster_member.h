// What every worker and expert-shard process does with the router's ClusterControl service:
// register (retrying until the router answers), then heartbeat with a load report.
//
// Thread-safety: a ClusterMember is used by one thread (the process's control loop).
#ifndef MOESERVE_COMMON_CLUSTER_MEMBER_H_
#define MOESERVE_COMMON_CLUSTER_MEMBER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model_config.h"
#include "moeserve/cluster/v1/cluster.grpc.pb.h"

namespace moeserve {

cluster::v1::ModelFingerprint FingerprintOf(const ModelConfig& config);

class ClusterMember {
 public:
  // `router` is "host:port" of the router's gRPC server.
  explicit ClusterMember(const std::string& router);

  // Registers, retrying while the router is unreachable, until `deadline` or *stop.
  absl::StatusOr<cluster::v1::RegisterResponse> Register(
      const cluster::v1::RegisterRequest& request, absl::Time deadline,
      const std::atomic<bool>* stop);
  // Polls GetPlacement until `ready(placement)` holds, until `deadline` or *stop.
  absl::StatusOr<cluster::v1::Placement> WaitForPlacement(
      const std::function<bool(const cluster::v1::Placement&)>& ready, absl::Time deadline,
      const std::atomic<bool>* stop);
  // One heartbeat; the router's answer (desired state) or its error.
  absl::StatusOr<cluster::v1::HeartbeatResponse> Heartbeat(
      const cluster::v1::HeartbeatRequest& request);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cluster::v1::ClusterControl::Stub> stub_;
};

// Sleeps up to `d` in small steps, returning early when *stop is set.
void SleepUnlessStopped(absl::Duration d, const std::atomic<bool>* stop);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_CLUSTER_MEMBER_H_
