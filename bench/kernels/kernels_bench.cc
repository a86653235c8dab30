// Matmul throughput at the decode and prefill shapes of Qwen3 MoE models.
//
// Decode (m = 1..8) is memory-bound: each iteration uses the next of several weight copies
// whose total is far above the last-level cache, so weights stream from DRAM as in serving.
// Counters: bytes_per_second (weight bytes read), FLOPS, bw_ceiling (MeasureReadBandwidth on
// the same pool, re-measured right after each decode case) and bw_fraction (achieved / ceiling).
// Prefill (m = 128, 512) reuses one copy and is compute-bound; FLOPS is its figure. Flags:
// --threads=N (default 2), --isa=NAME.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/membw.h"

namespace moeserve::kernels {
namespace {

int g_threads = 2;
CpuIsa g_isa = CpuIsa::kAuto;
constexpr size_t kStreamBytes = size_t{1} << 30;  // several times this machine's LLC

ThreadPool* Pool() {
  static ThreadPool* pool = new ThreadPool(g_threads);
  return pool;
}

Backend* GetBackend() {
  static Backend* backend = [] {
    auto b = MakeCpuBackend(Pool(), g_isa);
    if (!b.ok()) {
      std::fprintf(stderr, "%s\n", b.status().ToString().c_str());
      std::exit(1);
    }
    return b->release();
  }();
  return backend;
}

double Ceiling() {
  static const double bw = MeasureReadBandwidth(Pool(), kStreamBytes, 5);
  return bw;
}

// Weight bits in [1, 2) with random sign: no NaN, inf or subnormals.
void FillBf16(uint16_t* w, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    w[i] = static_cast<uint16_t>(0x3F80 | ((s >> 33) & 0x7F) | ((s >> 40) & 0x8000));
  }
}

void RunMatmul(benchmark::State& state, bool stream) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const size_t per_copy = static_cast<size_t>(n) * k;
  const size_t copies =
      stream ? std::max<size_t>(2, (kStreamBytes + per_copy * 2 - 1) / (per_copy * 2)) : 1;
  std::vector<uint16_t> w(per_copy * copies);
  Pool()->ParallelFor(static_cast<int64_t>(copies), 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) FillBf16(w.data() + c * per_copy, per_copy, c);
  });
  std::vector<float> x(m * k), y(m * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 101.0f - 0.5f;
  MatmulParams p{x.data(), k, nullptr, k, WeightType::kBF16, y.data(), n, m, n, k, false};
  Backend* backend = GetBackend();
  size_t c = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    p.w = w.data() + c * per_copy;
    c = (c + 1) % copies;
    if (!backend->Matmul(p).ok()) state.SkipWithError("Matmul failed");
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double bytes = static_cast<double>(per_copy) * 2 * state.iterations();
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsRate);
  state.counters["FLOPS"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations(), benchmark::Counter::kIsRate);
  if (stream) {
    // The machine may be shared: measure the ceiling again right after the timed loop, under
    // the same conditions, and compare against the better of that and the start-up figure.
    const double now = MeasureReadBandwidth(Pool(), kStreamBytes / 2, 3);
    state.counters["bw_ceiling"] = now;
    state.counters["bw_fraction"] = bytes / secs / now;
    state.counters["bw_fraction_best"] = bytes / secs / std::max(now, Ceiling());
  }
  state.SetLabel(backend->name());
}

void BM_MatmulDecode(benchmark::State& state) { RunMatmul(state, /*stream=*/true); }
void BM_MatmulPrefill(benchmark::State& state) { RunMatmul(state, /*stream=*/false); }

void BM_ReadBandwidth(benchmark::State& state) {
  for (auto _ : state) state.counters["bw_ceiling"] = Ceiling();
}

BENCHMARK(BM_ReadBandwidth)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatmulDecode)
    ->ArgNames({"m", "n", "k"})
    ->Args({1, 768, 2048})
    ->Args({1, 2048, 768})
    ->Args({1, 4096, 2048})
    ->Args({1, 151936, 2048})
    ->Args({4, 4096, 2048})
    ->Args({8, 4096, 2048})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_MatmulPrefill)
    ->ArgNames({"m", "n", "k"})
    ->Args({128, 768, 2048})
    ->Args({128, 2048, 768})
    ->Args({128, 4096, 2048})
    ->Args({512, 768, 2048})
    ->Args({512, 2048, 768})
    ->Args({512, 4096, 2048})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace moeserve::kernels

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) {
      moeserve::kernels::g_threads = std::atoi(a.c_str() + 10);
    } else if (a.rfind("--isa=", 0) == 0) {
      const std::string isa = a.substr(6);
      using moeserve::kernels::CpuIsa;
      for (CpuIsa c : {CpuIsa::kAuto, CpuIsa::kPortable, CpuIsa::kAvx512, CpuIsa::kAvx512Bf16}) {
        if (isa == moeserve::kernels::CpuIsaName(c)) moeserve::kernels::g_isa = c;
      }
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
