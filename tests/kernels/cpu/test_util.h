// Shared helpers for the CPU kernel tests: random data, weight encoding, ISA parameterisation.
#ifndef MOESERVE_TESTS_KERNELS_CPU_TEST_UTIL_H_
#define MOESERVE_TESTS_KERNELS_CPU_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "common/bf16.h"
#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"

namespace moeserve::kernels {
// gtest prints parameters with this instead of raw bytes.
inline void PrintTo(CpuIsa isa, std::ostream* os) { *os << CpuIsaName(isa); }
}  // namespace moeserve::kernels

namespace moeserve::kernels::testing {

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A weight tensor stored as `type` plus its exact float values.
struct Weights {
  WeightType type;
  std::vector<uint16_t> half;  // bf16 or f16 bits
  std::vector<float> f32;      // kF32 storage
  std::vector<float> value;    // exact values, for references
  const void* data() const {
    return type == WeightType::kF32 ? static_cast<const void*>(f32.data())
                                    : static_cast<const void*>(half.data());
  }
};

inline Weights RandomWeights(WeightType type, size_t n, uint32_t seed, float scale = 1.0f) {
  Weights w{type, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  w.value.resize(n);
  if (type == WeightType::kF32) {
    w.f32.resize(n);
    for (size_t i = 0; i < n; ++i) w.value[i] = w.f32[i] = dist(rng);
  } else if (type == WeightType::kBF16) {
    w.half.resize(n);
    for (size_t i = 0; i < n; ++i) {
      w.half[i] = FloatToBf16(dist(rng));
      w.value[i] = Bf16ToFloat(w.half[i]);
    }
  } else {
    // Random f16 bits with exponents 2^-6 .. 2^0, both signs; includes a few subnormals.
    w.half.resize(n);
    std::uniform_int_distribution<int> exp(9, 15), mant(0, 1023), sign(0, 1);
    for (size_t i = 0; i < n; ++i) {
      const int e = (i % 97 == 0) ? 0 : exp(rng);
      w.half[i] = static_cast<uint16_t>((sign(rng) << 15) | (e << 10) | mant(rng));
      w.value[i] = F16ToFloat(w.half[i]);
    }
  }
  return w;
}

inline const char* TypeName(WeightType t) {
  return t == WeightType::kBF16 ? "bf16" : t == WeightType::kF16 ? "f16" : "f32";
}

inline bool BitEqual(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

// A backend for `isa` on a pool of `threads` (the pool is owned alongside).
struct TestBackend {
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Backend> backend;
  Backend* operator->() { return backend.get(); }
};

inline TestBackend MakeBackend(CpuIsa isa, int threads) {
  TestBackend b;
  b.pool = std::make_unique<ThreadPool>(threads);
  auto made = MakeCpuBackend(b.pool.get(), isa);
  EXPECT_TRUE(made.ok()) << made.status();
  if (made.ok()) b.backend = std::move(made).value();
  return b;
}

inline std::string IsaParamName(const ::testing::TestParamInfo<CpuIsa>& info) {
  return CpuIsaName(info.param);
}

}  // namespace moeserve::kernels::testing

// Instantiates a TEST_P suite over every ISA this machine supports.
#define MOESERVE_INSTANTIATE_FOR_ALL_ISAS(suite)                                         \
  INSTANTIATE_TEST_SUITE_P(AllIsas, suite,                                               \
                           ::testing::ValuesIn(::moeserve::kernels::SupportedCpuIsas()), \
                           ::moeserve::kernels::testing::IsaParamName)

#endif  // MOESERVE_TESTS_KERNELS_CPU_TEST_UTIL_H_
