#include "kernels/cpu/cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/ops.h"
#include "kernels/validate.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace moeserve::kernels {
namespace {

struct CpuFeatures {
  bool avx512 = false;       // F, BW, VL, DQ, FMA, F16C, with OS-enabled ZMM state
  bool avx512_bf16 = false;  // plus AVX512_BF16
};

CpuFeatures QueryFeatures() {
  CpuFeatures f;
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave || !fma || !f16c) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  // SSE, AVX, opmask, ZMM_Hi256 and Hi16_ZMM state must all be enabled by the OS.
  if ((xcr0_lo & 0xE6u) != 0xE6u) return f;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx512f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30),
             vl = b & (1u << 31);
  f.avx512 = avx512f && dq && bw && vl;
  if (f.avx512) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = a & (1u << 5);
  }
#endif
  return f;
}

const CpuFeatures& Features() {
  static const CpuFeatures features = QueryFeatures();
  return features;
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(ThreadPool* pool, CpuIsa isa)
      : pool_(pool), isa_(isa), num_threads_(pool ? pool->num_threads() : 1) {
    if (isa_ == CpuIsa::kAvx512Bf16) xpack_.resize(kMatmulScratchBytes / sizeof(uint16_t));
  }

  std::string name() const override { return absl::StrCat("cpu-", CpuIsaName(isa_)); }

  absl::Status Matmul(const MatmulParams& p) override;

  absl::Status RmsNorm(const RmsNormParams& p) override {
    RETURN_IF_ERROR(ValidateRmsNorm(p));
    For(p.rows, GrainFor(p.dim), [&](int64_t b, int64_t e) { cpu::RmsNormRows(p, b, e); });
    return absl::OkStatus();
  }

  absl::Status Rope(const RopeParams& p) override {
    RETURN_IF_ERROR(ValidateRope(p));
    For(p.tokens, GrainFor(p.heads * p.head_dim),
        [&](int64_t b, int64_t e) { cpu::RopeTokens(p, b, e); });
    return absl::OkStatus();
  }

  absl::Status KvWrite(const KvWriteParams& p) override {
    RETURN_IF_ERROR(ValidateKvWrite(p));
    cpu::KvWriteTokens(p, 0, p.tokens);  // memory-bound copies
    return absl::OkStatus();
  }

  absl::Status Attention(const AttentionParams& p) override {
    RETURN_IF_ERROR(ValidateAttention(p));
    int64_t max_pos = 0;
    for (int64_t t = 0; t < p.tokens; ++t) max_pos = std::max<int64_t>(max_pos, p.token_pos[t]);
    const int64_t stride = cpu::AttentionScoresFloats(max_pos + 1);
    // Each range takes its own slice of the workspace; ParallelFor runs at most num_threads_
    // ranges per call, which is what AttentionWorkspaceFloats was sized for.
    std::atomic<int> next_slot{0};
    const int64_t items = p.tokens * p.num_q_heads;
    For(items, std::max<int64_t>(1, 4096 / ((max_pos + 1) * p.head_dim)),
        [&](int64_t b, int64_t e) {
          const int slot = next_slot.fetch_add(1, std::memory_order_relaxed);
          cpu::AttentionItems(p, b, e, p.workspace + slot * stride);
        });
    return absl::OkStatus();
  }

  absl::Status SiluMul(const SiluMulParams& p) override {
    RETURN_IF_ERROR(ValidateSiluMul(p));
    For(p.rows, GrainFor(p.inter), [&](int64_t b, int64_t e) { cpu::SiluMulRows(p, b, e); });
    return absl::OkStatus();
  }

  absl::Status TopKGate(const TopKGateParams& p) override {
    RETURN_IF_ERROR(ValidateTopKGate(p));
    For(p.tokens, GrainFor(p.num_experts * p.top_k),
        [&](int64_t b, int64_t e) { cpu::TopKGateTokens(p, b, e); });
    return absl::OkStatus();
  }

  absl::Status Embedding(const EmbeddingParams& p) override {
    RETURN_IF_ERROR(ValidateEmbedding(p));
    cpu::EmbeddingTokens(p, 0, p.tokens);
    return absl::OkStatus();
  }

 private:
  // Rows per range so that each range has at least ~16K elements of work.
  static int64_t GrainFor(int64_t per_item) {
    return std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(per_item, 1));
  }

  void For(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (pool_ == nullptr || num_threads_ == 1 || n <= grain) {
      fn(0, n);
    } else {
      pool_->ParallelFor(n, grain, fn);
    }
  }

  ThreadPool* const pool_;
  const CpuIsa isa_;
  const int num_threads_;
  // kAvx512Bf16 only: activations of one row block split into bf16 hi/lo pairs.
  std::vector<uint16_t> xpack_;
};

absl::Status CpuBackend::Matmul(const MatmulParams& p) {
  RETURN_IF_ERROR(ValidateMatmul(p));
  cpu::MatmulBlock blk{p.x, p.ldx, nullptr, p.w, p.ldw,       p.w_type,
                       p.y, p.ldy, p.m,     p.k, p.accumulate};
  void (*kernel)(const cpu::MatmulBlock&, int64_t, int64_t) = cpu::MatmulPortable;
  int64_t row_block = 64;
#if defined(__x86_64__)
  const bool packed = isa_ == CpuIsa::kAvx512Bf16 && p.w_type == WeightType::kBF16;
  int64_t xstride = 0;
  if (packed) {
    xstride = cpu::PackedXStride(p.k);
    const int64_t capacity = static_cast<int64_t>(xpack_.size()) / xstride;
    if (capacity < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Matmul: k=", p.k, " exceeds the activation scratch of the avx512bf16 backend (max k ",
          xpack_.size() / 2, ")"));
    }
    row_block = std::min<int64_t>(row_block, capacity);
    kernel = cpu::MatmulAvx512Bf16;
  } else if (isa_ == CpuIsa::kAvx512 || isa_ == CpuIsa::kAvx512Bf16) {
    kernel = cpu::MatmulAvx512;
  }
#endif
  // Columns per range: multiples of 16 (all kernels' column blocking), and enough work per
  // range to pay for waking a thread.
  const int64_t work_per_col = p.k * std::min<int64_t>(p.m, row_block);
  const int64_t grain = std::max<int64_t>(16, ((int64_t{1} << 16) / work_per_col + 15) / 16 * 16);
  for (int64_t i0 = 0; i0 < p.m; i0 += row_block) {
    cpu::MatmulBlock b = blk;
    b.m = std::min(row_block, p.m - i0);
    b.x = p.x + i0 * p.ldx;
    b.y = p.y + i0 * p.ldy;
#if defined(__x86_64__)
    if (packed) {
      uint16_t* xp = xpack_.data();
      const float* x = b.x;
      const int64_t ldx = p.ldx, k = p.k;
      if (b.m * k < (int64_t{1} << 15)) {
        cpu::PackXAvx512Bf16(x, ldx, b.m, k, xp);
      } else {
        For(b.m, 1, [&](int64_t r0, int64_t r1) {
          cpu::PackXAvx512Bf16(x + r0 * ldx, ldx, r1 - r0, k, xp + r0 * xstride);
        });
      }
      b.xpacked = xp;
    }
#endif
    For(p.n, grain, [&](int64_t j0, int64_t j1) { kernel(b, j0, j1); });
  }
  return absl::OkStatus();
}

}  // namespace

CpuIsa DetectCpuIsa() {
  if (Features().avx512_bf16) return CpuIsa::kAvx512Bf16;
  if (Features().avx512) return CpuIsa::kAvx512;
  return CpuIsa::kPortable;
}

bool CpuIsaSupported(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAuto:
    case CpuIsa::kPortable:
      return true;
    case CpuIsa::kAvx512:
      return Features().avx512;
    case CpuIsa::kAvx512Bf16:
      return Features().avx512_bf16;
  }
  return false;
}

std::vector<CpuIsa> SupportedCpuIsas() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::kPortable, CpuIsa::kAvx512, CpuIsa::kAvx512Bf16}) {
    if (CpuIsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAuto:
      return "auto";
    case CpuIsa::kPortable:
      return "portable";
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx512Bf16:
      return "avx512bf16";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Backend>> MakeCpuBackend(ThreadPool* pool, CpuIsa isa) {
  if (isa == CpuIsa::kAuto) isa = DetectCpuIsa();
  if (!CpuIsaSupported(isa)) {
    return absl::FailedPreconditionError(
        absl::StrCat("CPU backend: this CPU or OS does not support ISA '", CpuIsaName(isa),
                     "' (best available: '", CpuIsaName(DetectCpuIsa()), "')"));
  }
  return std::unique_ptr<Backend>(new CpuBackend(pool, isa));
}

int64_t AttentionWorkspaceFloats(int64_t max_context, int num_threads) {
  return std::max(num_threads, 1) * cpu::AttentionScoresFloats(std::max<int64_t>(max_context, 1));
}

}  // namespace moeserve::kernels
