#include "common/thread_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace moeserve {
namespace {

TEST(ThreadPool, CoversEveryItemExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 100, 1001}) {
      for (int64_t grain : {1, 4, 64}) {
        std::vector<std::atomic<int>> hits(n);
        pool.ParallelFor(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << n;
      }
    }
  }
}

TEST(ThreadPool, AtMostNumThreadsRangesWithGrainAlignedStarts) {
  ThreadPool pool(4);
  std::atomic<int> ranges{0};
  std::atomic<bool> aligned{true};
  pool.ParallelFor(1000, 16, [&](int64_t b, int64_t) {
    ranges.fetch_add(1);
    if (b % 16 != 0) aligned = false;
  });
  EXPECT_LE(ranges.load(), 4);
  EXPECT_TRUE(aligned.load());
}

TEST(ThreadPool, ManyBackToBackCallsWithSlowRanges) {
  ThreadPool pool(2);
  int64_t total = 0;
  std::vector<int64_t> sums(2);
  for (int call = 0; call < 2000; ++call) {
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(64, 1, [&](int64_t b, int64_t e) {
      if (call % 100 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
    });
    total += sum.load();
  }
  EXPECT_EQ(total, 2000 * (63 * 64 / 2));
}

}  // namespace
}  // namespace moeserve
