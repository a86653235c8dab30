// AVX-512F matmul on fp32 activations (built with -mavx512f/bw/vl/dq -mfma -mf16c).
//
// Only plain C functions and internal-linkage templates live here: an inline function from a
// shared header instantiated in this file could be picked by the linker for generic callers
// and execute AVX-512 instructions on a CPU without them.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm*_undefined_* helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/cpu/matmul_kernels.h"

namespace moeserve::kernels::cpu {
namespace {

// Fixed tree: lanes l + l+8, then l + l+4, then (0+2, 1+3), then the final pair.
inline float Reduce16(__m512 v) {
  // Whole-register shuffles (no 256/128-bit extracts: GCC 12 warns on their undefined halves).
  const __m512 s8 = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 s4 = _mm512_add_ps(s8, _mm512_shuffle_f32x4(s8, s8, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512 s2 = _mm512_add_ps(s4, _mm512_permute_ps(s4, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 s1 = _mm512_add_ps(s2, _mm512_permute_ps(s2, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(s1);
}

template <WeightType kType>
inline __m512 LoadW(const void* w, int64_t idx, __mmask16 mask) {
  if constexpr (kType == WeightType::kF32) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(w) + idx);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + idx);
    if constexpr (kType == WeightType::kBF16) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else {
      return _mm512_cvtph_ps(h);
    }
  }
}

template <WeightType kType>
inline const void* WRow(const MatmulBlock& b, int64_t j) {
  constexpr size_t kSize = kType == WeightType::kF32 ? 4 : 2;
  return static_cast<const char*>(b.w) + static_cast<size_t>(j) * b.ldw * kSize;
}

// MR rows of x times NR columns of w; one accumulator per output.
template <WeightType kType, int MR, int NR>
inline void Tile(const MatmulBlock& b, int64_t i0, int64_t j0) {
  const int64_t k = b.k;
  const void* w[NR];
  for (int c = 0; c < NR; ++c) w[c] = WRow<kType>(b, j0 + c);
  const float* x[MR];
  for (int r = 0; r < MR; ++r) x[r] = b.x + (i0 + r) * b.ldx;
  __m512 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t kk = 0;
  for (; kk + 16 <= k; kk += 16) {
    __m512 wv[NR];
    for (int c = 0; c < NR; ++c) wv[c] = LoadW<kType>(w[c], kk, 0xFFFF);
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_loadu_ps(x[r] + kk);
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_fmadd_ps(wv[c], xv, acc[r][c]);
    }
  }
  if (kk < k) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (k - kk)) - 1);
    __m512 wv[NR];
    for (int c = 0; c < NR; ++c) wv[c] = LoadW<kType>(w[c], kk, mask);
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x[r] + kk);
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_fmadd_ps(wv[c], xv, acc[r][c]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* y = b.y + (i0 + r) * b.ldy + j0;
    for (int c = 0; c < NR; ++c) {
      const float s = Reduce16(acc[r][c]);
      y[c] = b.accumulate ? y[c] + s : s;
    }
  }
}

// All rows for NR columns starting at j0, MR rows at a time, smaller tiles for the row tail.
template <WeightType kType, int MR, int NR>
inline void Columns(const MatmulBlock& b, int64_t j0) {
  int64_t i = 0;
  for (; i + MR <= b.m; i += MR) Tile<kType, MR, NR>(b, i, j0);
  switch (b.m - i) {
    case 3:
      if constexpr (MR > 3) Tile<kType, 3, NR>(b, i, j0);
      break;
    case 2:
      if constexpr (MR > 2) Tile<kType, 2, NR>(b, i, j0);
      break;
    case 1:
      if constexpr (MR > 1) Tile<kType, 1, NR>(b, i, j0);
      break;
    default:
      break;
  }
}

template <WeightType kType, int MR, int NR>
void RunBlocked(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
  int64_t j = n_begin;
  for (; j + NR <= n_end; j += NR) Columns<kType, MR, NR>(b, j);
  for (; j < n_end; ++j) Columns<kType, MR, 1>(b, j);
}

template <WeightType kType>
void Run(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
  if (b.m == 1) {
    RunBlocked<kType, 1, 8>(b, n_begin, n_end);
  } else if (b.m == 2) {
    RunBlocked<kType, 2, 8>(b, n_begin, n_end);
  } else {
    RunBlocked<kType, 4, 4>(b, n_begin, n_end);
  }
}

}  // namespace

void MatmulAvx512(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
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
