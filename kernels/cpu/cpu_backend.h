// The CPU implementation of kernels::Backend, with the instruction set chosen at run time.
//
// The library is compiled for generic x86-64; the AVX-512 kernels live in their own translation
// units built with AVX-512 flags and are only called when CPUID and XGETBV report that both the
// CPU and the OS support them. Every ISA computes the same math; results may differ between
// ISAs in the last bits, but within one ISA every op is batch invariant (see backend.h): the
// value of an output row never depends on the rows beside it or on the number of threads.
//
// Matmul with BF16 weights on kAvx512Bf16 uses vdpbf16ps on an exact two-term split of each
// fp32 activation (hi = bf16(x), lo = bf16(x - hi)), so products keep ~16 bits more precision
// than a plain bf16 activation. The split activations go into a scratch buffer the backend
// allocates once at construction (kMatmulScratchBytes); the hot path never allocates.
//
// Attention workspace: pass AttentionWorkspaceFloats(max_context, pool->num_threads()) floats
// (1 thread for a null pool); each thread takes its own slice for the scores of one query.
//
// Ownership and threads: the backend borrows `pool` (which must outlive it; nullptr runs every
// op on the calling thread) and is driven by one thread at a time, as Backend requires.
#ifndef MOESERVE_KERNELS_CPU_CPU_BACKEND_H_
#define MOESERVE_KERNELS_CPU_CPU_BACKEND_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace moeserve::kernels {

enum class CpuIsa {
  kAuto,        // the best one DetectCpuIsa() reports
  kPortable,    // plain C++ loops, any x86-64 (or other) CPU
  kAvx512,      // AVX-512 F/BW/VL/DQ with FMA and F16C
  kAvx512Bf16,  // kAvx512 plus AVX512_BF16 (vdpbf16ps for BF16 weights)
};

// Bytes of activation scratch each CPU backend allocates at construction (for kAvx512Bf16).
// Matmul supports k up to kMatmulScratchBytes / 4 on that ISA.
inline constexpr size_t kMatmulScratchBytes = size_t{4} << 20;

// The best ISA this CPU and OS support (never kAuto).
CpuIsa DetectCpuIsa();

// Whether this CPU and OS can run `isa` (kAuto and kPortable always can).
bool CpuIsaSupported(CpuIsa isa);

// Every concrete ISA this machine supports, kPortable first. Tests iterate over it.
std::vector<CpuIsa> SupportedCpuIsas();

// "auto", "portable", "avx512", "avx512bf16".
const char* CpuIsaName(CpuIsa isa);

// Creates a CPU backend for `isa`. Returns FailedPreconditionError when the CPU or OS lacks the
// requested ISA. `pool` may be nullptr (single-threaded) and must outlive the backend.
absl::StatusOr<std::unique_ptr<Backend>> MakeCpuBackend(ThreadPool* pool,
                                                        CpuIsa isa = CpuIsa::kAuto);

}  // namespace moeserve::kernels

#endif  // MOESERVE_KERNELS_CPU_CPU_BACKEND_H_
