#include "worker/sampler.h"

#include <cmath>
#include <map>

#include "gtest/gtest.h"

namespace moeserve {
namespace {

TEST(Sampler, GreedyPicksLowestIdOnTies) {
  const std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  EXPECT_EQ(s.Sample(logits.data(), 4, {}, {}), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(i * 0.37f) * 3;
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Sampler a(p), b(p);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.Sample(logits.data(), 100, {}, {}),
                                         b.Sample(logits.data(), 100, {}, {}));
}

TEST(Sampler, TopKOneIsGreedy) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.Sample(logits.data(), 3, {}, {}), 1);
}

TEST(Sampler, TopPAndMinPRestrictTheSupport) {
  // Probabilities ~ [0.665, 0.245, 0.09]: top_p 0.6 keeps only the first; min_p 0.3 keeps two.
  std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  SamplingParams p;
  p.top_p = 0.6f;
  Sampler s(p);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.Sample(logits.data(), 3, {}, {}), 0);
  SamplingParams q;
  q.min_p = 0.3f;
  q.seed = 7;
  Sampler m(q);
  std::map<int, int> seen;
  for (int i = 0; i < 400; ++i) ++seen[m.Sample(logits.data(), 3, {}, {})];
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_GT(seen[1], 0);
}

TEST(Sampler, FrequencyMatchesSoftmax) {
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = [0.25, 0.75]
  SamplingParams p;
  p.seed = 3;
  Sampler s(p);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.Sample(logits.data(), 2, {}, {});
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.02);
}

TEST(Sampler, PenaltiesDiscourageRepeats) {
  std::vector<float> logits = {1.0f, 0.9f};
  SamplingParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 1.0f;
  Sampler s(p);
  EXPECT_EQ(s.Sample(logits.data(), 2, {}, {0}), 1);
  SamplingParams r;
  r.temperature = 0.0f;
  r.repetition_penalty = 1.5f;
  Sampler rs(r);
  EXPECT_EQ(rs.Sample(logits.data(), 2, {0}, {}), 1);  // 1.0/1.5 < 0.9
}

TEST(Sampler, ValidateNamesTheField) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_NE(p.Validate().message().find("top_p"), std::string::npos);
  p = {};
  p.temperature = -1.0f;
  EXPECT_NE(p.Validate().message().find("temperature"), std::string::npos);
}

TEST(ComputeLogprobs, NormalisedAndSorted) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  TokenLogprob lp = ComputeLogprobs(logits.data(), 4, 2, 3);
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  EXPECT_NEAR(lp.logprob, 2.0 - std::log(z), 1e-9);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1);
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 2);
}

}  // namespace
}  // namespace moeserve
