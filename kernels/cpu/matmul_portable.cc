// Portable matmul: 16 independent fp32 lanes per output, the same lane/chunk layout as the
// AVX-512 kernels, so the compiler may vectorise the lane loops without changing any result.
#include <cstring>

#include "common/bf16.h"
#include "kernels/cpu/matmul_kernels.h"

namespace moeserve::kernels::cpu {
namespace {

constexpr int kLanes = 16;

template <WeightType kType>
inline void LoadW(const void* w, int64_t idx, int count, float* out) {
  if constexpr (kType == WeightType::kF32) {
    std::memcpy(out, static_cast<const float*>(w) + idx, sizeof(float) * count);
  } else if constexpr (kType == WeightType::kBF16) {
    const uint16_t* p = static_cast<const uint16_t*>(w) + idx;
    for (int l = 0; l < count; ++l) {
      const uint32_t bits = static_cast<uint32_t>(p[l]) << 16;
      std::memcpy(&out[l], &bits, sizeof(float));
    }
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(w) + idx;
    for (int l = 0; l < count; ++l) out[l] = F16ToFloat(p[l]);
  }
}

inline float ReduceLanes(const float* a) {
  float s8[8], s4[4];
  for (int l = 0; l < 8; ++l) s8[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) s4[l] = s8[l] + s8[l + 4];
  const float s2a = s4[0] + s4[2], s2b = s4[1] + s4[3];
  return s2a + s2b;
}

// Four rows of x against one column of w at a time (the weight chunk is converted once).
template <WeightType kType>
void Column(const MatmulBlock& b, int64_t j) {
  const int64_t k = b.k;
  const char* wrow = static_cast<const char*>(b.w);
  const size_t esize = kType == WeightType::kF32 ? 4 : 2;
  const void* w = wrow + static_cast<size_t>(j) * b.ldw * esize;
  constexpr int kRows = 4;
  for (int64_t i0 = 0; i0 < b.m; i0 += kRows) {
    const int rows = static_cast<int>(b.m - i0 < kRows ? b.m - i0 : kRows);
    float acc[kRows][kLanes] = {};
    float wv[kLanes];
    int64_t kk = 0;
    for (; kk + kLanes <= k; kk += kLanes) {
      LoadW<kType>(w, kk, kLanes, wv);
      for (int r = 0; r < rows; ++r) {
        const float* x = b.x + (i0 + r) * b.ldx + kk;
        for (int l = 0; l < kLanes; ++l) acc[r][l] += wv[l] * x[l];
      }
    }
    if (kk < k) {
      const int rem = static_cast<int>(k - kk);
      LoadW<kType>(w, kk, rem, wv);
      for (int r = 0; r < rows; ++r) {
        const float* x = b.x + (i0 + r) * b.ldx + kk;
        for (int l = 0; l < rem; ++l) acc[r][l] += wv[l] * x[l];
      }
    }
    for (int r = 0; r < rows; ++r) {
      const float s = ReduceLanes(acc[r]);
      float* y = b.y + (i0 + r) * b.ldy + j;
      *y = b.accumulate ? *y + s : s;
    }
  }
}

template <WeightType kType>
void Run(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
  for (int64_t j = n_begin; j < n_end; ++j) Column<kType>(b, j);
}

}  // namespace

void MatmulPortable(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
  switch (b.w_type) {
    case WeightType::kBF16:
      return Run<WeightType::kBF16>(b, n_begin, n_end);
    case WeightType::kF16:
      return Run<WeightType::kF16>(b, n_begin, n_end);
    case WeightType::kF32:
      return Run<WeightType::kF32>(b, n_begin, n_end);
  }
}

}  // namespace moeserve::kernels::cpu
