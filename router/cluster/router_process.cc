#include "router/cluster/router_process.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/cluster_member.h"
#include "common/grpc_util.h"
#include "common/logging.h"
#include "common/placement.h"
#include "common/status.h"
#include "router/api/http_server.h"
#include "router/api/router_service.h"
#include "router/cluster/cluster_registry.h"
#include "router/cluster/grpc_worker_client.h"
#include "router/scheduler/scheduler.h"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::router {

absl::Status RunRouterProcess(const ClusterConfig& cfg, const std::string& fallback_tokenizer_dir,
                              const std::atomic<bool>* stop) {
  ASSIGN_OR_RETURN(ModelConfig model, LoadModelConfig(cfg.model));
  RETURN_IF_ERROR(cfg.ValidateForModel(model));
  ASSIGN_OR_RETURN(
      ExpertPlacement placement,
      ExpertPlacement::Resolve(cfg.expert_shards.placement,
                               static_cast<int>(std::max<int64_t>(model.num_experts, 1)),
                               std::max(cfg.expert_shards.count, 1)));
  std::string tokenizer_path = cfg.model + "/tokenizer.json";
  if (!std::filesystem::exists(tokenizer_path)) {
    if (fallback_tokenizer_dir.empty()) {
      return absl::FailedPreconditionError(
          cfg.model + " has no tokenizer.json and no Qwen3 tokenizer was found (run scripts/setup)");
    }
    tokenizer_path = fallback_tokenizer_dir + "/tokenizer.json";
    LOG(WARNING) << cfg.model << " has no tokenizer.json; using " << tokenizer_path;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tok,
                   tokenizer::Tokenizer::FromFile(tokenizer_path));

  ClusterRegistry registry(cfg, model, std::move(placement));
  GrpcServerOptions go;
  go.address = absl::StrCat(cfg.router.host, ":", cfg.router.grpc_port);
  ASSIGN_OR_RETURN(StartedGrpcServer grpc_server, StartGrpcServer(go, {&registry}));

  std::vector<std::shared_ptr<WorkerClient>> workers;
  for (int i = 0; i < cfg.workers.count; ++i) {
    workers.push_back(std::make_shared<GrpcWorkerClient>(
        absl::StrCat("worker-", i),
        absl::StrCat(cfg.workers.advertise_host, ":", cfg.WorkerGrpcPort(i))));
  }
  SchedulerOptions so;
  so.max_waiting = cfg.router.max_queue;
  Scheduler scheduler(workers, so);

  api::RouterServiceOptions ro;
  // As vLLM: the served name defaults to the model path exactly as configured.
  ro.model_id = cfg.router.served_model_name.empty() ? cfg.model : cfg.router.served_model_name;
  ro.vocab_size = static_cast<int32_t>(model.vocab_size);
  ro.max_model_len = static_cast<int32_t>(cfg.workers.max_model_len > 0
                                              ? cfg.workers.max_model_len
                                              : model.max_position_embeddings);
  api::RouterService service(ro, tok.get(), &scheduler, [&registry, &scheduler] {
    return registry.AllReady() && scheduler.AnyWorkerReady();
  });
  api::HttpServerOptions ho;
  ho.address = cfg.router.host;
  ho.port = static_cast<uint16_t>(cfg.router.http_port);
  api::HttpServer http(ho);
  service.Register(&http);
  RETURN_IF_ERROR(http.Start());
  LOG(INFO) << "router: HTTP on " << cfg.router.host << ":" << http.port() << ", gRPC on "
            << cfg.router.host << ":" << grpc_server.port;

  std::string last;
  while (!stop->load()) {
    const std::string summary = registry.Summary();
    if (summary != last) LOG(INFO) << "cluster: " << summary;
    last = summary;
    SleepUnlessStopped(absl::Milliseconds(200), stop);
  }
  http.Stop();
  grpc_server.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return absl::OkStatus();
}

}  // namespace moeserve::router
