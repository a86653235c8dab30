// AVX512_BF16 matmul for BF16 weights (built with -mavx512bf16 on top of the AVX-512 flags).
//
// Each fp32 activation x is split into hi = bf16(x) and lo = bf16(x - hi); hi + lo carries
// 16 significant bits, and weights are exactly bf16, so acc += w*hi; acc += w*lo (two
// vdpbf16ps per 32-element chunk) is within ~2^-16 relative of the fp32 product. Lane l of an
// accumulator takes k offsets 2l and 2l+1 of every 32-wide chunk; the k tail is the same chunk
// with masked (zeroed) weights and zero-padded activations.
//
// Only plain C functions and internal-linkage templates live here (see matmul_avx512.cc).
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm*_undefined_* helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/cpu/matmul_kernels.h"

namespace moeserve::kernels::cpu {
namespace {

// Software prefetch distance for the weight streams, in bf16 elements per row.
constexpr int64_t kPrefetchElems = 1024;

inline float Reduce16(__m512 v) {
  // Whole-register shuffles (no 256/128-bit extracts: GCC 12 warns on their undefined halves).
  const __m512 s8 = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 s4 = _mm512_add_ps(s8, _mm512_shuffle_f32x4(s8, s8, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512 s2 = _mm512_add_ps(s4, _mm512_permute_ps(s4, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 s1 = _mm512_add_ps(s2, _mm512_permute_ps(s2, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(s1);
}

inline __m512 Dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

inline __m256i ToBf16(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }

inline __m512 Bf16ToF32(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int MR, int NR, bool kPrefetch>
inline void Tile(const MatmulBlock& b, int64_t i0, int64_t j0) {
  const int64_t k = b.k;
  const int64_t xstride = PackedXStride(k);
  const uint16_t* w[NR];
  for (int c = 0; c < NR; ++c) w[c] = static_cast<const uint16_t*>(b.w) + (j0 + c) * b.ldw;
  const uint16_t* x[MR];
  for (int r = 0; r < MR; ++r) x[r] = b.xpacked + (i0 + r) * xstride;
  __m512 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t kk = 0, xo = 0;
  // Per chunk: the activation pairs of all MR rows stay in registers and each weight vector
  // is loaded once and used by all of them (MR * NR accumulators + 2 * MR + 1 registers).
  for (; kk + 32 <= k; kk += 32, xo += 64) {
    __m512i hi[MR], lo[MR];
    for (int r = 0; r < MR; ++r) {
      hi[r] = _mm512_loadu_si512(x[r] + xo);
      lo[r] = _mm512_loadu_si512(x[r] + xo + 32);
    }
    for (int c = 0; c < NR; ++c) {
      if constexpr (kPrefetch) _mm_prefetch(w[c] + kk + kPrefetchElems, _MM_HINT_T0);
      const __m512i wv = _mm512_loadu_si512(w[c] + kk);
      for (int r = 0; r < MR; ++r) {
        acc[r][c] = Dp(acc[r][c], hi[r], wv);
        acc[r][c] = Dp(acc[r][c], lo[r], wv);
      }
    }
  }
  if (kk < k) {
    const __mmask32 mask = static_cast<__mmask32>((uint64_t{1} << (k - kk)) - 1);
    __m512i hi[MR], lo[MR];
    for (int r = 0; r < MR; ++r) {
      hi[r] = _mm512_loadu_si512(x[r] + xo);
      lo[r] = _mm512_loadu_si512(x[r] + xo + 32);
    }
    for (int c = 0; c < NR; ++c) {
      const __m512i wv = _mm512_maskz_loadu_epi16(mask, w[c] + kk);
      for (int r = 0; r < MR; ++r) {
        acc[r][c] = Dp(acc[r][c], hi[r], wv);
        acc[r][c] = Dp(acc[r][c], lo[r], wv);
      }
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

// Rows m % MR of the tail, with one smaller tile.
template <int R, int NR, bool kPrefetch>
inline void TailRows(const MatmulBlock& b, int64_t i0, int64_t j0, int64_t rows) {
  if constexpr (R > 0) {
    if (rows == R) {
      Tile<R, NR, kPrefetch>(b, i0, j0);
    } else {
      TailRows<R - 1, NR, kPrefetch>(b, i0, j0, rows);
    }
  }
}

// All rows for NR columns starting at j0.
template <int MR, int NR, bool kPrefetch>
inline void Columns(const MatmulBlock& b, int64_t j0) {
  int64_t i = 0;
  for (; i + MR <= b.m; i += MR) Tile<MR, NR, kPrefetch>(b, i, j0);
  TailRows<MR - 1, NR, kPrefetch>(b, i, j0, b.m - i);
}

template <int MR, int NR, bool kPrefetch>
void RunBlocked(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
  int64_t j = n_begin;
  for (; j + NR <= n_end; j += NR) Columns<MR, NR, kPrefetch>(b, j);
  for (; j < n_end; ++j) Columns<MR, 1, kPrefetch>(b, j);
}

}  // namespace

void PackXAvx512Bf16(const float* x, int64_t ldx, int64_t rows, int64_t k, uint16_t* out) {
  const int64_t stride = PackedXStride(k);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    uint16_t* o = out + r * stride;
    for (int64_t kk = 0; kk < k; kk += 32, o += 64) {
      __m256i hi[2], lo[2];
      for (int h = 0; h < 2; ++h) {
        const int64_t base = kk + 16 * h;
        const int64_t left = k - base;
        const __mmask16 mask =
            left >= 16 ? __mmask16{0xFFFF}
                       : (left <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << left) - 1));
        const __m512 v = _mm512_maskz_loadu_ps(mask, xr + (left > 0 ? base : 0));
        hi[h] = ToBf16(v);
        lo[h] = ToBf16(_mm512_sub_ps(v, Bf16ToF32(hi[h])));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), hi[0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16), hi[1]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32), lo[0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 48), lo[1]);
    }
  }
}

void MatmulAvx512Bf16(const MatmulBlock& b, int64_t n_begin, int64_t n_end) {
  // 8 weight rows at a time keep 8 streams in flight for decode; for m >= 2, two rows of
  // activations share each weight vector (2 x 8 tiles measured fastest for prefill here).
  if (b.m == 1) {
    RunBlocked<1, 8, true>(b, n_begin, n_end);
  } else if (b.m <= 8) {  // decode batches: weights still stream from DRAM
    RunBlocked<2, 8, true>(b, n_begin, n_end);
  } else {
    RunBlocked<2, 8, false>(b, n_begin, n_end);
  }
}

}  // namespace moeserve::kernels::cpu
