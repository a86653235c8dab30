// MeasureReadBandwidth returns a plausible positive figure.
#include "kernels/cpu/membw.h"

#include "common/thread_pool.h"
#include "gtest/gtest.h"

namespace moeserve::kernels {
namespace {

TEST(Membw, ReturnsPositiveBandwidth) {
  ThreadPool pool(2);
  const double bw = MeasureReadBandwidth(&pool, size_t{64} << 20, 2);
  EXPECT_GT(bw, 1e8);   // > 100 MB/s
  EXPECT_LT(bw, 1e13);  // < 10 TB/s
}

TEST(Membw, WorksWithoutPoolAndTinyBuffers) {
  EXPECT_GT(MeasureReadBandwidth(nullptr, 100, 1), 0.0);
  EXPECT_GT(MeasureReadBandwidth(nullptr, 1 << 20, 0), 0.0);
}

}  // namespace
}  // namespace moeserve::kernels
