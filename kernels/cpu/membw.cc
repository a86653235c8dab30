#include "kernels/cpu/membw.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/thread_pool.h"
#include "kernels/cpu/cpu_backend.h"

namespace moeserve::kernels {
namespace cpu {
#if defined(__x86_64__)
uint64_t ReadLinesAvx512(const void* p, size_t lines);
#endif
}  // namespace cpu

namespace {

uint64_t ReadLinesPortable(const void* p, size_t lines) {
  const uint64_t* v = static_cast<const uint64_t*>(p);
  uint64_t acc[8] = {};
  for (size_t i = 0; i < lines; ++i)
    for (int a = 0; a < 8; ++a) acc[a] += v[i * 8 + a];
  uint64_t s = 0;
  for (int a = 0; a < 8; ++a) s += acc[a];
  return s;
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

double MeasureReadBandwidth(ThreadPool* pool, size_t bytes, int repeats) {
  constexpr size_t kLine = 64;
  const size_t lines = std::max<size_t>(bytes / kLine, 1);
  std::unique_ptr<void, FreeDeleter> buf(std::aligned_alloc(kLine, lines * kLine));
  if (!buf) return 0.0;
  char* base = static_cast<char*>(buf.get());
  auto run = [&](const std::function<void(int64_t, int64_t)>& fn) {
    if (pool == nullptr) {
      fn(0, static_cast<int64_t>(lines));
    } else {
      pool->ParallelFor(static_cast<int64_t>(lines), 1024, fn);
    }
  };
  // First touch from the threads that will read, so pages spread like the weights would.
  run([&](int64_t b, int64_t e) { std::memset(base + b * kLine, 1, (e - b) * kLine); });
  uint64_t (*read)(const void*, size_t) = ReadLinesPortable;
#if defined(__x86_64__)
  if (DetectCpuIsa() != CpuIsa::kPortable) read = cpu::ReadLinesAvx512;
#endif
  std::atomic<uint64_t> sink{0};
  double best = 0.0;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run([&](int64_t b, int64_t e) {
      sink.fetch_add(read(base + b * kLine, static_cast<size_t>(e - b)), std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) best = std::max(best, static_cast<double>(lines * kLine) / s);
  }
  // The sum must be observable or the reads could be removed.
  if (sink.load() == 42) best += 0.0 * static_cast<double>(sink.load());
  return best;
}

}  // namespace moeserve::kernels
