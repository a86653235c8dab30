#include "expert_shard/expert_compute.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace moeserve {

ExpertCompute::ExpertCompute(const ModelConfig& config, const ExpertStore* store,
                             kernels::Backend* backend)
    : config_(config), store_(store), backend_(backend) {}

absl::Status ExpertCompute::Run(const MoeLayerBatch& b) {
  const int64_t e_count = config_.num_experts, h = config_.hidden_size;
  const int64_t inter = config_.moe_intermediate_size;
  if (b.hidden != h) {
    return absl::InvalidArgumentError(
        absl::StrCat("MoE batch rows have width ", b.hidden, ", model hidden is ", h));
  }
  if (b.tokens < 0 || b.top_k <= 0 || (b.tokens > 0 && (!b.x || !b.topk_ids || !b.topk_weights ||
                                                        !b.out))) {
    return absl::InvalidArgumentError("MoE batch is malformed");
  }
  std::memset(b.out, 0, sizeof(double) * b.tokens * h);
  if (b.tokens == 0) return absl::OkStatus();

  // Counting sort of (token, slot) pairs by expert; rows of one expert stay in token order.
  counts_.assign(e_count + 1, 0);
  for (int64_t i = 0; i < b.tokens * b.top_k; ++i) {
    const int32_t e = b.topk_ids[i];
    if (e < 0 || e >= e_count) {
      return absl::InvalidArgumentError(absl::StrCat("routed expert id ", e, " is outside [0, ",
                                                     e_count, ")"));
    }
    if (store_->owns(e)) ++counts_[e + 1];
  }
  offsets_.assign(e_count + 1, 0);
  for (int64_t e = 0; e < e_count; ++e) offsets_[e + 1] = offsets_[e] + counts_[e + 1];
  const int64_t rows = offsets_[e_count];
  if (rows == 0) return absl::OkStatus();
  if (static_cast<int64_t>(row_token_.size()) < rows) {
    row_token_.resize(rows);
    row_weight_.resize(rows);
    x_rows_.resize(rows * h);
    gate_up_.resize(rows * 2 * inter);
    act_.resize(rows * inter);
    y_.resize(rows * h);
  }
  std::vector<int32_t>& fill = counts_;  // reuse as per-expert fill cursor
  std::fill(fill.begin(), fill.end(), 0);
  for (int64_t t = 0; t < b.tokens; ++t) {
    for (int64_t s = 0; s < b.top_k; ++s) {
      const int32_t e = b.topk_ids[t * b.top_k + s];
      if (!store_->owns(e)) continue;
      const int64_t r = offsets_[e] + fill[e]++;
      row_token_[r] = static_cast<int32_t>(t);
      row_weight_[r] = b.topk_weights[t * b.top_k + s];
      std::memcpy(&x_rows_[r * h], b.x + t * h, sizeof(float) * h);
    }
  }

  kernels::MatmulParams mp;
  kernels::SiluMulParams sp;
  for (int64_t e = 0; e < e_count; ++e) {
    const int64_t n = offsets_[e + 1] - offsets_[e];
    if (n == 0) continue;
    const ExpertWeights* w = store_->Get(b.layer, e);
    if (w == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", b.layer, " has no experts hosted here (not a MoE layer?)"));
    }
    const int64_t r0 = offsets_[e];
    // gate_up[:, 0:inter] = x·gateᵀ, gate_up[:, inter:2·inter] = x·upᵀ
    mp = {};
    mp.x = &x_rows_[r0 * h];
    mp.ldx = h;
    mp.ldw = h;
    mp.m = n;
    mp.n = inter;
    mp.k = h;
    mp.ldy = 2 * inter;
    mp.w = w->gate.data;
    mp.w_type = w->gate.type;
    mp.y = &gate_up_[r0 * 2 * inter];
    RETURN_IF_ERROR(backend_->Matmul(mp));
    mp.w = w->up.data;
    mp.w_type = w->up.type;
    mp.y = &gate_up_[r0 * 2 * inter + inter];
    RETURN_IF_ERROR(backend_->Matmul(mp));
    sp.gate_up = &gate_up_[r0 * 2 * inter];
    sp.ld_gate_up = 2 * inter;
    sp.out = &act_[r0 * inter];
    sp.ldout = inter;
    sp.rows = n;
    sp.inter = inter;
    RETURN_IF_ERROR(backend_->SiluMul(sp));
    mp = {};
    mp.x = &act_[r0 * inter];
    mp.ldx = inter;
    mp.w = w->down.data;
    mp.w_type = w->down.type;
    mp.ldw = inter;
    mp.y = &y_[r0 * h];
    mp.ldy = h;
    mp.m = n;
    mp.n = h;
    mp.k = inter;
    RETURN_IF_ERROR(backend_->Matmul(mp));
  }
  // Weighted combine: the fp32 product, accumulated in double.
  for (int64_t r = 0; r < rows; ++r) {
    double* out = b.out + static_cast<int64_t>(row_token_[r]) * h;
    const float* y = &y_[r * h];
    const float wgt = row_weight_[r];
    for (int64_t j = 0; j < h; ++j) out[j] += static_cast<double>(wgt * y[j]);
  }
  rows_computed_ += rows;
  return absl::OkStatus();
}

}  // namespace moeserve
