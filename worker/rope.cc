#include "worker/rope.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace moeserve {
namespace {

double GetMscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

// Inverse dimension formula: the dimension whose wavelength makes `num_rotations` turns over
// `max_pos` positions.
double CorrectionDim(double num_rotations, double dim, double base, double max_pos) {
  return (dim * std::log(max_pos / (num_rotations * 2.0 * M_PI))) / (2.0 * std::log(base));
}

}  // namespace

absl::StatusOr<RopeTable> RopeTable::Create(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  if (dim <= 0 || dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("rope: head_dim ", dim, " must be even"));
  }
  const int64_t half = dim / 2;
  const float base = static_cast<float>(config.rope_theta);
  // pos_freqs = base ** (arange(0, dim, 2).float() / dim), in float32 as torch computes it.
  std::vector<float> pos_freqs(half);
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    pos_freqs[i] = std::pow(base, exponent);
  }
  std::vector<float> inv_freq(half);
  const RopeScaling& rs = config.rope_scaling;
  if (rs.rope_type == "default") {
    for (int64_t i = 0; i < half; ++i) inv_freq[i] = 1.0f / pos_freqs[i];
    return RopeTable(std::move(inv_freq), 1.0f);
  }
  if (rs.rope_type != "yarn") {
    return absl::InvalidArgumentError(
        absl::StrCat("rope: unsupported rope_type \"", rs.rope_type, "\""));
  }
  const double factor = rs.factor;
  const double original_max =
      rs.original_max_position_embeddings > 0
          ? static_cast<double>(rs.original_max_position_embeddings)
          : static_cast<double>(config.max_position_embeddings);
  double attention_factor;
  if (rs.attention_factor.has_value()) {
    attention_factor = *rs.attention_factor;
  } else if (rs.mscale.has_value() && rs.mscale_all_dim.has_value() && *rs.mscale != 0 &&
             *rs.mscale_all_dim != 0) {
    attention_factor = GetMscale(factor, *rs.mscale) / GetMscale(factor, *rs.mscale_all_dim);
  } else {
    attention_factor = GetMscale(factor, 1.0);
  }
  double low = CorrectionDim(rs.beta_fast, dim, config.rope_theta, original_max);
  double high = CorrectionDim(rs.beta_slow, dim, config.rope_theta, original_max);
  if (rs.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // prevent a singular ramp
  const float flow = static_cast<float>(low);
  const float frange = static_cast<float>(high - low);
  const float ffactor = static_cast<float>(factor);
  for (int64_t i = 0; i < half; ++i) {
    const float ramp = std::clamp((static_cast<float>(i) - flow) / frange, 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    const float interpolation = 1.0f / (ffactor * pos_freqs[i]);
    const float extrapolation = 1.0f / pos_freqs[i];
    inv_freq[i] = interpolation * (1.0f - extrapolation_factor) +
                  extrapolation * extrapolation_factor;
  }
  return RopeTable(std::move(inv_freq), static_cast<float>(attention_factor));
}

void RopeTable::Fill(const int32_t* positions, int64_t n, float* cos, float* sin) const {
  const int64_t half = half_dim();
  for (int64_t t = 0; t < n; ++t) {
    const float pos = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float freq = inv_freq_[i] * pos;
      cos[t * half + i] = std::cos(freq) * attention_scaling_;
      sin[t * half + i] = std::sin(freq) * attention_scaling_;
    }
  }
}

}  // namespace moeserve
