// Rotary position embedding tables for Qwen3: default RoPE and YaRN, computed the way Hugging
// Face's modeling_rope_utils does (float32 inverse frequencies, cos/sin scaled by the YaRN
// attention factor).
//
// RopeTable is immutable after construction and safe to share between threads.
#ifndef MOESERVE_WORKER_ROPE_H_
#define MOESERVE_WORKER_ROPE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"

namespace moeserve {

class RopeTable {
 public:
  static absl::StatusOr<RopeTable> Create(const ModelConfig& config);

  int64_t half_dim() const { return static_cast<int64_t>(inv_freq_.size()); }
  float attention_scaling() const { return attention_scaling_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

  // Fills cos/sin rows [n, half_dim] for the given absolute positions.
  void Fill(const int32_t* positions, int64_t n, float* cos, float* sin) const;

 private:
  RopeTable(std::vector<float> inv_freq, float attention_scaling)
      : inv_freq_(std::move(inv_freq)), attention_scaling_(attention_scaling) {}

  std::vector<float> inv_freq_;  // [head_dim / 2]
  float attention_scaling_ = 1.0f;
};

}  // namespace moeserve

#endif  // MOESERVE_WORKER_ROPE_H_
