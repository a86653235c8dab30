// The router's ClusterControl service: who is in the cluster, where each member listens, the
// expert placement with every shard's data-plane address, heartbeats and liveness, drain.
//
// The cluster's shape comes from the shared ClusterConfig: worker i has data-plane rank i and
// expert shard j has rank workers.count + j, so ranks are stable across restarts. A member that
// registers again (a restarted process) replaces its earlier registration and bumps the
// placement version.
//
// Thread-safety: every method is safe from any thread (gRPC handler threads, the HTTP health
// check); state is guarded by one mutex.
#ifndef MOESERVE_ROUTER_CLUSTER_CLUSTER_REGISTRY_H_
#define MOESERVE_ROUTER_CLUSTER_CLUSTER_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cluster_config.h"
#include "common/model_config.h"
#include "common/placement.h"
#include "moeserve/cluster/v1/cluster.grpc.pb.h"

namespace moeserve::router {

class ClusterRegistry final : public cluster::v1::ClusterControl::Service {
 public:
  ClusterRegistry(const ClusterConfig& config, const ModelConfig& model,
                  ExpertPlacement placement);

  // Every expected worker and shard registered, READY, and heard from within the timeout.
  bool AllReady() const;
  // "2/2 workers, 3/4 shards ready" for logs and /health bodies.
  std::string Summary() const;

  grpc::Status Register(grpc::ServerContext*, const cluster::v1::RegisterRequest* request,
                        cluster::v1::RegisterResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const cluster::v1::HeartbeatRequest* request,
                         cluster::v1::HeartbeatResponse* response) override;
  grpc::Status GetPlacement(grpc::ServerContext*, const cluster::v1::GetPlacementRequest*,
                            cluster::v1::Placement* response) override;
  grpc::Status Drain(grpc::ServerContext*, const cluster::v1::DrainRequest* request,
                     cluster::v1::DrainResponse* response) override;
  grpc::Status GetClusterStatus(grpc::ServerContext*, const cluster::v1::ClusterStatusRequest*,
                                cluster::v1::ClusterStatusResponse* response) override;

 private:
  struct Member {
    bool registered = false;
    cluster::v1::RegisterRequest registration;
    cluster::v1::MemberState state = cluster::v1::MEMBER_STATE_STARTING;
    cluster::v1::MemberState desired = cluster::v1::MEMBER_STATE_READY;
    cluster::v1::LoadReport load;
    absl::Time last_seen;
    absl::Time registered_at;
  };
  bool Lost(const Member& m, absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void FillPlacement(cluster::v1::Placement* out) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const ClusterConfig config_;
  const ModelConfig model_;
  const ExpertPlacement placement_;
  const absl::Time started_;

  mutable absl::Mutex mu_;
  std::vector<Member> members_ ABSL_GUARDED_BY(mu_);  // by rank: workers, then shards
  uint64_t placement_version_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace moeserve::router

#endif  // MOESERVE_ROUTER_CLUSTER_CLUSTER_REGISTRY_H_
