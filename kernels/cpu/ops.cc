#include "kernels/cpu/ops.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "common/bf16.h"

namespace moeserve::kernels::cpu {
namespace {

constexpr int kLanes = 16;

inline float ReduceLanes(const float* a) {
  float s8[8], s4[4];
  for (int l = 0; l < 8; ++l) s8[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) s4[l] = s8[l] + s8[l + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

// Sum over i < n of a[i] * b[i], 16 lanes then the fixed tree.
inline float Dot(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  for (int l = 0; i + l < n; ++l) acc[l] += a[i + l] * b[i + l];
  return ReduceLanes(acc);
}

inline float WeightAt(const void* w, WeightType type, int64_t i) {
  switch (type) {
    case WeightType::kBF16:
      return Bf16ToFloat(static_cast<const uint16_t*>(w)[i]);
    case WeightType::kF16:
      return F16ToFloat(static_cast<const uint16_t*>(w)[i]);
    case WeightType::kF32:
      return static_cast<const float*>(w)[i];
  }
  return 0.0f;
}

}  // namespace

void RmsNormRows(const RmsNormParams& p, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* x = p.x + r * p.ldx;
    float* out = p.out + r * p.ldout;
    const float mean = Dot(x, x, p.dim) / static_cast<float>(p.dim);
    const float inv = 1.0f / std::sqrt(mean + p.eps);
    for (int64_t d = 0; d < p.dim; ++d)
      out[d] = (x[d] * inv) * WeightAt(p.weight, p.weight_type, d);
  }
}

void RopeTokens(const RopeParams& p, int64_t begin, int64_t end) {
  const int64_t half = p.head_dim / 2;
  for (int64_t t = begin; t < end; ++t) {
    const float* cos = p.cos + t * half;
    const float* sin = p.sin + t * half;
    for (int64_t h = 0; h < p.heads; ++h) {
      float* x = p.x + t * p.ldx + h * p.head_dim;
      for (int64_t d = 0; d < half; ++d) {
        const float a = x[d], b = x[d + half];
        x[d] = a * cos[d] - b * sin[d];
        x[d + half] = b * cos[d] + a * sin[d];
      }
    }
  }
}

void KvWriteTokens(const KvWriteParams& p, int64_t begin, int64_t end) {
  const int64_t row = p.num_kv_heads * p.head_dim;
  for (int64_t t = begin; t < end; ++t) {
    std::memcpy(p.k_cache + p.slots[t] * row, p.k + t * p.ldk, sizeof(float) * row);
    std::memcpy(p.v_cache + p.slots[t] * row, p.v + t * p.ldv, sizeof(float) * row);
  }
}

void SiluMulRows(const SiluMulParams& p, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* g = p.gate_up + r * p.ld_gate_up;
    const float* u = g + p.inter;
    float* out = p.out + r * p.ldout;
    for (int64_t j = 0; j < p.inter; ++j) out[j] = (g[j] / (1.0f + std::exp(-g[j]))) * u[j];
  }
}

void TopKGateTokens(const TopKGateParams& p, int64_t begin, int64_t end) {
  const int64_t e = p.num_experts;
  for (int64_t t = begin; t < end; ++t) {
    const float* logits = p.logits + t * p.ldlogits;
    int32_t* ids = p.topk_ids + t * p.top_k;
    float* weights = p.topk_weights + t * p.top_k;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < e; ++i) max = logits[i] > max ? logits[i] : max;
    float sum = 0.0f;
    for (int64_t i = 0; i < e; ++i) sum += std::exp(logits[i] - max);
    auto prob = [&](int64_t i) { return std::exp(logits[i] - max) / sum; };
    // Top-k over the fp32 probabilities (recomputed, not stored: no scratch), by repeated
    // strict-greater scans, so ties go to the lower expert id. O(top_k * experts).
    for (int64_t s = 0; s < p.top_k; ++s) {
      int64_t best = -1;
      float best_prob = 0.0f;
      for (int64_t i = 0; i < e; ++i) {
        bool taken = false;
        for (int64_t q = 0; q < s; ++q) taken |= ids[q] == i;
        if (taken) continue;
        const float pi = prob(i);
        if (best < 0 || pi > best_prob) {
          best = i;
          best_prob = pi;
        }
      }
      ids[s] = static_cast<int32_t>(best);
      weights[s] = best_prob;
    }
    if (p.renormalize) {
      float total = 0.0f;
      for (int64_t s = 0; s < p.top_k; ++s) total += weights[s];
      for (int64_t s = 0; s < p.top_k; ++s) weights[s] /= total;
    }
  }
}

void EmbeddingTokens(const EmbeddingParams& p, int64_t begin, int64_t end) {
  for (int64_t t = begin; t < end; ++t) {
    const int64_t id = p.ids[t];
    float* out = p.out + t * p.ldout;
    const int64_t off = id * p.dim;
    for (int64_t d = 0; d < p.dim; ++d) out[d] = WeightAt(p.table, p.table_type, off + d);
  }
}

int64_t AttentionScoresFloats(int64_t max_context) { return (max_context + 15) / 16 * 16; }

void AttentionItems(const AttentionParams& p, int64_t begin, int64_t end, float* scores) {
  const int64_t group = p.num_q_heads / p.num_kv_heads;
  const int64_t hd = p.head_dim;
  const int64_t kv_row = p.num_kv_heads * hd;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t t = item / p.num_q_heads, h = item % p.num_q_heads;
    const int64_t kvh = h / group;
    const int64_t pos = p.token_pos[t];
    const int32_t* table = p.block_tables + int64_t{p.token_seq[t]} * p.max_blocks_per_seq;
    const float* q = p.q + t * p.ldq + h * hd;
    float* out = p.out + t * p.ldout + h * hd;
    auto slot_of = [&](int64_t j) {
      return int64_t{table[j / p.block_size]} * p.block_size + j % p.block_size;
    };
    // Pass 1: scores and their maximum, positions ascending.
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j <= pos; ++j) {
      const float s = Dot(q, p.k_cache + slot_of(j) * kv_row + kvh * hd, hd) * p.scale;
      scores[j] = s;
      max = s > max ? s : max;
    }
    // Pass 2: unnormalised probabilities and the weighted sum of values, positions ascending.
    float sum = 0.0f;
    for (int64_t d = 0; d < hd; ++d) out[d] = 0.0f;
    for (int64_t j = 0; j <= pos; ++j) {
      const float e = std::exp(scores[j] - max);
      sum += e;
      const float* v = p.v_cache + slot_of(j) * kv_row + kvh * hd;
      for (int64_t d = 0; d < hd; ++d) out[d] += e * v[d];
    }
    const float inv = 1.0f / sum;
    for (int64_t d = 0; d < hd; ++d) out[d] *= inv;
  }
}

}  // namespace moeserve::kernels::cpu
