#include "expert_shard/expert_store.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace moeserve {
namespace {
int64_t ElementBytes(kernels::WeightType t) { return t == kernels::WeightType::kF32 ? 4 : 2; }
}  // namespace

absl::StatusOr<std::unique_ptr<ExpertStore>> ExpertStore::Load(const ModelConfig& c,
                                                               const TensorStore& store,
                                                               const std::vector<bool>& owned) {
  if (static_cast<int64_t>(owned.size()) != c.num_experts) {
    return absl::InvalidArgumentError(absl::StrCat("expert placement covers ", owned.size(),
                                                   " experts, model has ", c.num_experts));
  }
  std::unique_ptr<ExpertStore> s(new ExpertStore());
  s->num_experts_ = c.num_experts;
  s->owned_ = owned;
  for (bool o : owned) s->num_owned_ += o ? 1 : 0;
  s->layers_.resize(c.num_hidden_layers);
  const int64_t h = c.hidden_size, inter = c.moe_intermediate_size;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (!c.IsMoeLayer(l)) continue;
    s->layers_[l].resize(c.num_experts);
    for (int64_t e = 0; e < c.num_experts; ++e) {
      if (!owned[e]) continue;
      const std::string p = absl::StrCat("model.layers.", l, ".mlp.experts.", e, ".");
      ExpertWeights& w = s->layers_[l][e];
      ASSIGN_OR_RETURN(w.gate, GetWeight(store, p + "gate_proj.weight", {inter, h}));
      ASSIGN_OR_RETURN(w.up, GetWeight(store, p + "up_proj.weight", {inter, h}));
      ASSIGN_OR_RETURN(w.down, GetWeight(store, p + "down_proj.weight", {h, inter}));
      s->bytes_ += inter * h * (ElementBytes(w.gate.type) + ElementBytes(w.up.type) +
                                ElementBytes(w.down.type));
    }
  }
  return s;
}

const ExpertWeights* ExpertStore::Get(int64_t layer, int64_t expert) const {
  if (layer < 0 || layer >= static_cast<int64_t>(layers_.size()) || expert < 0 ||
      expert >= num_experts_ || !owned_[expert] || layers_[layer].empty()) {
    return nullptr;
  }
  return &layers_[layer][expert];
}

}  // namespace moeserve
