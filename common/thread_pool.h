// A fixed-size pool for data-parallel loops inside kernels.
//
// ParallelFor splits [0, n) into at most num_threads() contiguous ranges and returns when all
// are done. Each range is claimed once, by whichever thread gets to it first: the pool's
// threads, or the caller, which after its own range takes over any range a worker has not
// started (so a descheduled worker never stalls the call). Which thread runs which range never
// changes a result: callers give each range disjoint outputs and keep every reduction inside
// one range.
// Thread-safety: ParallelFor may be called by one thread at a time (the owner of the batch,
// e.g. the worker's step loop); the pool itself owns its threads and joins them on destruction.
#ifndef MOESERVE_COMMON_THREAD_POOL_H_
#define MOESERVE_COMMON_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moeserve {

class ThreadPool {
 public:
  // `num_threads` counts the caller: 1 runs everything inline. 0 means hardware concurrency.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Runs fn(begin, end) over `n` items split into at most num_threads() ranges whose sizes are
  // multiples of `grain` (except the last). Blocks until all ranges finish.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop(int index);

  const int num_threads_;
  std::vector<std::thread> threads_;

  // Runs unclaimed ranges of job `generation` until none is left.
  void RunRanges(uint32_t generation);

  // The current job. Written by the caller before it bumps claim_'s generation; read by a
  // thread only after it claimed a range of that generation, which the caller waits for.
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  std::atomic<int> num_ranges_{0};
  // (generation << 32) | next unclaimed range index.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_{0};  // ranges of the current generation finished
  uint32_t generation_ = 0;   // caller's copy

  std::mutex mu_;  // guards stop_ and the sleep/wake handshake
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace moeserve

#endif  // MOESERVE_COMMON_THREAD_POOL_H_
