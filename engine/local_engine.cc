#include "engine/local_engine.h"

#include "common/model_spec.h"
#include "common/status.h"
#include "kernels/cpu/cpu_backend.h"

namespace moeserve {

absl::StatusOr<std::unique_ptr<LocalEngine>> LocalEngine::Open(const std::string& dir,
                                                               const LocalEngineOptions& options) {
  std::unique_ptr<LocalEngine> e(new LocalEngine());
  e->options_ = options;
  ASSIGN_OR_RETURN(e->config_, LoadModelConfig(dir));
  ASSIGN_OR_RETURN(e->generation_config_, LoadGenerationConfig(dir));
  // Validate everything before touching the weights' pages, then read them in with progress.
  ASSIGN_OR_RETURN(e->store_, TensorStore::Open(dir));
  RETURN_IF_ERROR(CheckTensors(e->config_, *e->store_, SpecOptions{}));
  OpenOptions populate;
  populate.progress = options.progress;
  RETURN_IF_ERROR(e->store_->Populate(populate).status());

  e->pool_ = std::make_unique<ThreadPool>(options.num_threads);
  ASSIGN_OR_RETURN(e->backend_, kernels::MakeCpuBackend(e->pool_.get()));
  ASSIGN_OR_RETURN(e->weights_, ModelWeights::Load(e->config_, *e->store_));
  const ModelConfig& c = e->config_;
  if (c.num_experts > 0) {
    ASSIGN_OR_RETURN(e->experts_,
                     ExpertStore::Load(c, *e->store_, std::vector<bool>(c.num_experts, true)));
    e->expert_compute_ =
        std::make_unique<ExpertCompute>(c, e->experts_.get(), e->backend_.get());
    e->dispatcher_ = std::make_unique<LocalDispatcher>(e->expert_compute_.get());
  }
  KvShape shape;
  shape.num_layers = c.num_hidden_layers;
  shape.block_size = options.block_size;
  shape.num_blocks = (options.kv_cache_tokens + options.block_size - 1) / options.block_size;
  shape.num_kv_heads = c.num_key_value_heads;
  shape.head_dim = c.head_dim;
  ASSIGN_OR_RETURN(e->kv_, KvStorage::Create(shape));
  e->allocator_ = std::make_unique<BlockAllocator>(static_cast<int32_t>(shape.num_blocks));
  RunnerLimits limits = options.limits;
  limits.num_threads = e->pool_->num_threads();
  ASSIGN_OR_RETURN(e->runner_, ModelRunner::Create(c, &e->weights_, e->backend_.get(),
                                                   e->dispatcher_.get(), e->kv_.get(), limits));
  e->generator_ =
      std::make_unique<Generator>(e->runner_.get(), e->allocator_.get(), options.block_size);
  return e;
}

}  // namespace moeserve
