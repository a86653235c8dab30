#include "common/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace moeserve {
namespace {
inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}
inline uint32_t GenerationOf(uint64_t claim) { return static_cast<uint32_t>(claim >> 32); }
}  // namespace

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads > 0 ? num_threads
                                   : std::max(1u, std::thread::hardware_concurrency())) {
  ranges_.resize(num_threads_);
  for (int i = 1; i < num_threads_; ++i) threads_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::RunRanges(uint32_t generation) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (GenerationOf(c) != generation) return;
    const uint32_t index = static_cast<uint32_t>(c);
    if (static_cast<int>(index) >= num_ranges_.load(std::memory_order_relaxed)) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    (*job_)(ranges_[index].first, ranges_[index].second);
    done_.fetch_add(1, std::memory_order_acq_rel);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(num_threads_, chunks));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  int64_t begin = 0;
  for (int p = 0; p < parts; ++p) {
    const int64_t my_chunks = chunks / parts + (p < chunks % parts ? 1 : 0);
    const int64_t end = std::min(n, begin + my_chunks * grain);
    ranges_[p] = {begin, end};
    begin = end;
  }
  job_ = &fn;
  num_ranges_.store(parts, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = ++generation_;
  claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);  // pairs with the workers' sleep check
  }
  cv_.notify_all();
  RunRanges(gen);
  while (done_.load(std::memory_order_acquire) != parts) CpuRelax();
}

void ThreadPool::WorkerLoop(int) {
  uint32_t seen = 0;
  for (;;) {
    // Spin briefly: decode steps issue many short loops back to back.
    uint32_t gen = GenerationOf(claim_.load(std::memory_order_acquire));
    for (int spin = 0; gen == seen && spin < 2000; ++spin) {
      CpuRelax();
      gen = GenerationOf(claim_.load(std::memory_order_acquire));
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || GenerationOf(claim_.load(std::memory_order_acquire)) != seen;
      });
      if (stop_) return;
      gen = GenerationOf(claim_.load(std::memory_order_acquire));
    }
    seen = gen;
    RunRanges(gen);
  }
}

}  // namespace moeserve
