#include "worker/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace moeserve {

TokenLogprob ComputeLogprobs(const float* logits, int64_t vocab, int32_t token, int top_n) {
  double max = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) max = std::max(max, static_cast<double>(logits[i]));
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_z = max + std::log(sum);
  TokenLogprob out;
  out.token_id = token;
  out.logprob = static_cast<double>(logits[token]) - log_z;
  if (top_n > 0) {
    const int64_t n = std::min<int64_t>(top_n, vocab);
    std::vector<int32_t> idx(vocab);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    out.top.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      out.top.emplace_back(idx[i], static_cast<double>(logits[idx[i]]) - log_z);
    }
  }
  return out;
}

int32_t Sampler::Sample(const float* logits, int64_t vocab, const std::vector<int32_t>& prompt,
                        const std::vector<int32_t>& output) {
  scratch_.assign(logits, logits + vocab);
  float* l = scratch_.data();
  // Penalties.
  if (params_.repetition_penalty != 1.0f) {
    auto penalise = [&](int32_t t) {
      if (t < 0 || t >= vocab) return;
      // Applied once per distinct token: mark by sign-safe recomputation from the original.
      const float orig = logits[t];
      l[t] = orig > 0 ? orig / params_.repetition_penalty : orig * params_.repetition_penalty;
    };
    for (int32_t t : prompt) penalise(t);
    for (int32_t t : output) penalise(t);
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : output) ++counts[t];
    for (const auto& [t, n] : counts) {
      if (t < 0 || t >= vocab) continue;
      l[t] -= params_.frequency_penalty * static_cast<float>(n) + params_.presence_penalty;
    }
  }
  if (params_.temperature == 0.0f) {
    int32_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (l[i] > l[best]) best = static_cast<int32_t>(i);
    return best;
  }
  // Candidates sorted by logit (descending, ties to lower id).
  order_.resize(vocab);
  std::iota(order_.begin(), order_.end(), 0);
  int64_t n = vocab;
  auto by_logit = [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  if (params_.top_k > 0 && params_.top_k < vocab) {
    n = params_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), by_logit);
  } else {
    std::sort(order_.begin(), order_.end(), by_logit);
  }
  // Softmax with temperature over the candidates.
  std::vector<double> probs(n);
  const double inv_t = 1.0 / params_.temperature;
  const double top = l[order_[0]] * inv_t;
  double z = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    probs[i] = std::exp(l[order_[i]] * inv_t - top);
    z += probs[i];
  }
  for (double& p : probs) p /= z;
  // top-p: smallest prefix whose mass reaches top_p (always keeps the first).
  if (params_.top_p < 1.0f) {
    double mass = 0.0;
    int64_t keep = 0;
    while (keep < n) {
      mass += probs[keep++];
      if (mass >= params_.top_p) break;
    }
    n = keep;
  }
  // min-p: drop tokens below min_p × the most likely one.
  if (params_.min_p > 0.0f) {
    const double floor = params_.min_p * probs[0];
    int64_t keep = 1;
    while (keep < n && probs[keep] >= floor) ++keep;
    n = keep;
  }
  double mass = 0.0;
  for (int64_t i = 0; i < n; ++i) mass += probs[i];
  std::uniform_real_distribution<double> u(0.0, mass);
  double r = u(rng_);
  for (int64_t i = 0; i < n; ++i) {
    r -= probs[i];
    if (r < 0.0) return order_[i];
  }
  return order_[n - 1];
}

}  // namespace moeserve
