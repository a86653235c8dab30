#include "worker/worker_process.h"

#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/cluster_member.h"
#include "common/grpc_util.h"
#include "common/logging.h"
#include "common/model_spec.h"
#include "common/prefix_hash.h"
#include "common/placement.h"
#include "common/safetensors.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "common/transport_ucx.h"
#include "kernels/cpu/cpu_backend.h"
#include "moeserve/cluster/v1/cluster.grpc.pb.h"
#include "worker/batch_loop.h"
#include "worker/kv/kv_storage.h"
#include "worker/model_runner.h"
#include "worker/model_weights.h"
#include "worker/remote_dispatcher.h"

namespace moeserve {
namespace {

namespace pb = cluster::v1;

pb::WorkerLoad ToProto(const LoopLoad& l) {
  pb::WorkerLoad out;
  out.set_waiting_requests(static_cast<uint32_t>(l.waiting_requests));
  out.set_running_requests(static_cast<uint32_t>(l.running_requests));
  out.set_queued_tokens(static_cast<uint64_t>(l.queued_tokens));
  out.set_running_tokens(static_cast<uint64_t>(l.running_tokens));
  out.set_free_kv_blocks(static_cast<uint64_t>(l.free_kv_blocks));
  out.set_total_kv_blocks(static_cast<uint64_t>(l.total_kv_blocks));
  out.set_steps(static_cast<uint64_t>(l.steps));
  out.set_generated_tokens(static_cast<uint64_t>(l.generated_tokens));
  out.set_prefix_cache_hit_tokens(static_cast<uint64_t>(l.prefix_hit_tokens));
  out.set_prefix_cache_query_tokens(static_cast<uint64_t>(l.prefix_query_tokens));
  return out;
}

pb::WorkerEvent ToProto(const LoopEvent& e) {
  pb::WorkerEvent out;
  if (!e.error.ok()) {
    pb::RequestError* err = out.mutable_error();
    err->set_request_id(e.id);
    err->set_code(static_cast<int32_t>(e.error.code()));
    err->set_message(std::string(e.error.message()));
    return out;
  }
  if (e.finished) {
    pb::Finished* f = out.mutable_finished();
    f->set_request_id(e.id);
    f->set_reason(e.finish_reason == "stop"    ? pb::FINISH_REASON_STOP
                  : e.finish_reason == "abort" ? pb::FINISH_REASON_ABORT
                                               : pb::FINISH_REASON_LENGTH);
    f->set_prompt_tokens(static_cast<uint32_t>(e.prompt_tokens));
    f->set_completion_tokens(static_cast<uint32_t>(e.completion_tokens));
    return out;
  }
  pb::TokenOutput* t = out.mutable_tokens();
  t->set_request_id(e.id);
  for (int32_t id : e.tokens) t->add_token_ids(static_cast<uint32_t>(id));
  for (const TokenLogprob& lp : e.logprobs) {
    pb::TokenLogprob* p = t->add_logprobs();
    p->set_logprob(static_cast<float>(lp.logprob));
    for (const auto& [id, v] : lp.top) {
      pb::TopLogprob* top = p->add_top();
      top->set_token_id(static_cast<uint32_t>(id));
      top->set_logprob(static_cast<float>(v));
    }
  }
  return out;
}

// One open Generate stream: events for its requests are queued here and written by a writer
// thread (a sync stream allows one reader and one writer at a time).
struct StreamState {
  absl::Mutex mu;
  std::deque<pb::WorkerEvent> outgoing ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
};

class AttentionWorkerService final : public pb::AttentionWorker::Service {
 public:
  AttentionWorkerService(const GenerationConfig& gen, absl::Duration load_interval)
      : gen_(gen), load_interval_(load_interval) {}

  void SetLoop(BatchLoop* loop) { loop_.store(loop); }

  // Called on the BatchLoop thread.
  void OnEvent(LoopEvent e) {
    std::shared_ptr<StreamState> stream;
    {
      absl::MutexLock lock(&mu_);
      auto it = owners_.find(e.id);
      if (it == owners_.end()) return;
      stream = it->second;
      if (e.finished || !e.error.ok()) owners_.erase(it);
    }
    absl::MutexLock lock(&stream->mu);
    stream->outgoing.push_back(ToProto(e));
  }

  grpc::Status Generate(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<pb::WorkerEvent, pb::WorkerRequest>* stream) override {
    BatchLoop* loop = loop_.load();
    if (loop == nullptr) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the worker is still starting");
    }
    auto state = std::make_shared<StreamState>();
    std::thread writer([&] {
      absl::Time next_load = absl::InfinitePast();
      for (;;) {
        pb::WorkerEvent event;
        bool have = false;
        {
          absl::MutexLock lock(&state->mu);
          auto ready = [&] { return state->closed || !state->outgoing.empty(); };
          state->mu.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(50));
          if (state->closed) return;
          if (!state->outgoing.empty()) {
            event = std::move(state->outgoing.front());
            state->outgoing.pop_front();
            have = true;
          }
        }
        if (!have) {
          if (absl::Now() < next_load) continue;
          *event.mutable_load() = Load(*loop);
          next_load = absl::Now() + load_interval_;
        }
        if (!stream->Write(event)) {
          ctx->TryCancel();
          return;
        }
      }
    });
    std::vector<std::string> mine;
    pb::WorkerRequest req;
    while (stream->Read(&req)) {
      if (req.has_add()) {
        const pb::AddRequest& a = req.add();
        LoopRequest r;
        r.id = a.request_id();
        for (uint32_t id : a.prompt_token_ids()) r.prompt.push_back(static_cast<int32_t>(id));
        const pb::SamplingParams& s = a.sampling();
        r.sampling.temperature = s.has_temperature() ? s.temperature() : 1.0f;
        r.sampling.top_p = s.has_top_p() ? s.top_p() : 1.0f;
        r.sampling.top_k = s.has_top_k() ? s.top_k() : 0;
        r.sampling.min_p = s.has_min_p() ? s.min_p() : 0.0f;
        r.sampling.seed = s.has_seed() ? s.seed() : std::random_device{}();
        r.sampling.presence_penalty = s.presence_penalty();
        r.sampling.frequency_penalty = s.frequency_penalty();
        r.sampling.repetition_penalty = s.has_repetition_penalty() ? s.repetition_penalty() : 1.0f;
        r.max_tokens = s.has_max_tokens() ? s.max_tokens() : 16;
        r.logprobs = s.has_logprobs() ? static_cast<int>(s.logprobs()) : 0;
        if (!s.ignore_eos()) r.stop_ids = gen_.eos_token_ids;
        for (uint32_t id : s.stop_token_ids()) r.stop_ids.push_back(id);
        {
          absl::MutexLock lock(&mu_);
          owners_[r.id] = state;
          for (uint64_t h : PrefixBlockHashes(r.prompt, kAffinityBlocks)) {
            recent_prefixes_.push_back(h);
            if (recent_prefixes_.size() > kMaxRecentPrefixes) recent_prefixes_.pop_front();
          }
        }
        mine.push_back(r.id);
        loop->Add(std::move(r));
      } else if (req.has_abort()) {
        loop->Abort(req.abort().request_id());
      }
    }
    // The router went away: abort what it left behind.
    for (const std::string& id : mine) {
      bool live;
      {
        absl::MutexLock lock(&mu_);
        live = owners_.erase(id) > 0;
      }
      if (live) loop->Abort(id);
    }
    {
      absl::MutexLock lock(&state->mu);
      state->closed = true;
    }
    writer.join();
    return grpc::Status::OK;
  }

  grpc::Status GetLoad(grpc::ServerContext*, const pb::GetLoadRequest*,
                       pb::WorkerLoad* out) override {
    BatchLoop* loop = loop_.load();
    if (loop == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting");
    *out = Load(*loop);
    return grpc::Status::OK;
  }

  // The loop's load plus the prefix hashes of recently admitted prompts.
  pb::WorkerLoad Load(const BatchLoop& loop) {
    pb::WorkerLoad out = ToProto(loop.load());
    absl::MutexLock lock(&mu_);
    for (uint64_t h : recent_prefixes_) out.add_recent_prefix_hashes(h);
    return out;
  }

 private:
  const GenerationConfig gen_;
  const absl::Duration load_interval_;
  std::atomic<BatchLoop*> loop_{nullptr};
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<StreamState>> owners_ ABSL_GUARDED_BY(mu_);
  static constexpr int kAffinityBlocks = 8;
  static constexpr size_t kMaxRecentPrefixes = 512;
  std::deque<uint64_t> recent_prefixes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status RunWorkerProcess(const ClusterConfig& cfg, int index, const std::atomic<bool>* stop) {
  const WorkerOptions& wo = cfg.workers;
  if (index < 0 || index >= wo.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker index ", index, " is outside [0, ", wo.count, ")"));
  }
  ASSIGN_OR_RETURN(ModelConfig model, LoadModelConfig(cfg.model));
  ASSIGN_OR_RETURN(GenerationConfig gen, LoadGenerationConfig(cfg.model));
  RETURN_IF_ERROR(cfg.ValidateForModel(model));

  UcxTransportOptions to;
  to.transports = cfg.data_plane.ucx_tls;
  to.peer_timeout = absl::Milliseconds(cfg.data_plane.peer_timeout_ms);
  ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport, MakeUcxTransport(to));
  const std::span<const std::byte> local = transport->LocalAddress();

  AttentionWorkerService service(gen, absl::Milliseconds(std::min(cfg.heartbeat.interval_ms, 500)));
  GrpcServerOptions go;
  go.address = absl::StrCat(wo.host, ":", cfg.WorkerGrpcPort(index));
  ASSIGN_OR_RETURN(StartedGrpcServer grpc_server, StartGrpcServer(go, {&service}));
  SetServing(*grpc_server.server, false);

  ClusterMember member(cfg.router.AdvertiseAddress());
  pb::RegisterRequest reg;
  reg.set_role(pb::ROLE_ATTENTION_WORKER);
  reg.set_instance_id(absl::StrCat("worker-", index));
  reg.set_grpc_address(absl::StrCat(wo.advertise_host, ":", grpc_server.port));
  reg.set_data_plane_address(reinterpret_cast<const char*>(local.data()), local.size());
  reg.set_data_plane_transport("ucx");
  *reg.mutable_model() = FingerprintOf(model);
  reg.mutable_capabilities()->set_compute("cpu");
  reg.set_worker_index(static_cast<uint32_t>(index));
  ASSIGN_OR_RETURN(pb::RegisterResponse registered,
                   member.Register(reg, absl::Now() + absl::Seconds(120), stop));

  // The dense weights only.
  ASSIGN_OR_RETURN(std::unique_ptr<TensorStore> store, TensorStore::Open(cfg.model));
  SpecOptions spec;
  spec.experts = false;
  RETURN_IF_ERROR(CheckTensors(model, *store, spec));
  OpenOptions populate;
  populate.populate = SpecSelector(spec);
  populate.progress = true;
  RETURN_IF_ERROR(store->Populate(populate).status());
  ThreadPool pool(wo.threads);
  ASSIGN_OR_RETURN(std::unique_ptr<kernels::Backend> backend, kernels::MakeCpuBackend(&pool));
  ASSIGN_OR_RETURN(ModelWeights weights, ModelWeights::Load(model, *store));

  // Every expert shard on the data plane.
  std::unique_ptr<RemoteDispatcher> dispatcher;
  if (model.num_moe_layers() > 0) {
    const int shards = cfg.expert_shards.count;
    ASSIGN_OR_RETURN(pb::Placement placement,
                     member.WaitForPlacement(
                         [shards](const pb::Placement& p) {
                           if (p.shards_size() != shards) return false;
                           for (const auto& s : p.shards())
                             if (s.data_plane_address().empty()) return false;
                           return true;
                         },
                         absl::Now() + absl::Seconds(300), stop));
    RemoteDispatcherOptions ro;
    ro.rank = registered.rank();
    ro.num_experts = model.num_experts;
    ro.timeout = absl::Milliseconds(cfg.data_plane.peer_timeout_ms);
    ro.spin_polls = 50;  // then block on the transport: on shared cores the shards need the CPU
    ro.idle_sleep = absl::Milliseconds(2);
    for (uint32_t e : placement.expert_to_shard()) ro.placement.push_back(static_cast<int32_t>(e));
    for (const auto& s : placement.shards()) {
      const std::string& a = s.data_plane_address();
      ASSIGN_OR_RETURN(PeerId peer,
                       transport->Connect(std::span<const std::byte>(
                           reinterpret_cast<const std::byte*>(a.data()), a.size())));
      ro.shards.push_back(peer);
    }
    ASSIGN_OR_RETURN(dispatcher, RemoteDispatcher::Create(transport.get(), ro));
  }

  KvShape kv_shape;
  kv_shape.num_layers = model.num_hidden_layers;
  kv_shape.block_size = wo.block_size;
  kv_shape.num_kv_heads = model.num_key_value_heads;
  kv_shape.head_dim = model.head_dim;
  kv_shape.num_blocks = std::max<int64_t>(1, wo.kv_cache_bytes / kv_shape.BytesPerBlock());
  ASSIGN_OR_RETURN(std::unique_ptr<KvStorage> kv, KvStorage::Create(kv_shape));
  BlockAllocator allocator(static_cast<int32_t>(kv_shape.num_blocks));
  RunnerLimits limits;
  limits.max_tokens_per_step = wo.max_num_batched_tokens;
  limits.max_seqs_per_step = wo.max_num_seqs;
  limits.max_context = wo.max_model_len > 0 ? wo.max_model_len : model.max_position_embeddings;
  limits.num_threads = pool.num_threads();
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> runner,
                   ModelRunner::Create(model, &weights, backend.get(), dispatcher.get(), kv.get(),
                                       limits));
  BatchLoopOptions bo;
  bo.max_num_batched_tokens = wo.max_num_batched_tokens;
  bo.max_num_seqs = wo.max_num_seqs;
  bo.block_size = wo.block_size;
  BatchLoop loop(runner.get(), &allocator, bo, [&service](LoopEvent e) { service.OnEvent(std::move(e)); });
  loop.Start();
  service.SetLoop(&loop);
  SetServing(*grpc_server.server, true);
  LOG(INFO) << "worker " << index << " ready: rank " << registered.rank() << ", "
            << kv_shape.num_blocks << " KV blocks of " << wo.block_size << " tokens";

  const absl::Duration interval =
      absl::Milliseconds(std::max<uint32_t>(registered.heartbeat().interval_ms(), 100));
  while (!stop->load()) {
    pb::HeartbeatRequest hb;
    hb.set_rank(registered.rank());
    hb.set_instance_id(reg.instance_id());
    hb.set_state(pb::MEMBER_STATE_READY);
    *hb.mutable_load()->mutable_worker() = service.Load(loop);
    auto answer = member.Heartbeat(hb);
    if (!answer.ok()) LOG(WARNING) << "heartbeat: " << answer.status();
    SleepUnlessStopped(interval, stop);
  }
  SetServing(*grpc_server.server, false);
  grpc_server.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  loop.Stop();
  return absl::OkStatus();
}

}  // namespace moeserve
