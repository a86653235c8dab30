#include "common/cluster_member.h"

#include <thread>

#include "common/grpc_util.h"
#include "grpcpp/grpcpp.h"

namespace moeserve {

cluster::v1::ModelFingerprint FingerprintOf(const ModelConfig& c) {
  cluster::v1::ModelFingerprint f;
  f.set_model_type(c.model_type);
  f.set_num_hidden_layers(static_cast<uint32_t>(c.num_hidden_layers));
  f.set_hidden_size(static_cast<uint32_t>(c.hidden_size));
  f.set_num_experts(static_cast<uint32_t>(c.num_experts));
  f.set_num_experts_per_tok(static_cast<uint32_t>(c.num_experts_per_tok));
  f.set_moe_intermediate_size(static_cast<uint32_t>(c.moe_intermediate_size));
  f.set_vocab_size(static_cast<uint32_t>(c.vocab_size));
  return f;
}

void SleepUnlessStopped(absl::Duration d, const std::atomic<bool>* stop) {
  const absl::Time end = absl::Now() + d;
  while (absl::Now() < end && !(stop && stop->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ClusterMember::ClusterMember(const std::string& router)
    : channel_(grpc::CreateChannel(router, grpc::InsecureChannelCredentials())),
      stub_(cluster::v1::ClusterControl::NewStub(channel_)) {}

absl::StatusOr<cluster::v1::RegisterResponse> ClusterMember::Register(
    const cluster::v1::RegisterRequest& request, absl::Time deadline,
    const std::atomic<bool>* stop) {
  absl::Status last = absl::DeadlineExceededError("router not reached");
  while (absl::Now() < deadline && !(stop && stop->load())) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(std::min(deadline, absl::Now() + absl::Seconds(2))));
    cluster::v1::RegisterResponse response;
    const grpc::Status s = stub_->Register(&ctx, request, &response);
    if (s.ok()) return response;
    last = FromGrpcStatus(s);
    // Anything but "not there yet" is final (a bad registration stays bad).
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last;
    }
    SleepUnlessStopped(absl::Milliseconds(100), stop);
  }
  if (stop && stop->load()) return absl::CancelledError("stopped while registering");
  return absl::DeadlineExceededError(
      std::string("could not register with the router: ") + std::string(last.message()));
}

absl::StatusOr<cluster::v1::Placement> ClusterMember::WaitForPlacement(
    const std::function<bool(const cluster::v1::Placement&)>& ready, absl::Time deadline,
    const std::atomic<bool>* stop) {
  while (absl::Now() < deadline && !(stop && stop->load())) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    cluster::v1::Placement placement;
    const grpc::Status s = stub_->GetPlacement(&ctx, cluster::v1::GetPlacementRequest(), &placement);
    if (s.ok() && ready(placement)) return placement;
    SleepUnlessStopped(absl::Milliseconds(100), stop);
  }
  if (stop && stop->load()) return absl::CancelledError("stopped while waiting for placement");
  return absl::DeadlineExceededError("timed out waiting for every expert shard to register");
}

absl::StatusOr<cluster::v1::HeartbeatResponse> ClusterMember::Heartbeat(
    const cluster::v1::HeartbeatRequest& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  cluster::v1::HeartbeatResponse response;
  const grpc::Status s = stub_->Heartbeat(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

}  // namespace moeserve
