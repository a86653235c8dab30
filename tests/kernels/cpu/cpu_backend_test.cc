// ISA detection and backend creation.
#include "kernels/cpu/cpu_backend.h"

#include <string>

#include "common/thread_pool.h"
#include "gtest/gtest.h"

namespace moeserve::kernels {
namespace {

TEST(CpuBackend, DetectsAConcreteSupportedIsa) {
  const CpuIsa isa = DetectCpuIsa();
  EXPECT_NE(isa, CpuIsa::kAuto);
  EXPECT_TRUE(CpuIsaSupported(isa));
  const auto all = SupportedCpuIsas();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front(), CpuIsa::kPortable);
  EXPECT_EQ(all.back(), isa);
}

TEST(CpuBackend, AutoPicksTheDetectedIsa) {
  ThreadPool pool(2);
  auto b = MakeCpuBackend(&pool);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->name(), std::string("cpu-") + CpuIsaName(DetectCpuIsa()));
}

TEST(CpuBackend, CreatesEverySupportedIsaAndNullPool) {
  for (CpuIsa isa : SupportedCpuIsas()) {
    auto b = MakeCpuBackend(nullptr, isa);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->name(), std::string("cpu-") + CpuIsaName(isa));
  }
}

TEST(CpuBackend, RejectsUnsupportedIsa) {
  for (CpuIsa isa : {CpuIsa::kAvx512, CpuIsa::kAvx512Bf16}) {
    auto b = MakeCpuBackend(nullptr, isa);
    if (CpuIsaSupported(isa)) {
      EXPECT_TRUE(b.ok());
    } else {
      EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
    }
  }
}

TEST(CpuBackend, BroaderIsaImpliesNarrower) {
  if (CpuIsaSupported(CpuIsa::kAvx512Bf16)) {
    EXPECT_TRUE(CpuIsaSupported(CpuIsa::kAvx512));
  }
  EXPECT_TRUE(CpuIsaSupported(CpuIsa::kPortable));
}

}  // namespace
}  // namespace moeserve::kernels
