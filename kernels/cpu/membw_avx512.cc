// AVX-512 read loop for MeasureReadBandwidth (built with AVX-512 flags; see membw.cc).
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm*_undefined_* helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

namespace moeserve::kernels::cpu {

// Sums `lines` 64-byte lines starting at the 64-byte aligned `p`; 8 independent accumulators.
uint64_t ReadLinesAvx512(const void* p, size_t lines) {
  const __m512i* v = static_cast<const __m512i*>(p);
  __m512i acc[8];
  for (int a = 0; a < 8; ++a) acc[a] = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 8 <= lines; i += 8)
    for (int a = 0; a < 8; ++a) acc[a] = _mm512_add_epi64(acc[a], _mm512_load_si512(v + i + a));
  for (; i < lines; ++i) acc[0] = _mm512_add_epi64(acc[0], _mm512_load_si512(v + i));
  for (int a = 1; a < 8; ++a) acc[0] = _mm512_add_epi64(acc[0], acc[a]);
  // Unsigned lane sum: _mm512_reduce_add_epi64 adds as signed (overflow is UB under UBSan).
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, acc[0]);
  uint64_t s = 0;
  for (int a = 0; a < 8; ++a) s += lanes[a];
  return s;
}

}  // namespace moeserve::kernels::cpu
