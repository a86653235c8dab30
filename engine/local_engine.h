// The one-process placement: an attention worker's ModelRunner and an expert shard hosting
// every expert, linked through the in-process dispatcher. `moeserve generate`, the golden tests
// and the single-process benchmark use it; the cluster runs the same ModelRunner and
// ExpertCompute in separate processes.
#ifndef MOESERVE_ENGINE_LOCAL_ENGINE_H_
#define MOESERVE_ENGINE_LOCAL_ENGINE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "common/safetensors.h"
#include "common/thread_pool.h"
#include "expert_shard/expert_compute.h"
#include "engine/local_dispatcher.h"
#include "kernels/backend.h"
#include "worker/generator.h"
#include "worker/kv/block_allocator.h"
#include "worker/kv/kv_storage.h"
#include "worker/model_runner.h"
#include "worker/model_weights.h"

namespace moeserve {

struct LocalEngineOptions {
  int num_threads = 0;              // 0: all cores
  int64_t block_size = 16;          // KV cache block size (tokens)
  int64_t kv_cache_tokens = 8192;   // KV capacity in tokens (rounded up to blocks)
  RunnerLimits limits;              // num_threads is filled in from num_threads
  bool progress = false;            // show weight-loading progress
};

class LocalEngine {
 public:
  // Opens and checks the model directory, then builds every piece.
  static absl::StatusOr<std::unique_ptr<LocalEngine>> Open(const std::string& model_dir,
                                                           const LocalEngineOptions& options);

  const ModelConfig& config() const { return config_; }
  const GenerationConfig& generation_config() const { return generation_config_; }
  kernels::Backend* backend() { return backend_.get(); }
  ModelRunner* runner() { return runner_.get(); }
  BlockAllocator* allocator() { return allocator_.get(); }
  Generator* generator() { return generator_.get(); }
  const TensorStore& tensors() const { return *store_; }
  int64_t block_size() const { return options_.block_size; }

 private:
  LocalEngine() = default;

  LocalEngineOptions options_;
  ModelConfig config_;
  GenerationConfig generation_config_;
  std::unique_ptr<TensorStore> store_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<kernels::Backend> backend_;
  ModelWeights weights_;
  std::unique_ptr<ExpertStore> experts_;
  std::unique_ptr<ExpertCompute> expert_compute_;
  std::unique_ptr<LocalDispatcher> dispatcher_;
  std::unique_ptr<KvStorage> kv_;
  std::unique_ptr<BlockAllocator> allocator_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<Generator> generator_;
};

}  // namespace moeserve

#endif  // MOESERVE_ENGINE_LOCAL_ENGINE_H_
