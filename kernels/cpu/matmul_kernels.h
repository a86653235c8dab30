// Per-ISA matmul micro-kernels behind CpuBackend::Matmul (internal to kernels/cpu).
//
// Each function computes y[i, j] for rows i < m and columns j in [n_begin, n_end) of one row
// block. The op sequence that produces y[i, j] depends only on k: the k loop runs in fixed
// chunks (16 floats, or 32 bf16 pairs), lane l of one accumulator always takes the same k
// offsets, the k tail is a masked chunk of the same shape, and the final horizontal sum is one
// fixed tree (lanes l + l+8, then +4, +2, +1). Register blocking over rows and columns only
// changes which accumulators share a loaded vector, so every output is bit-identical whatever
// m, the column range, or the blocking. The AVX-512 entry points must only be called on CPUs
// that support them (see cpu_backend.h). Stateless and thread-safe.
#ifndef MOESERVE_KERNELS_CPU_MATMUL_KERNELS_H_
#define MOESERVE_KERNELS_CPU_MATMUL_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace moeserve::kernels::cpu {

struct MatmulBlock {
  const float* x;  // [m, k], row stride ldx (unused by the packed BF16 kernel)
  int64_t ldx;
  const uint16_t* xpacked;  // [m, PackedXStride(k)] for MatmulAvx512Bf16
  const void* w;            // [n, k] of w_type, row stride ldw
  int64_t ldw;
  WeightType w_type;
  float* y;  // [m, n], row stride ldy
  int64_t ldy;
  int64_t m, k;
  bool accumulate;
};

// Plain C++; any weight type.
void MatmulPortable(const MatmulBlock& b, int64_t n_begin, int64_t n_end);

#if defined(__x86_64__)
// AVX-512F + FMA on fp32 activations; any weight type (bf16 by shift, f16 by vcvtph2ps).
void MatmulAvx512(const MatmulBlock& b, int64_t n_begin, int64_t n_end);

// uint16 elements per packed activation row: per 32-wide k chunk, 32 bf16 hi then 32 bf16 lo.
// static: internal linkage, so no copy compiled with AVX-512 flags can be shared with generic code.
static inline int64_t PackedXStride(int64_t k) { return ((k + 31) / 32) * 64; }

// Splits rows of x into bf16 hi/lo pairs for MatmulAvx512Bf16, zero-padding k to 32.
void PackXAvx512Bf16(const float* x, int64_t ldx, int64_t rows, int64_t k, uint16_t* out);

// vdpbf16ps on BF16 weights with activations packed by PackXAvx512Bf16.
void MatmulAvx512Bf16(const MatmulBlock& b, int64_t n_begin, int64_t n_end);
#endif

}  // namespace moeserve::kernels::cpu

#endif  // MOESERVE_KERNELS_CPU_MATMUL_KERNELS_H_
