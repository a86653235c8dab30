#include "expert_shard/expert_compute.h"

#include <cmath>
#include <random>

#include "common/bf16.h"
#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/cpu/cpu_backend.h"

namespace moeserve {
namespace {

constexpr char kModel[] = MOESERVE_SOURCE_DIR "/tests/data/golden/moe128_top8";

class ExpertComputeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadModelConfig(kModel);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto store = TensorStore::Open(kModel);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    pool_ = std::make_unique<ThreadPool>(2);
    auto backend = kernels::MakeCpuBackend(pool_.get());
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
    for (layer_ = 0; !config_.IsMoeLayer(layer_); ++layer_) {
    }
  }

  // Random routed batch: distinct experts per token, weights summing to 1.
  void MakeBatch(int64_t tokens, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    const int64_t h = config_.hidden_size, k = config_.num_experts_per_tok;
    x_.resize(tokens * h);
    for (float& v : x_) v = n(rng);
    ids_.resize(tokens * k);
    weights_.resize(tokens * k);
    for (int64_t t = 0; t < tokens; ++t) {
      std::vector<int32_t> all(config_.num_experts);
      for (int32_t e = 0; e < config_.num_experts; ++e) all[e] = e;
      std::shuffle(all.begin(), all.end(), rng);
      float sum = 0;
      for (int64_t s = 0; s < k; ++s) {
        ids_[t * k + s] = all[s];
        weights_[t * k + s] = std::uniform_real_distribution<float>(0.1f, 1.0f)(rng);
        sum += weights_[t * k + s];
      }
      for (int64_t s = 0; s < k; ++s) weights_[t * k + s] /= sum;
    }
  }

  MoeLayerBatch Batch(int64_t tokens, std::vector<double>& out) {
    out.assign(tokens * config_.hidden_size, -1.0);
    MoeLayerBatch b;
    b.layer = layer_;
    b.tokens = tokens;
    b.hidden = config_.hidden_size;
    b.top_k = config_.num_experts_per_tok;
    b.x = x_.data();
    b.topk_ids = ids_.data();
    b.topk_weights = weights_.data();
    b.out = out.data();
    return b;
  }

  std::unique_ptr<ExpertStore> Store(std::function<bool(int64_t)> owns) {
    std::vector<bool> owned(config_.num_experts);
    for (int64_t e = 0; e < config_.num_experts; ++e) owned[e] = owns(e);
    auto s = ExpertStore::Load(config_, *store_, owned);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  ModelConfig config_;
  std::unique_ptr<TensorStore> store_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<kernels::Backend> backend_;
  int64_t layer_ = 0;
  std::vector<float> x_, weights_;
  std::vector<int32_t> ids_;
};

TEST_F(ExpertComputeTest, MatchesNaiveSwiGlu) {
  auto all = Store([](int64_t) { return true; });
  ExpertCompute compute(config_, all.get(), backend_.get());
  const int64_t tokens = 5, h = config_.hidden_size, inter = config_.moe_intermediate_size;
  const int64_t k = config_.num_experts_per_tok;
  MakeBatch(tokens, 1);
  std::vector<double> out;
  ASSERT_TRUE(compute.Run(Batch(tokens, out)).ok());
  auto w = [](const WeightRef& r, int64_t i) {
    return Bf16ToFloat(static_cast<const uint16_t*>(r.data)[i]);
  };
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<double> ref(h, 0.0);
    for (int64_t s = 0; s < k; ++s) {
      const ExpertWeights* ew = all->Get(layer_, ids_[t * k + s]);
      ASSERT_NE(ew, nullptr);
      std::vector<double> act(inter);
      for (int64_t i = 0; i < inter; ++i) {
        double g = 0, u = 0;
        for (int64_t j = 0; j < h; ++j) {
          g += double(w(ew->gate, i * h + j)) * x_[t * h + j];
          u += double(w(ew->up, i * h + j)) * x_[t * h + j];
        }
        act[i] = g / (1.0 + std::exp(-g)) * u;
      }
      for (int64_t j = 0; j < h; ++j) {
        double y = 0;
        for (int64_t i = 0; i < inter; ++i) y += double(w(ew->down, j * inter + i)) * act[i];
        ref[j] += weights_[t * k + s] * y;
      }
    }
    for (int64_t j = 0; j < h; ++j) {
      EXPECT_NEAR(out[t * h + j], ref[j], 1e-4 * (1.0 + std::fabs(ref[j]))) << t << "," << j;
    }
  }
}

TEST_F(ExpertComputeTest, SplitAcrossShardsSumsToTheSameBits) {
  auto all = Store([](int64_t) { return true; });
  auto even = Store([](int64_t e) { return e % 2 == 0; });
  auto odd = Store([](int64_t e) { return e % 2 == 1; });
  auto low = Store([&](int64_t e) { return e < 40; });
  auto high = Store([&](int64_t e) { return e >= 40; });
  ExpertCompute c_all(config_, all.get(), backend_.get());
  ExpertCompute c_even(config_, even.get(), backend_.get());
  ExpertCompute c_odd(config_, odd.get(), backend_.get());
  ExpertCompute c_low(config_, low.get(), backend_.get());
  ExpertCompute c_high(config_, high.get(), backend_.get());
  const int64_t tokens = 9, h = config_.hidden_size;
  MakeBatch(tokens, 2);
  std::vector<double> full, a, b, c, d;
  ASSERT_TRUE(c_all.Run(Batch(tokens, full)).ok());
  ASSERT_TRUE(c_even.Run(Batch(tokens, a)).ok());
  ASSERT_TRUE(c_odd.Run(Batch(tokens, b)).ok());
  ASSERT_TRUE(c_low.Run(Batch(tokens, c)).ok());
  ASSERT_TRUE(c_high.Run(Batch(tokens, d)).ok());
  for (int64_t i = 0; i < tokens * h; ++i) {
    const float f = static_cast<float>(full[i]);
    EXPECT_EQ(f, static_cast<float>(a[i] + b[i])) << i;
    EXPECT_EQ(f, static_cast<float>(d[i] + c[i])) << i;
  }
  EXPECT_EQ(c_even.rows_computed() + c_odd.rows_computed(), c_all.rows_computed());
}

TEST_F(ExpertComputeTest, RowsAreIndependentOfTheirNeighbours) {
  auto all = Store([](int64_t) { return true; });
  ExpertCompute compute(config_, all.get(), backend_.get());
  const int64_t tokens = 12, h = config_.hidden_size;
  MakeBatch(tokens, 3);
  std::vector<double> together;
  ASSERT_TRUE(compute.Run(Batch(tokens, together)).ok());
  // Token 7 alone.
  const int64_t k = config_.num_experts_per_tok;
  std::vector<float> x(x_.begin() + 7 * h, x_.begin() + 8 * h);
  std::vector<int32_t> ids(ids_.begin() + 7 * k, ids_.begin() + 8 * k);
  std::vector<float> w(weights_.begin() + 7 * k, weights_.begin() + 8 * k);
  x_ = x;
  ids_ = ids;
  weights_ = w;
  std::vector<double> alone;
  ASSERT_TRUE(compute.Run(Batch(1, alone)).ok());
  for (int64_t j = 0; j < h; ++j) EXPECT_EQ(alone[j], together[7 * h + j]);
}

TEST_F(ExpertComputeTest, RejectsBadBatches) {
  auto all = Store([](int64_t) { return true; });
  ExpertCompute compute(config_, all.get(), backend_.get());
  MakeBatch(2, 4);
  std::vector<double> out;
  MoeLayerBatch b = Batch(2, out);
  ids_[0] = static_cast<int32_t>(config_.num_experts);
  EXPECT_EQ(compute.Run(b).code(), absl::StatusCode::kInvalidArgument);
  ids_[0] = 0;
  b.hidden = config_.hidden_size + 1;
  EXPECT_EQ(compute.Run(b).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moeserve
