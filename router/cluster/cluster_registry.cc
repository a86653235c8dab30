#include "router/cluster/cluster_registry.h"

#include "absl/strings/str_cat.h"
#include "common/cluster_member.h"
#include "common/logging.h"

namespace moeserve::router {
namespace pb = cluster::v1;

namespace {
grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}
}  // namespace

ClusterRegistry::ClusterRegistry(const ClusterConfig& config, const ModelConfig& model,
                                 ExpertPlacement placement)
    : config_(config), model_(model), placement_(std::move(placement)), started_(absl::Now()) {
  members_.resize(config.workers.count + config.expert_shards.count);
}

bool ClusterRegistry::Lost(const Member& m, absl::Time now) const {
  return now - m.last_seen > absl::Milliseconds(config_.heartbeat.timeout_ms);
}

bool ClusterRegistry::AllReady() const {
  absl::ReaderMutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (const Member& m : members_) {
    if (!m.registered || m.state != pb::MEMBER_STATE_READY || Lost(m, now)) return false;
  }
  return true;
}

std::string ClusterRegistry::Summary() const {
  absl::ReaderMutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  int workers = 0, shards = 0;
  for (size_t r = 0; r < members_.size(); ++r) {
    const Member& m = members_[r];
    if (!m.registered || m.state != pb::MEMBER_STATE_READY || Lost(m, now)) continue;
    (static_cast<int>(r) < config_.workers.count ? workers : shards)++;
  }
  return absl::StrCat(workers, "/", config_.workers.count, " workers, ", shards, "/",
                      config_.expert_shards.count, " expert shards ready");
}

void ClusterRegistry::FillPlacement(pb::Placement* out) const {
  PlacementToProto(placement_, placement_version_, out);
  out->clear_shards();
  for (int j = 0; j < config_.expert_shards.count; ++j) {
    const Member& m = members_[config_.workers.count + j];
    pb::ShardEndpoint* s = out->add_shards();
    s->set_shard_index(static_cast<uint32_t>(j));
    s->set_rank(static_cast<uint32_t>(config_.workers.count + j));
    if (m.registered) {
      s->set_grpc_address(m.registration.grpc_address());
      s->set_data_plane_address(m.registration.data_plane_address());
      s->set_data_plane_transport(m.registration.data_plane_transport());
    }
  }
}

grpc::Status ClusterRegistry::Register(grpc::ServerContext*, const pb::RegisterRequest* req,
                                       pb::RegisterResponse* resp) {
  int rank;
  if (req->role() == pb::ROLE_ATTENTION_WORKER) {
    if (!req->has_worker_index() || static_cast<int>(req->worker_index()) >= config_.workers.count) {
      return Invalid(absl::StrCat("worker_index must be in [0, ", config_.workers.count, ")"));
    }
    rank = static_cast<int>(req->worker_index());
  } else if (req->role() == pb::ROLE_EXPERT_SHARD) {
    if (!req->has_shard_index() ||
        static_cast<int>(req->shard_index()) >= config_.expert_shards.count) {
      return Invalid(
          absl::StrCat("shard_index must be in [0, ", config_.expert_shards.count, ")"));
    }
    rank = config_.workers.count + static_cast<int>(req->shard_index());
  } else {
    return Invalid("role must be ROLE_ATTENTION_WORKER or ROLE_EXPERT_SHARD");
  }
  if (req->data_plane_transport() != config_.data_plane.transport) {
    return Invalid(absl::StrCat("data_plane_transport \"", req->data_plane_transport(),
                                "\" differs from the cluster's \"", config_.data_plane.transport,
                                "\""));
  }
  const pb::ModelFingerprint expected = FingerprintOf(model_);
  if (req->model().SerializeAsString() != expected.SerializeAsString()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "the member's model differs from the router's");
  }
  absl::MutexLock lock(&mu_);
  Member& m = members_[rank];
  if (m.registered) ++placement_version_;  // a restarted member: new data-plane address
  m.registered = true;
  m.registration = *req;
  m.state = pb::MEMBER_STATE_STARTING;
  m.desired = pb::MEMBER_STATE_READY;
  m.last_seen = absl::Now();
  m.registered_at = m.last_seen;
  if (req->role() == pb::ROLE_EXPERT_SHARD) ++placement_version_;
  resp->set_rank(static_cast<uint32_t>(rank));
  resp->set_index(req->role() == pb::ROLE_ATTENTION_WORKER ? req->worker_index()
                                                           : req->shard_index());
  FillPlacement(resp->mutable_placement());
  resp->mutable_heartbeat()->set_interval_ms(static_cast<uint32_t>(config_.heartbeat.interval_ms));
  resp->mutable_heartbeat()->set_timeout_ms(static_cast<uint32_t>(config_.heartbeat.timeout_ms));
  resp->set_world_size(static_cast<uint32_t>(members_.size()));
  LOG(INFO) << "registered " << req->instance_id() << " as rank " << rank << " at "
            << req->grpc_address();
  return grpc::Status::OK;
}

grpc::Status ClusterRegistry::Heartbeat(grpc::ServerContext*, const pb::HeartbeatRequest* req,
                                        pb::HeartbeatResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (req->rank() >= members_.size() || !members_[req->rank()].registered ||
      members_[req->rank()].registration.instance_id() != req->instance_id()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("rank ", req->rank(), " is not registered as ",
                                     req->instance_id(), "; register again"));
  }
  Member& m = members_[req->rank()];
  if (m.state != req->state()) {
    LOG(INFO) << m.registration.instance_id() << " is now " << pb::MemberState_Name(req->state());
  }
  m.state = req->state();
  m.load = req->load();
  m.last_seen = absl::Now();
  resp->set_desired_state(m.desired);
  resp->set_placement_version(placement_version_);
  return grpc::Status::OK;
}

grpc::Status ClusterRegistry::GetPlacement(grpc::ServerContext*, const pb::GetPlacementRequest*,
                                           pb::Placement* resp) {
  absl::ReaderMutexLock lock(&mu_);
  FillPlacement(resp);
  return grpc::Status::OK;
}

grpc::Status ClusterRegistry::Drain(grpc::ServerContext*, const pb::DrainRequest* req,
                                    pb::DrainResponse* resp) {
  absl::MutexLock lock(&mu_);
  for (size_t r = 0; r < members_.size(); ++r) {
    if (req->has_rank() && req->rank() != r) continue;
    if (!req->has_rank() && !req->all()) {
      return Invalid("give a rank or all=true");
    }
    if (!members_[r].registered) continue;
    members_[r].desired = pb::MEMBER_STATE_DRAINING;
    resp->add_draining_ranks(static_cast<uint32_t>(r));
  }
  if (req->has_rank() && resp->draining_ranks_size() == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("rank ", req->rank(), " is not registered"));
  }
  return grpc::Status::OK;
}

grpc::Status ClusterRegistry::GetClusterStatus(grpc::ServerContext*,
                                               const pb::ClusterStatusRequest*,
                                               pb::ClusterStatusResponse* resp) {
  absl::ReaderMutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  resp->set_model(config_.model);
  *resp->mutable_fingerprint() = FingerprintOf(model_);
  resp->set_uptime_ms(static_cast<uint64_t>(absl::ToInt64Milliseconds(now - started_)));
  resp->set_expected_workers(static_cast<uint32_t>(config_.workers.count));
  resp->set_expected_shards(static_cast<uint32_t>(config_.expert_shards.count));
  resp->set_placement_version(placement_version_);
  bool complete = true;
  for (size_t r = 0; r < members_.size(); ++r) {
    const Member& m = members_[r];
    if (!m.registered) {
      complete = false;
      continue;
    }
    pb::MemberStatus* s = resp->add_members();
    s->set_role(m.registration.role());
    s->set_rank(static_cast<uint32_t>(r));
    s->set_index(m.registration.role() == pb::ROLE_ATTENTION_WORKER
                     ? m.registration.worker_index()
                     : m.registration.shard_index());
    s->set_instance_id(m.registration.instance_id());
    s->set_grpc_address(m.registration.grpc_address());
    const bool lost = Lost(m, now);
    s->set_state(lost ? pb::MEMBER_STATE_LOST : m.state);
    s->set_last_heartbeat_age_ms(static_cast<uint64_t>(absl::ToInt64Milliseconds(now - m.last_seen)));
    *s->mutable_load() = m.load;
    s->set_registered_unix_ms(static_cast<uint64_t>(absl::ToUnixMillis(m.registered_at)));
    *s->mutable_capabilities() = m.registration.capabilities();
    if (lost || m.state != pb::MEMBER_STATE_READY) complete = false;
  }
  resp->set_complete(complete);
  return grpc::Status::OK;
}

}  // namespace moeserve::router
