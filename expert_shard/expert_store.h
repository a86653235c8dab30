// The expert weights one shard hosts: for every MoE layer, the SwiGLU weights of the experts
// the placement assigns to it. Views point into the mmapped checkpoint; only these tensors'
// pages are ever touched, so a shard's resident memory is about its share of the experts.
#ifndef MOESERVE_EXPERT_SHARD_EXPERT_STORE_H_
#define MOESERVE_EXPERT_SHARD_EXPERT_STORE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "common/safetensors.h"
#include "common/weight_ref.h"

namespace moeserve {

struct ExpertWeights {
  WeightRef gate;  // [moe_intermediate, hidden]
  WeightRef up;    // [moe_intermediate, hidden]
  WeightRef down;  // [hidden, moe_intermediate]
};

class ExpertStore {
 public:
  // owned[e] says whether this shard hosts expert e (same set in every MoE layer).
  static absl::StatusOr<std::unique_ptr<ExpertStore>> Load(const ModelConfig& config,
                                                           const TensorStore& store,
                                                           const std::vector<bool>& owned);

  bool owns(int64_t expert) const { return owned_[expert]; }
  int64_t num_owned() const { return num_owned_; }
  // Weights of an owned expert in a MoE layer; nullptr when not hosted here.
  const ExpertWeights* Get(int64_t layer, int64_t expert) const;
  // Bytes of expert weights hosted here.
  int64_t bytes() const { return bytes_; }

 private:
  ExpertStore() = default;
  int64_t num_experts_ = 0;
  int64_t num_owned_ = 0;
  int64_t bytes_ = 0;
  std::vector<bool> owned_;
  std::vector<std::vector<ExpertWeights>> layers_;  // [layer][expert], empty for dense layers
};

}  // namespace moeserve

#endif  // MOESERVE_EXPERT_SHARD_EXPERT_STORE_H_
