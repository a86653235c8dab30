// Measures the machine's streaming read bandwidth: the ceiling for memory-bound kernels.
//
// MeasureReadBandwidth allocates (and first-touches, in parallel) a buffer of `bytes`, then
// times `repeats` passes in which the pool's threads each sum a contiguous slice with the
// widest loads the CPU supports (AVX-512 when available, else portable 64-bit loads), and
// returns the best pass in bytes per second. Pick `bytes` well above the last-level cache
// (several times it) so the loads come from DRAM. Not for the hot path: it allocates and
// takes roughly repeats * bytes / bandwidth seconds. `pool` may be nullptr (one thread).
#ifndef MOESERVE_KERNELS_CPU_MEMBW_H_
#define MOESERVE_KERNELS_CPU_MEMBW_H_

#include <cstddef>

namespace moeserve {
class ThreadPool;
}

namespace moeserve::kernels {

double MeasureReadBandwidth(ThreadPool* pool, size_t bytes, int repeats);

}  // namespace moeserve::kernels

#endif  // MOESERVE_KERNELS_CPU_MEMBW_H_
