// RmsNorm, Rope, SiluMul, TopKGate, Embedding and KvWrite on every ISA: against float/double
// references, bitwise batch invariance where a row reduction exists, and error paths.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/cpu/test_util.h"

namespace moeserve::kernels {
namespace {

using testing::BitEqual;
using testing::MakeBackend;
using testing::RandomFloats;
using testing::RandomWeights;
using testing::Weights;

class OpsTest : public ::testing::TestWithParam<CpuIsa> {};

void ExpectInvalid(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST_P(OpsTest, RmsNormMatchesReference) {
  auto b = MakeBackend(GetParam(), 2);
  for (WeightType type : {WeightType::kBF16, WeightType::kF16, WeightType::kF32}) {
    for (int64_t dim : {1, 7, 64, 129, 2048}) {
      const int64_t rows = 37, ldx = dim + 1, ldout = dim + 2;
      const auto x = RandomFloats(rows * ldx, dim, -3.0f, 3.0f);
      const Weights w = RandomWeights(type, dim, 2);
      std::vector<float> out(rows * ldout, -7.0f);
      RmsNormParams p{x.data(), ldx, w.data(), type, out.data(), ldout, rows, dim, 1e-6f};
      ASSERT_TRUE(b->RmsNorm(p).ok());
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0;
        for (int64_t d = 0; d < dim; ++d) ss += double{x[r * ldx + d]} * x[r * ldx + d];
        const double inv = 1.0 / std::sqrt(ss / dim + 1e-6);
        for (int64_t d = 0; d < dim; ++d) {
          const double ref = x[r * ldx + d] * inv * w.value[d];
          ASSERT_NEAR(out[r * ldout + d], ref, 1e-5 * (1 + std::fabs(ref)))
              << "dim=" << dim << " r=" << r << " d=" << d;
        }
        EXPECT_EQ(out[r * ldout + dim], -7.0f);
      }
      // Batch invariance: each row alone gives the same bits.
      std::vector<float> one(dim);
      for (int64_t r : {int64_t{0}, rows / 2, rows - 1}) {
        RmsNormParams q{x.data() + r * ldx, ldx, w.data(), type, one.data(), dim, 1, dim, 1e-6f};
        ASSERT_TRUE(b->RmsNorm(q).ok());
        EXPECT_TRUE(BitEqual(one.data(), out.data() + r * ldout, dim));
      }
    }
  }
}

TEST_P(OpsTest, RmsNormInPlace) {
  auto b = MakeBackend(GetParam(), 1);
  const int64_t rows = 3, dim = 40;
  auto x = RandomFloats(rows * dim, 4);
  const Weights w = RandomWeights(WeightType::kF32, dim, 5);
  std::vector<float> expect(rows * dim);
  RmsNormParams p{x.data(), dim, w.data(), WeightType::kF32, expect.data(), dim, rows, dim, 1e-6f};
  ASSERT_TRUE(b->RmsNorm(p).ok());
  p.out = x.data();
  ASSERT_TRUE(b->RmsNorm(p).ok());
  EXPECT_TRUE(BitEqual(x.data(), expect.data(), rows * dim));
}

TEST_P(OpsTest, RopeMatchesReference) {
  auto b = MakeBackend(GetParam(), 2);
  for (int64_t head_dim : {2, 64, 128, 80}) {
    const int64_t tokens = 9, heads = 5, half = head_dim / 2, ldx = heads * head_dim + 4;
    auto x = RandomFloats(tokens * ldx, head_dim);
    const auto x0 = x;
    std::vector<float> cos(tokens * half), sin(tokens * half);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t d = 0; d < half; ++d) {
        const double angle = (t + 3) * std::pow(10000.0, -2.0 * d / head_dim);
        cos[t * half + d] = static_cast<float>(std::cos(angle));
        sin[t * half + d] = static_cast<float>(std::sin(angle));
      }
    }
    RopeParams p{x.data(), ldx, tokens, heads, head_dim, cos.data(), sin.data()};
    ASSERT_TRUE(b->Rope(p).ok());
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t o = t * ldx + h * head_dim;
        for (int64_t d = 0; d < half; ++d) {
          const float c = cos[t * half + d], s = sin[t * half + d];
          const double a = x0[o + d], bb = x0[o + d + half];
          ASSERT_NEAR(x[o + d], a * c - bb * s, 1e-6);
          ASSERT_NEAR(x[o + d + half], bb * c + a * s, 1e-6);
        }
      }
      for (int64_t pad = heads * head_dim; pad < ldx; ++pad) {
        EXPECT_EQ(x[t * ldx + pad], x0[t * ldx + pad]);
      }
    }
  }
  std::vector<float> x(12), cs(6);
  ExpectInvalid(b->Rope(RopeParams{x.data(), 3, 1, 1, 3, cs.data(), cs.data()}));  // odd
  ExpectInvalid(b->Rope(RopeParams{x.data(), 4, 1, 2, 4, cs.data(), cs.data()}));  // ldx
  ExpectInvalid(b->Rope(RopeParams{x.data(), 4, 1, 1, 4, nullptr, cs.data()}));
}

TEST_P(OpsTest, SiluMulMatchesReference) {
  auto b = MakeBackend(GetParam(), 2);
  const int64_t rows = 11, inter = 77, ld = 2 * inter + 3;
  const auto gu = RandomFloats(rows * ld, 8, -6.0f, 6.0f);
  std::vector<float> out(rows * inter);
  ASSERT_TRUE(b->SiluMul(SiluMulParams{gu.data(), ld, out.data(), inter, rows, inter}).ok());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < inter; ++j) {
      const double g = gu[r * ld + j], u = gu[r * ld + inter + j];
      const double ref = g / (1.0 + std::exp(-g)) * u;
      ASSERT_NEAR(out[r * inter + j], ref, 1e-5 * (1 + std::fabs(ref)));
    }
  }
  ExpectInvalid(b->SiluMul(SiluMulParams{gu.data(), inter, out.data(), inter, rows, inter}));
  ExpectInvalid(b->SiluMul(SiluMulParams{gu.data(), ld, out.data(), inter, 0, inter}));
}

void ReferenceTopK(const float* logits, int64_t e, int64_t k, bool renorm, std::vector<int>* ids,
                   std::vector<double>* weights) {
  double max = logits[0];
  for (int64_t i = 0; i < e; ++i) max = std::max<double>(max, logits[i]);
  std::vector<double> prob(e);
  double sum = 0;
  for (int64_t i = 0; i < e; ++i) sum += prob[i] = std::exp(logits[i] - max);
  for (auto& q : prob) q /= sum;
  std::vector<int> order(e);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return prob[a] > prob[b]; });
  ids->assign(order.begin(), order.begin() + k);
  weights->clear();
  double tot = 0;
  for (int i : *ids) tot += prob[i];
  for (int i : *ids) weights->push_back(renorm ? prob[i] / tot : prob[i]);
}

TEST_P(OpsTest, TopKGateMatchesReference) {
  auto b = MakeBackend(GetParam(), 2);
  for (int64_t e : {8, 60, 128}) {
    for (int64_t k : {1, 4, 8}) {
      for (bool renorm : {true, false}) {
        const int64_t tokens = 13, ld = e + 1;
        auto logits = RandomFloats(tokens * ld, e * 10 + k, -4.0f, 4.0f);
        // Token 0: exact ties everywhere; token 1: a tie at the top.
        for (int64_t i = 0; i < e; ++i) logits[i] = 0.25f;
        logits[ld + 5] = logits[ld + 2] = 9.0f;
        std::vector<int32_t> ids(tokens * k);
        std::vector<float> w(tokens * k);
        TopKGateParams p{logits.data(), ld, tokens, e, k, renorm, ids.data(), w.data()};
        ASSERT_TRUE(b->TopKGate(p).ok());
        for (int64_t t = 0; t < tokens; ++t) {
          std::vector<int> rid;
          std::vector<double> rw;
          ReferenceTopK(logits.data() + t * ld, e, k, renorm, &rid, &rw);
          for (int64_t s = 0; s < k; ++s) {
            ASSERT_EQ(ids[t * k + s], rid[s]) << "e=" << e << " k=" << k << " t=" << t;
            ASSERT_NEAR(w[t * k + s], rw[s], 1e-6);
          }
        }
        for (int64_t s = 0; s < k; ++s) EXPECT_EQ(ids[s], s);  // all tied: lowest ids
        EXPECT_EQ(ids[k], 2);
      }
    }
  }
  std::vector<float> logits(8);
  std::vector<int32_t> ids(8);
  std::vector<float> w(8);
  ExpectInvalid(b->TopKGate(TopKGateParams{logits.data(), 8, 1, 8, 9, true, ids.data(), w.data()}));
  ExpectInvalid(b->TopKGate(TopKGateParams{logits.data(), 8, 1, 8, 0, true, ids.data(), w.data()}));
  ExpectInvalid(b->TopKGate(TopKGateParams{logits.data(), 4, 1, 8, 2, true, ids.data(), w.data()}));
  ExpectInvalid(b->TopKGate(TopKGateParams{logits.data(), 8, 1, 8, 2, true, nullptr, w.data()}));
}

TEST_P(OpsTest, EmbeddingCopiesRows) {
  auto b = MakeBackend(GetParam(), 2);
  for (WeightType type : {WeightType::kBF16, WeightType::kF16, WeightType::kF32}) {
    const int64_t vocab = 50, dim = 33, ldout = 40;
    const Weights table = RandomWeights(type, vocab * dim, 6);
    const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
    std::vector<float> out(ids.size() * ldout, 5.0f);
    EmbeddingParams p{table.data(),        type,       vocab, dim, ids.data(),
                      int64_t(ids.size()), out.data(), ldout};
    ASSERT_TRUE(b->Embedding(p).ok());
    for (size_t t = 0; t < ids.size(); ++t) {
      EXPECT_TRUE(BitEqual(out.data() + t * ldout, table.value.data() + ids[t] * dim, dim));
      EXPECT_EQ(out[t * ldout + dim], 5.0f);
    }
    const std::vector<int32_t> bad = {3, 50};
    p.ids = bad.data();
    p.tokens = 2;
    ExpectInvalid(b->Embedding(p));
    const std::vector<int32_t> neg = {-1};
    p.ids = neg.data();
    p.tokens = 1;
    ExpectInvalid(b->Embedding(p));
  }
}

TEST_P(OpsTest, KvWriteScattersToSlots) {
  auto b = MakeBackend(GetParam(), 2);
  const int64_t kvh = 4, hd = 64, row = kvh * hd, slots_total = 32, ldk = row + 8;
  const std::vector<int64_t> slots = {5, 17, 0, 31};
  const int64_t tokens = static_cast<int64_t>(slots.size());
  const auto k = RandomFloats(tokens * ldk, 1), v = RandomFloats(tokens * row, 2);
  std::vector<float> kc(slots_total * row, 0.0f), vc(slots_total * row, 0.0f);
  KvWriteParams p{k.data(), ldk, v.data(), row,       slots.data(),
                  tokens,   kvh, hd,       kc.data(), vc.data()};
  ASSERT_TRUE(b->KvWrite(p).ok());
  for (int64_t t = 0; t < tokens; ++t) {
    EXPECT_TRUE(BitEqual(kc.data() + slots[t] * row, k.data() + t * ldk, row));
    EXPECT_TRUE(BitEqual(vc.data() + slots[t] * row, v.data() + t * row, row));
  }
  EXPECT_EQ(kc[1 * row], 0.0f);
  const std::vector<int64_t> neg = {-1};
  p.slots = neg.data();
  p.tokens = 1;
  ExpectInvalid(b->KvWrite(p));
  p.slots = slots.data();
  p.ldk = row - 1;
  ExpectInvalid(b->KvWrite(p));
  p.ldk = ldk;
  p.v_cache = nullptr;
  ExpectInvalid(b->KvWrite(p));
}

TEST_P(OpsTest, RmsNormRejectsBadArguments) {
  auto b = MakeBackend(GetParam(), 1);
  std::vector<float> x(16), out(16);
  const RmsNormParams good{x.data(), 8, x.data(), WeightType::kF32, out.data(), 8, 2, 8, 1e-6f};
  ASSERT_TRUE(b->RmsNorm(good).ok());
  RmsNormParams p = good;
  p.weight = nullptr;
  ExpectInvalid(b->RmsNorm(p));
  p = good;
  p.dim = 0;
  ExpectInvalid(b->RmsNorm(p));
  p = good;
  p.ldout = 4;
  ExpectInvalid(b->RmsNorm(p));
  p = good;
  p.eps = -1.0f;
  ExpectInvalid(b->RmsNorm(p));
}

MOESERVE_INSTANTIATE_FOR_ALL_ISAS(OpsTest);

}  // namespace
}  // namespace moeserve::kernels
