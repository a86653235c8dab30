// Matmul on every ISA: against a double reference over many shapes and weight types, and
// bitwise batch invariance across m, neighbouring rows, thread counts and accumulate.
#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/cpu/test_util.h"

namespace moeserve::kernels {
namespace {

using testing::BitEqual;
using testing::MakeBackend;
using testing::RandomFloats;
using testing::RandomWeights;
using testing::TypeName;
using testing::Weights;

class MatmulTest : public ::testing::TestWithParam<CpuIsa> {};

struct Shape {
  int64_t m, n, k;
};

void CheckAgainstReference(CpuIsa isa, int threads, WeightType type, Shape s, bool accumulate) {
  SCOPED_TRACE(::testing::Message()
               << CpuIsaName(isa) << " " << TypeName(type) << " m=" << s.m << " n=" << s.n
               << " k=" << s.k << " threads=" << threads << " accumulate=" << accumulate);
  const int64_t ldx = s.k + 3, ldw = s.k + 5, ldy = s.n + 2;
  const auto x = RandomFloats(s.m * ldx, 11 + s.k);
  const Weights w = RandomWeights(type, s.n * ldw, 7 + s.n);
  auto y = RandomFloats(s.m * ldy, 3);
  const auto y0 = y;
  auto b = MakeBackend(isa, threads);
  MatmulParams p;
  p.x = x.data();
  p.ldx = ldx;
  p.w = w.data();
  p.ldw = ldw;
  p.w_type = type;
  p.y = y.data();
  p.ldy = ldy;
  p.m = s.m;
  p.n = s.n;
  p.k = s.k;
  p.accumulate = accumulate;
  ASSERT_TRUE(b->Matmul(p).ok());
  int bad = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double ref = accumulate ? y0[i * ldy + j] : 0.0, mag = std::fabs(ref);
      for (int64_t q = 0; q < s.k; ++q) {
        const double prod = double{x[i * ldx + q]} * w.value[j * ldw + q];
        ref += prod;
        mag += std::fabs(prod);
      }
      const double got = y[i * ldy + j];
      if (std::fabs(got - ref) > 3e-5 * mag + 1e-6 && ++bad < 5) {
        ADD_FAILURE() << "y[" << i << "][" << j << "]=" << got << " ref=" << ref;
      }
    }
    // Padding between rows is untouched.
    for (int64_t j = s.n; j < ldy; ++j) ASSERT_EQ(y[i * ldy + j], y0[i * ldy + j]);
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(MatmulTest, MatchesReference) {
  const Shape shapes[] = {{1, 1, 1},    {1, 8, 32},   {1, 37, 77},   {2, 19, 64},
                          {3, 33, 31},  {5, 17, 100}, {7, 64, 257},  {16, 45, 128},
                          {33, 70, 96}, {70, 21, 50}, {1, 300, 1000}};
  for (WeightType type : {WeightType::kBF16, WeightType::kF16, WeightType::kF32}) {
    for (const Shape& s : shapes) {
      CheckAgainstReference(GetParam(), 2, type, s, /*accumulate=*/false);
    }
    CheckAgainstReference(GetParam(), 1, type, {4, 23, 65}, /*accumulate=*/true);
    CheckAgainstReference(GetParam(), 2, type, {1, 130, 2048}, /*accumulate=*/true);
  }
}

// y[i] must be bit-identical whatever m, the neighbouring rows and the thread count.
TEST_P(MatmulTest, BatchInvariantBitwise) {
  struct Case {
    int64_t n, k;
  };
  const Case cases[] = {{515, 333}, {77, 2053}, {300, 32}, {1031, 64}};
  const int64_t kRows = 129;
  for (WeightType type : {WeightType::kBF16, WeightType::kF16, WeightType::kF32}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << TypeName(type) << " n=" << c.n << " k=" << c.k);
      const auto x = RandomFloats(kRows * c.k, 5);
      const Weights w = RandomWeights(type, c.n * c.k, 9);
      MatmulParams p;
      p.ldx = c.k;
      p.w = w.data();
      p.ldw = c.k;
      p.w_type = type;
      p.ldy = c.n;
      p.n = c.n;
      p.k = c.k;
      // Reference: each row alone, one thread.
      std::vector<float> single(kRows * c.n);
      {
        auto b = MakeBackend(GetParam(), 1);
        for (int64_t i = 0; i < kRows; ++i) {
          p.x = x.data() + i * c.k;
          p.y = single.data() + i * c.n;
          p.m = 1;
          ASSERT_TRUE(b->Matmul(p).ok());
        }
      }
      for (int threads : {1, 2}) {
        auto b = MakeBackend(GetParam(), threads);
        for (int64_t m : {1, 3, 7, 64, 129}) {
          // Several windows of rows, so each row sees different neighbours and tile positions.
          for (int64_t start : {int64_t{0}, (kRows - m) / 2, kRows - m}) {
            std::vector<float> y(m * c.n);
            p.x = x.data() + start * c.k;
            p.y = y.data();
            p.m = m;
            ASSERT_TRUE(b->Matmul(p).ok());
            EXPECT_TRUE(BitEqual(y.data(), single.data() + start * c.n, m * c.n))
                << "threads=" << threads << " m=" << m << " start=" << start;
          }
        }
      }
    }
  }
}

TEST_P(MatmulTest, AccumulateAddsToExisting) {
  const int64_t m = 3, n = 40, k = 70;
  const auto x = RandomFloats(m * k, 1);
  const Weights w = RandomWeights(WeightType::kBF16, n * k, 2);
  auto b = MakeBackend(GetParam(), 2);
  std::vector<float> plain(m * n), acc(m * n, 0.5f);
  MatmulParams p{x.data(), k, w.data(), k, WeightType::kBF16, plain.data(), n, m, n, k, false};
  ASSERT_TRUE(b->Matmul(p).ok());
  p.y = acc.data();
  p.accumulate = true;
  ASSERT_TRUE(b->Matmul(p).ok());
  for (int64_t i = 0; i < m * n; ++i) EXPECT_EQ(acc[i], 0.5f + plain[i]);
}

TEST_P(MatmulTest, RejectsBadArguments) {
  auto b = MakeBackend(GetParam(), 1);
  std::vector<float> x(64), y(64);
  std::vector<uint16_t> w(64);
  const MatmulParams good{x.data(), 8, w.data(), 8, WeightType::kBF16, y.data(), 8, 2, 8, 8, false};
  ASSERT_TRUE(b->Matmul(good).ok());
  auto expect_invalid = [&](MatmulParams p, const char* what) {
    const absl::Status s = b->Matmul(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what << ": " << s;
  };
  MatmulParams p = good;
  p.x = nullptr;
  expect_invalid(p, "null x");
  p = good;
  p.w = nullptr;
  expect_invalid(p, "null w");
  p = good;
  p.y = nullptr;
  expect_invalid(p, "null y");
  p = good;
  p.m = 0;
  expect_invalid(p, "m=0");
  p = good;
  p.n = -1;
  expect_invalid(p, "n<0");
  p = good;
  p.ldx = 4;
  expect_invalid(p, "ldx<k");
  p = good;
  p.ldw = 7;
  expect_invalid(p, "ldw<k");
  p = good;
  p.ldy = 2;
  expect_invalid(p, "ldy<n");
  p = good;
  p.w_type = static_cast<WeightType>(42);
  expect_invalid(p, "bad type");
}

MOESERVE_INSTANTIATE_FOR_ALL_ISAS(MatmulTest);

}  // namespace
}  // namespace moeserve::kernels
