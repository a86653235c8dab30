#include "expert_shard/shard_process.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/cluster_member.h"
#include "common/grpc_util.h"
#include "common/logging.h"
#include "common/model_spec.h"
#include "common/placement.h"
#include "common/safetensors.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "common/transport_ucx.h"
#include "expert_shard/expert_compute.h"
#include "expert_shard/expert_store.h"
#include "expert_shard/shard_server.h"
#include "kernels/cpu/cpu_backend.h"
#include "moeserve/cluster/v1/cluster.grpc.pb.h"

namespace moeserve {
namespace {

namespace pb = cluster::v1;

// The ExpertShard gRPC service: statistics and drain. Reads only thread-safe state.
class ExpertShardService final : public pb::ExpertShard::Service {
 public:
  ExpertShardService(int index, const std::vector<int>& hosted, const ExpertStore* store)
      : index_(index), hosted_(hosted), store_(store) {}

  void SetServer(const ShardServer* server) { server_.store(server); }
  void SetRank(uint32_t rank) { rank_.store(rank); }
  bool draining() const { return draining_.load(); }

  grpc::Status GetStats(grpc::ServerContext*, const pb::ShardStatsRequest*,
                        pb::ShardStats* out) override {
    out->set_shard_index(index_);
    out->set_rank(rank_.load());
    const ShardServer* server = server_.load();
    out->set_state(draining_.load() ? pb::MEMBER_STATE_DRAINING
                   : server         ? pb::MEMBER_STATE_READY
                                    : pb::MEMBER_STATE_STARTING);
    *out->mutable_load() = Load();
    for (int e : hosted_) out->add_hosted_experts(e);
    return grpc::Status::OK;
  }

  grpc::Status Drain(grpc::ServerContext*, const pb::DrainMemberRequest*,
                     pb::DrainMemberResponse* out) override {
    // A shard holds no request state: once drained it answers what is in flight and the
    // workers' placement moves away from it.
    draining_.store(true);
    out->set_state(pb::MEMBER_STATE_DRAINED);
    return grpc::Status::OK;
  }

  pb::ShardLoad Load() const {
    pb::ShardLoad load;
    if (const ShardServer* server = server_.load()) {
      const ShardServerStats s = server->stats();
      load.set_rows_processed(static_cast<uint64_t>(s.rows));
      load.set_batches(static_cast<uint64_t>(s.expert_calls));
    }
    load.set_resident_expert_bytes(static_cast<uint64_t>(store_->bytes()));
    load.set_hosted_experts(static_cast<uint32_t>(hosted_.size()));
    return load;
  }

 private:
  const int index_;
  const std::vector<int> hosted_;
  const ExpertStore* store_;
  std::atomic<const ShardServer*> server_{nullptr};
  std::atomic<uint32_t> rank_{0};
  std::atomic<bool> draining_{false};
};

}  // namespace

absl::Status RunExpertShardProcess(const ClusterConfig& cfg, int index,
                                   const std::atomic<bool>* stop) {
  const ExpertShardOptions& so = cfg.expert_shards;
  if (index < 0 || index >= so.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("expert shard index ", index, " is outside [0, ", so.count, ")"));
  }
  ASSIGN_OR_RETURN(ModelConfig model, LoadModelConfig(cfg.model));
  RETURN_IF_ERROR(cfg.ValidateForModel(model));
  if (model.num_experts == 0) {
    return absl::FailedPreconditionError("the model has no experts; run it without shards");
  }
  ASSIGN_OR_RETURN(ExpertPlacement placement,
                   ExpertPlacement::Resolve(so.placement, static_cast<int>(model.num_experts),
                                            so.count));
  std::vector<bool> owned(model.num_experts, false);
  for (int e : placement.ExpertsOf(index)) owned[e] = true;

  // Load only this shard's experts: check them, then read their pages in.
  ASSIGN_OR_RETURN(std::unique_ptr<TensorStore> store, TensorStore::Open(cfg.model));
  SpecOptions spec;
  spec.non_expert = false;
  spec.expert_filter = [&owned](int64_t, int64_t e) { return owned[e]; };
  RETURN_IF_ERROR(CheckTensors(model, *store, spec));
  OpenOptions populate;
  populate.populate = SpecSelector(spec);
  populate.progress = true;
  RETURN_IF_ERROR(store->Populate(populate).status());

  ThreadPool pool(so.threads);
  ASSIGN_OR_RETURN(std::unique_ptr<kernels::Backend> backend, kernels::MakeCpuBackend(&pool));
  ASSIGN_OR_RETURN(std::unique_ptr<ExpertStore> experts, ExpertStore::Load(model, *store, owned));
  ExpertCompute compute(model, experts.get(), backend.get());
  LOG(INFO) << "expert shard " << index << ": " << placement.ExpertsOf(index).size()
            << " experts per layer, " << experts->bytes() / (1 << 20) << " MiB of expert weights";

  UcxTransportOptions to;
  to.transports = cfg.data_plane.ucx_tls;
  to.peer_timeout = absl::Milliseconds(cfg.data_plane.peer_timeout_ms);
  ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport, MakeUcxTransport(to));
  const std::span<const std::byte> local = transport->LocalAddress();
  const std::vector<std::byte> address(local.begin(), local.end());

  ExpertShardService service(index, placement.ExpertsOf(index), experts.get());
  GrpcServerOptions go;
  go.address = absl::StrCat(so.host, ":", cfg.ShardGrpcPort(index));
  ASSIGN_OR_RETURN(StartedGrpcServer grpc_server, StartGrpcServer(go, {&service}));
  SetServing(*grpc_server.server, false);

  ShardServerOptions sso;
  sso.shard_index = static_cast<uint32_t>(index);
  // Sleep soon when idle: on small machines shards share cores with workers.
  sso.spin_polls = 50;
  sso.idle_sleep = absl::Milliseconds(5);  // an upper bound: UCX wakes the loop on arrival
  ASSIGN_OR_RETURN(std::unique_ptr<ShardServer> server,
                   ShardServer::Create(model, experts.get(), &compute, transport.get(), sso));
  absl::Status serve_status;
  std::thread serve_thread([&] { serve_status = server->Serve(); });
  service.SetServer(server.get());

  ClusterMember member(cfg.router.AdvertiseAddress());
  pb::RegisterRequest reg;
  reg.set_role(pb::ROLE_EXPERT_SHARD);
  reg.set_instance_id(absl::StrCat("shard-", index));
  reg.set_grpc_address(absl::StrCat(so.advertise_host, ":", grpc_server.port));
  reg.set_data_plane_address(reinterpret_cast<const char*>(address.data()), address.size());
  reg.set_data_plane_transport("ucx");
  *reg.mutable_model() = FingerprintOf(model);
  reg.mutable_capabilities()->set_compute("cpu");
  reg.mutable_capabilities()->set_isa(backend->name());
  reg.mutable_capabilities()->set_threads(static_cast<uint32_t>(pool.num_threads()));
  reg.set_shard_index(static_cast<uint32_t>(index));
  auto registered = member.Register(reg, absl::Now() + absl::Seconds(120), stop);
  absl::Status result = registered.status();
  if (registered.ok()) {
    service.SetRank(registered->rank());
    SetServing(*grpc_server.server, true);
    LOG(INFO) << "expert shard " << index << " registered as rank " << registered->rank();
    const absl::Duration interval =
        absl::Milliseconds(std::max<uint32_t>(registered->heartbeat().interval_ms(), 100));
    while (!stop->load() && serve_status.ok()) {
      pb::HeartbeatRequest hb;
      hb.set_rank(registered->rank());
      hb.set_instance_id(reg.instance_id());
      hb.set_state(service.draining() ? pb::MEMBER_STATE_DRAINED : pb::MEMBER_STATE_READY);
      *hb.mutable_load()->mutable_shard() = service.Load();
      hb.set_placement_version(registered->placement().version());
      auto answer = member.Heartbeat(hb);
      if (!answer.ok()) LOG(WARNING) << "heartbeat: " << answer.status();
      SleepUnlessStopped(interval, stop);
    }
  }
  server->Stop();
  serve_thread.join();
  grpc_server.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (!serve_status.ok()) return serve_status;
  if (stop->load() && absl::IsCancelled(result)) return absl::OkStatus();
  return result;
}

}  // namespace moeserve
