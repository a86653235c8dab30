// The step loop end to end on a golden checkpoint: continuous batching, chunked prefill,
// prefix caching and preemption never change a request's tokens.
#include "worker/batch_loop.h"

#include <map>
#include <random>

#include "absl/synchronization/mutex.h"
#include "engine/local_engine.h"
#include "gtest/gtest.h"

namespace moeserve {
namespace {

constexpr char kModel[] = MOESERVE_SOURCE_DIR "/tests/data/golden/moe128_top8";

struct Outcome {
  std::vector<int32_t> tokens;
  std::string reason;
  absl::Status error;
  bool done = false;
};

class BatchLoopTest : public ::testing::Test {
 protected:
  std::unique_ptr<LocalEngine> Engine(int64_t kv_tokens) {
    LocalEngineOptions o;
    o.num_threads = 2;
    o.kv_cache_tokens = kv_tokens;
    o.limits.max_context = 256;
    o.limits.max_tokens_per_step = 64;
    o.limits.max_seqs_per_step = 16;
    auto e = LocalEngine::Open(kModel, o);
    EXPECT_TRUE(e.ok()) << e.status();
    return std::move(*e);
  }

  static std::vector<int32_t> Prompt(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> p(n);
    for (auto& t : p) t = static_cast<int32_t>(rng() % 500);
    return p;
  }

  static LoopRequest Request(const std::string& id, std::vector<int32_t> prompt, int max_tokens) {
    LoopRequest r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0.0f;
    return r;
  }

  // Runs `requests` through a BatchLoop on `engine`; returns outcomes by id.
  std::map<std::string, Outcome> Run(LocalEngine& engine, std::vector<LoopRequest> requests,
                                     int64_t budget, LoopLoad* load = nullptr,
                                     const std::string& abort_id = "") {
    absl::Mutex mu;
    std::map<std::string, Outcome> out;
    BatchLoopOptions o;
    o.max_num_batched_tokens = budget;
    o.max_num_seqs = 16;
    o.block_size = engine.block_size();
    BatchLoop loop(engine.runner(), engine.allocator(), o, [&](LoopEvent e) {
      absl::MutexLock lock(&mu);
      Outcome& oc = out[e.id];
      oc.tokens.insert(oc.tokens.end(), e.tokens.begin(), e.tokens.end());
      if (e.finished || !e.error.ok()) {
        oc.done = true;
        oc.reason = e.finish_reason;
        oc.error = e.error;
      }
    });
    const size_t n = requests.size();
    for (auto& r : requests) loop.Add(std::move(r));
    loop.Start();
    if (!abort_id.empty()) {
      absl::MutexLock lock(&mu);
      auto first_token = [&] { return out.count(abort_id) && !out[abort_id].tokens.empty(); };
      mu.Await(absl::Condition(&first_token));
    }
    if (!abort_id.empty()) loop.Abort(abort_id);
    {
      absl::MutexLock lock(&mu);
      auto all_done = [&] {
        size_t done = 0;
        for (auto& [id, oc] : out) done += oc.done;
        return done == n;
      };
      mu.Await(absl::Condition(&all_done));
    }
    loop.Stop();  // publishes the final load
    if (load) *load = loop.load();
    return out;
  }

  std::vector<int32_t> Alone(LocalEngine& engine, const std::vector<int32_t>& prompt, int n) {
    GenerateRequest g;
    g.prompt = prompt;
    g.max_tokens = n;
    g.sampling.temperature = 0.0f;
    auto r = engine.generator()->Generate(g);
    EXPECT_TRUE(r.ok()) << r.status();
    return r->token_ids;
  }
};

TEST_F(BatchLoopTest, ConcurrentRequestsMatchRunningAlone) {
  auto engine = Engine(4096);
  std::vector<LoopRequest> reqs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 16; ++i) {
    prompts.push_back(Prompt(3 + 5 * i, i + 1));
    reqs.push_back(Request("r" + std::to_string(i), prompts.back(), 6));
  }
  for (int64_t budget : {7, 64}) {
    auto out = Run(*engine, reqs, budget);
    for (int i = 0; i < 16; ++i) {
      const Outcome& oc = out["r" + std::to_string(i)];
      EXPECT_TRUE(oc.error.ok()) << oc.error;
      EXPECT_EQ(oc.reason, "length");
      EXPECT_EQ(oc.tokens, Alone(*engine, prompts[i], 6)) << "request " << i << " budget "
                                                          << budget;
    }
  }
}

TEST_F(BatchLoopTest, PreemptionUnderATinyCacheKeepsTokensAndLeaksNothing) {
  auto engine = Engine(10 * 16);  // 10 blocks of 16 tokens; each request needs 4
  std::vector<LoopRequest> reqs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    prompts.push_back(Prompt(30, 100 + i));
    reqs.push_back(Request("p" + std::to_string(i), prompts.back(), 20));
  }
  LoopLoad load;
  auto out = Run(*engine, reqs, 64, &load);
  EXPECT_GT(load.preemptions, 0);
  for (int i = 0; i < 4; ++i) {
    const Outcome& oc = out["p" + std::to_string(i)];
    ASSERT_TRUE(oc.error.ok()) << oc.error;
    EXPECT_EQ(oc.tokens, Alone(*engine, prompts[i], 20)) << "request " << i;
  }
  EXPECT_EQ(load.running_requests, 0);
  EXPECT_EQ(engine->allocator()->num_free(), engine->allocator()->num_blocks());
}

TEST_F(BatchLoopTest, SharedPrefixesHitTheCacheWithIdenticalTokens) {
  auto engine = Engine(4096);
  const auto shared = Prompt(40, 7);
  auto a = shared, b = shared;
  a.push_back(1);
  b.push_back(2);
  absl::Mutex mu;
  std::map<std::string, Outcome> out;
  BatchLoopOptions o;
  o.max_num_batched_tokens = 16;
  o.block_size = engine->block_size();
  BatchLoop loop(engine->runner(), engine->allocator(), o, [&](LoopEvent e) {
    absl::MutexLock lock(&mu);
    Outcome& oc = out[e.id];
    oc.tokens.insert(oc.tokens.end(), e.tokens.begin(), e.tokens.end());
    oc.done = oc.done || e.finished || !e.error.ok();
  });
  loop.Start();
  // b arrives after a has finished: its first two 16-token blocks come from the cache.
  for (const auto& [id, prompt] : {std::pair{"a", a}, std::pair{"b", b}}) {
    loop.Add(Request(id, prompt, 5));
    absl::MutexLock lock(&mu);
    auto done = [&, id = std::string(id)] { return out[id].done; };
    mu.Await(absl::Condition(&done));
  }
  const LoopLoad load = loop.load();
  loop.Stop();
  EXPECT_EQ(load.prefix_hit_tokens, 32);
  EXPECT_EQ(load.prefix_query_tokens, 41 + 41);
  EXPECT_EQ(out["a"].tokens, Alone(*engine, a, 5));
  EXPECT_EQ(out["b"].tokens, Alone(*engine, b, 5));
}

TEST_F(BatchLoopTest, AbortAndBadRequestsDoNotDisturbOthers) {
  auto engine = Engine(4096);
  const auto good = Prompt(12, 3);
  std::vector<LoopRequest> reqs = {Request("good", good, 8), Request("long", Prompt(10, 4), 200),
                                   Request("bad", {1, 2, 100000}, 4)};
  auto out = Run(*engine, reqs, 64, nullptr, "long");
  EXPECT_EQ(out["good"].tokens, Alone(*engine, good, 8));
  EXPECT_EQ(out["long"].reason, "abort");
  EXPECT_LT(out["long"].tokens.size(), 200u);
  EXPECT_EQ(out["bad"].error.code(), absl::StatusCode::kInvalidArgument);
  // Every block is back once the loop (and its prefix cache) is gone.
  EXPECT_EQ(engine->allocator()->num_free(), engine->allocator()->num_blocks());
}

}  // namespace
}  // namespace moeserve
