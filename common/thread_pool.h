// A fixed-size pool for data-parallel loops inside kernels.
//
// ParallelFor splits [0, n) into contiguous ranges, runs them on the pool's threads and on the
// calling thread, and returns when all are done. Which thread runs which range never changes a
// result: callers give each range disjoint outputs and keep every reduction inside one range.
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

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_ when written; workers spin on generation_ before sleeping.
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  std::atomic<int> pending_{0};
};

}  // namespace moeserve

#endif  // MOESERVE_COMMON_THREAD_POOL_H_
