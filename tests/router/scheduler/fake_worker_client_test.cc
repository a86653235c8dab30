#include "tests/router/scheduler/fake_worker_client.h"

#include "gtest/gtest.h"
#include "common/prefix_hash.h"
#include "tests/router/scheduler/event_collector.h"

namespace moeserve::router {
namespace {

using testing::EventCollector;

WorkerRequest Request(std::string id, std::vector<int32_t> prompt, int max_tokens) {
  WorkerRequest r;
  r.request_id = std::move(id);
  r.prompt_ids = std::move(prompt);
  r.max_tokens = max_tokens;
  return r;
}

TEST(FakeWorkerClient, GeneratesDeterministicTokensUpToMaxTokens) {
  FakeWorkerClient worker({});
  EventCollector c;
  ASSERT_TRUE(worker.Submit(Request("a", {1, 2, 3}, 5), c.Sink()).ok());
  ASSERT_TRUE(c.WaitDone());
  EXPECT_EQ(c.tokens(), worker.ExpectedTokens({1, 2, 3}, 5));
  EXPECT_EQ(c.last().finish_reason, FinishReason::kLength);
  EXPECT_EQ(c.terminal_count(), 1);
  EXPECT_EQ(c.events().size(), 5u);  // One token per step.
  EXPECT_NE(worker.ExpectedTokens({1, 2, 3}, 5), worker.ExpectedTokens({1, 2, 4}, 5));
}

TEST(FakeWorkerClient, StopsOnStopIdAndEos) {
  FakeWorkerOptions options;
  options.eos_token_id = 151643;
  options.eos_after = 3;
  FakeWorkerClient worker(options);
  EventCollector eos, ignored, stop;
  ASSERT_TRUE(worker.Submit(Request("eos", {5}, 10), eos.Sink()).ok());
  WorkerRequest r = Request("ignore", {5}, 4);
  r.ignore_eos = true;
  ASSERT_TRUE(worker.Submit(r, ignored.Sink()).ok());
  const auto expected = worker.ExpectedTokens({6}, 10);
  WorkerRequest s = Request("stop", {6}, 10);
  s.stop_token_ids = {expected[1]};
  ASSERT_TRUE(worker.Submit(s, stop.Sink()).ok());
  ASSERT_TRUE(eos.WaitDone() && ignored.WaitDone() && stop.WaitDone());
  EXPECT_EQ(eos.tokens().size(), 3u);
  EXPECT_EQ(eos.tokens().back(), 151643);
  EXPECT_EQ(eos.last().finish_reason, FinishReason::kStop);
  EXPECT_EQ(ignored.tokens(), worker.ExpectedTokens({5}, 4));
  EXPECT_EQ(ignored.last().finish_reason, FinishReason::kLength);
  EXPECT_EQ(stop.last().finish_reason, FinishReason::kStop);
  EXPECT_EQ(stop.tokens().back(), expected[1]);
  EXPECT_LE(stop.tokens().size(), 2u);
}

TEST(FakeWorkerClient, LogprobsPerToken) {
  FakeWorkerClient worker({});
  EventCollector c;
  WorkerRequest r = Request("lp", {9, 9}, 3);
  r.logprobs = 2;
  ASSERT_TRUE(worker.Submit(r, c.Sink()).ok());
  ASSERT_TRUE(c.WaitDone());
  int k = 0;
  for (const WorkerEvent& e : c.events()) {
    ASSERT_EQ(e.logprobs.size(), e.token_ids.size());
    for (size_t i = 0; i < e.token_ids.size(); ++i, ++k) {
      EXPECT_EQ(e.logprobs[i].token_id, e.token_ids[i]);
      ASSERT_EQ(e.logprobs[i].top.size(), 2u);
      EXPECT_EQ(e.logprobs[i].top[0].first, e.token_ids[i]);
      EXPECT_EQ(e.logprobs[i].logprob, worker.LogprobAt({9, 9}, k, 2).logprob);
    }
  }
  EXPECT_EQ(k, 3);
}

TEST(FakeWorkerClient, AbortEndsWithAborted) {
  FakeWorkerClient worker({});
  worker.SetPaused(true);
  EventCollector c;
  ASSERT_TRUE(worker.Submit(Request("x", {1}, 100), c.Sink()).ok());
  EXPECT_EQ(worker.active(), 1);
  worker.Abort("x");
  worker.Abort("unknown");
  ASSERT_TRUE(c.WaitDone());
  EXPECT_EQ(c.last().finish_reason, FinishReason::kAborted);
  EXPECT_TRUE(worker.WaitUntilIdle(absl::Seconds(5)));
  EXPECT_EQ(worker.aborted(), std::vector<std::string>{"x"});
}

TEST(FakeWorkerClient, FailuresAndReadiness) {
  FakeWorkerClient worker({});
  worker.SetReady(false);
  EventCollector unused;
  EXPECT_TRUE(absl::IsUnavailable(worker.Submit(Request("a", {1}, 3), unused.Sink())));
  worker.SetReady(true);
  worker.SetSubmitError(absl::ResourceExhaustedError("full"));
  EXPECT_TRUE(absl::IsResourceExhausted(worker.Submit(Request("a", {1}, 3), unused.Sink())));
  worker.SetSubmitError(absl::OkStatus());
  worker.SetPaused(true);
  EventCollector c;
  ASSERT_TRUE(worker.Submit(Request("b", {1}, 3), c.Sink()).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(worker.Submit(Request("b", {1}, 3), unused.Sink())));
  worker.FailRunning(absl::InternalError("boom"));
  ASSERT_TRUE(c.WaitDone());
  EXPECT_TRUE(absl::IsInternal(c.last().status));
  EXPECT_TRUE(unused.events().empty());
}

TEST(FakeWorkerClient, LoadCountsRequestsAndRemembersPrefixes) {
  FakeWorkerClient worker({});
  worker.SetPaused(true);
  std::vector<int32_t> prompt(40, 3);
  EventCollector c;
  ASSERT_TRUE(worker.Submit(Request("a", prompt, 5), c.Sink()).ok());
  LoadReport report = worker.load();
  EXPECT_EQ(report.waiting_requests, 1);
  EXPECT_EQ(report.queued_tokens, 40);
  EXPECT_EQ(report.free_kv_blocks, report.total_kv_blocks - 3);
  for (uint64_t h : PrefixBlockHashes(prompt, 8)) EXPECT_TRUE(report.recent_prefixes.contains(h));
  worker.Abort("a");
  ASSERT_TRUE(c.WaitDone());
}

TEST(FakeWorkerClient, DestructorAbortsWhatIsLeft) {
  EventCollector c;
  {
    FakeWorkerClient worker({});
    worker.SetPaused(true);
    ASSERT_TRUE(worker.Submit(Request("a", {1}, 5), c.Sink()).ok());
  }
  EXPECT_EQ(c.terminal_count(), 1);
  EXPECT_EQ(c.last().finish_reason, FinishReason::kAborted);
}

}  // namespace
}  // namespace moeserve::router
