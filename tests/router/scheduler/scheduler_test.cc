#include "router/scheduler/scheduler.h"

#include <numeric>

#include "gtest/gtest.h"
#include "tests/router/scheduler/fake_worker_client.h"
#include "common/prefix_hash.h"
#include "tests/router/scheduler/event_collector.h"

namespace moeserve::router {
namespace {

using testing::EventCollector;

WorkerRequest Request(std::string id, std::vector<int32_t> prompt, int max_tokens = 4) {
  WorkerRequest r;
  r.request_id = std::move(id);
  r.prompt_ids = std::move(prompt);
  r.max_tokens = max_tokens;
  return r;
}

std::vector<int32_t> Prompt(int tokens, int32_t first) {
  std::vector<int32_t> ids(tokens);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

template <typename Pred>
bool Eventually(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return pred();
}

WorkerView View(int64_t load, int64_t free_blocks = 100) {
  WorkerView v;
  v.available = true;
  v.load_tokens = load;
  v.free_kv_blocks = free_blocks;
  v.total_kv_blocks = 100;
  return v;
}

// ---- The pure rule ----

TEST(PickWorker, LeastLoadedAvailableWorker) {
  SchedulerOptions o;
  std::vector<WorkerView> views = {View(500), View(100), View(300)};
  EXPECT_EQ(PickWorker(views, {}, 10, o).worker, 1);
  views[1].available = false;
  EXPECT_EQ(PickWorker(views, {}, 10, o).worker, 2);
  for (auto& v : views) v.available = false;
  EXPECT_EQ(PickWorker(views, {}, 10, o).worker, -1);
  EXPECT_EQ(PickWorker({}, {}, 10, o).worker, -1);
}

TEST(PickWorker, TiesGoToMoreFreeKvThenRoundRobin) {
  SchedulerOptions o;
  std::vector<WorkerView> views = {View(0, 10), View(0, 50), View(0, 50)};
  EXPECT_EQ(PickWorker(views, {}, 10, o, 0).worker, 1);
  EXPECT_EQ(PickWorker(views, {}, 10, o, 2).worker, 2);
}

TEST(PickWorker, WorkerWithoutKvRoomIsAvoided) {
  SchedulerOptions o;
  std::vector<WorkerView> views = {View(0, 1), View(5000, 100)};  // 1 block = 16 tokens.
  EXPECT_EQ(PickWorker(views, {}, 100, o).worker, 1);
  EXPECT_EQ(PickWorker(views, {}, 10, o).worker, 0);
}

TEST(PickWorker, PrefixAffinityWithinTheLoadRule) {
  SchedulerOptions o;  // ratio 1.5, slack 2048.
  const absl::flat_hash_set<uint64_t> cached = {11, 22, 33};
  std::vector<WorkerView> views = {View(1000), View(3000)};
  views[1].recent_prefixes = &cached;
  const std::vector<uint64_t> prompt = {11, 22, 44};  // Two leading blocks cached on worker 1.
  // 3000 <= 1.5 * 1000 + 2048 + 32: affinity wins.
  WorkerPick pick = PickWorker(views, prompt, 48, o);
  EXPECT_EQ(pick.worker, 1);
  EXPECT_TRUE(pick.by_affinity);
  EXPECT_EQ(pick.matched_blocks, 2);
  // Much more loaded: the least-loaded worker wins.
  views[1].load_tokens = 4000;
  pick = PickWorker(views, prompt, 48, o);
  EXPECT_EQ(pick.worker, 0);
  EXPECT_FALSE(pick.by_affinity);
  // Only leading blocks count: a cached second block alone is no match.
  views[1].load_tokens = 1001;
  EXPECT_EQ(PickWorker(views, std::vector<uint64_t>{99, 22}, 48, o).worker, 0);
  // The longest match wins among matching workers.
  const absl::flat_hash_set<uint64_t> shorter = {11};
  views[0].recent_prefixes = &shorter;
  views[0].load_tokens = 1500;
  pick = PickWorker(views, prompt, 48, o);
  EXPECT_EQ(pick.worker, 1);
  EXPECT_EQ(pick.matched_blocks, 2);
}

TEST(SchedulerOptions, Validate) {
  EXPECT_TRUE(SchedulerOptions{}.Validate().ok());
  SchedulerOptions o;
  o.max_waiting = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.affinity_load_ratio = 0.5;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.poll_interval = absl::ZeroDuration();
  EXPECT_FALSE(o.Validate().ok());
}

// ---- The owner thread with fake workers ----

struct Cluster {
  explicit Cluster(int n, SchedulerOptions options = {}) {
    std::vector<std::shared_ptr<WorkerClient>> clients;
    for (int i = 0; i < n; ++i) {
      FakeWorkerOptions o;
      o.name = "fake-" + std::to_string(i);
      workers.push_back(std::make_shared<FakeWorkerClient>(o));
      clients.push_back(workers.back());
    }
    scheduler = std::make_unique<Scheduler>(clients, options);
  }
  int WorkerOf(const std::string& id) const {
    for (size_t w = 0; w < workers.size(); ++w) {
      for (const std::string& s : workers[w]->submitted()) {
        if (s == id) return static_cast<int>(w);
      }
    }
    return -1;
  }
  bool Drained() const {
    const Scheduler::Stats s = scheduler->stats();
    if (s.waiting != 0 || s.inflight != 0) return false;
    for (const auto& w : workers) {
      if (w->active() != 0) return false;
    }
    return true;
  }
  std::vector<std::shared_ptr<FakeWorkerClient>> workers;
  std::unique_ptr<Scheduler> scheduler;
};

TEST(Scheduler, RunsRequestsToCompletion) {
  Cluster cluster(2);
  std::vector<EventCollector> collectors(8);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(
        cluster.scheduler
            ->Submit(Request("r" + std::to_string(i), Prompt(5, i * 10), 3), collectors[i].Sink())
            .ok());
  }
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(collectors[i].WaitDone());
    EXPECT_EQ(collectors[i].tokens(), cluster.workers[0]->ExpectedTokens(Prompt(5, i * 10), 3));
    EXPECT_EQ(collectors[i].terminal_count(), 1);
  }
  EXPECT_TRUE(Eventually([&] { return cluster.Drained(); }));
  EXPECT_EQ(cluster.scheduler->stats().dispatched, 8);
  // Both workers were used.
  EXPECT_GT(cluster.workers[0]->submitted().size(), 0u);
  EXPECT_GT(cluster.workers[1]->submitted().size(), 0u);
}

TEST(Scheduler, PicksTheLeastLoadedWorker) {
  Cluster cluster(3);
  LoadReport busy;
  busy.running_tokens = 10000;
  cluster.workers[0]->SetLoadOverride(busy);
  cluster.workers[2]->SetLoadOverride(busy);
  EventCollector c;
  ASSERT_TRUE(cluster.scheduler->Submit(Request("a", Prompt(4, 1)), c.Sink()).ok());
  ASSERT_TRUE(c.WaitDone());
  EXPECT_EQ(cluster.WorkerOf("a"), 1);
}

TEST(Scheduler, PrefersTheWorkerHoldingThePrefix) {
  Cluster cluster(4);
  const std::vector<int32_t> shared = Prompt(64, 1000);
  EventCollector first;
  ASSERT_TRUE(cluster.scheduler->Submit(Request("first", shared), first.Sink()).ok());
  ASSERT_TRUE(first.WaitDone());
  const int home = cluster.WorkerOf("first");
  ASSERT_GE(home, 0);
  // The home worker is somewhat busier, but within the rule.
  LoadReport report = cluster.workers[home]->load();
  report.running_tokens = 1000;
  cluster.workers[home]->SetLoadOverride(report);
  for (int i = 0; i < 3; ++i) {
    std::vector<int32_t> prompt = shared;
    prompt.push_back(i);  // Same leading blocks, different tail.
    EventCollector c;
    const std::string id = "again" + std::to_string(i);
    ASSERT_TRUE(cluster.scheduler->Submit(Request(id, prompt), c.Sink()).ok());
    ASSERT_TRUE(c.WaitDone());
    EXPECT_EQ(cluster.WorkerOf(id), home);
  }
  EXPECT_EQ(cluster.scheduler->stats().by_affinity, 3);
  // Far busier: affinity gives way.
  report.running_tokens = 100000;
  cluster.workers[home]->SetLoadOverride(report);
  EventCollector c;
  ASSERT_TRUE(cluster.scheduler->Submit(Request("elsewhere", shared), c.Sink()).ok());
  ASSERT_TRUE(c.WaitDone());
  EXPECT_NE(cluster.WorkerOf("elsewhere"), home);
}

TEST(Scheduler, BoundedQueueRejectsAtOnce) {
  SchedulerOptions options;
  options.max_inflight_per_worker = 1;
  options.max_waiting = 2;
  Cluster cluster(1, options);
  cluster.workers[0]->SetPaused(true);
  std::vector<EventCollector> c(3);
  ASSERT_TRUE(cluster.scheduler->Submit(Request("run", Prompt(4, 1)), c[0].Sink()).ok());
  ASSERT_TRUE(Eventually([&] { return cluster.scheduler->stats().inflight == 1; }));
  ASSERT_TRUE(cluster.scheduler->Submit(Request("w1", Prompt(4, 2)), c[1].Sink()).ok());
  ASSERT_TRUE(cluster.scheduler->Submit(Request("w2", Prompt(4, 3)), c[2].Sink()).ok());
  EventCollector rejected;
  const absl::Status full = cluster.scheduler->Submit(Request("w3", Prompt(4, 4)), rejected.Sink());
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_TRUE(rejected.events().empty());
  EXPECT_EQ(cluster.scheduler->stats().waiting, 2);
  cluster.workers[0]->SetPaused(false);
  for (auto& collector : c) {
    ASSERT_TRUE(collector.WaitDone());
    EXPECT_EQ(collector.last().finish_reason, FinishReason::kLength);
  }
  EXPECT_TRUE(Eventually([&] { return cluster.Drained(); }));
}

TEST(Scheduler, CancelWaitingAndRunningRequests) {
  SchedulerOptions options;
  options.max_inflight_per_worker = 1;
  Cluster cluster(1, options);
  cluster.workers[0]->SetPaused(true);
  EventCollector running, waiting;
  ASSERT_TRUE(
      cluster.scheduler->Submit(Request("running", Prompt(4, 1), 100), running.Sink()).ok());
  ASSERT_TRUE(Eventually([&] { return cluster.scheduler->stats().inflight == 1; }));
  ASSERT_TRUE(
      cluster.scheduler->Submit(Request("waiting", Prompt(4, 2), 100), waiting.Sink()).ok());
  cluster.scheduler->Cancel("waiting");
  ASSERT_TRUE(waiting.WaitDone());
  EXPECT_EQ(waiting.last().finish_reason, FinishReason::kAborted);
  cluster.scheduler->Cancel("running");
  cluster.scheduler->Cancel("nobody");
  ASSERT_TRUE(running.WaitDone());
  EXPECT_EQ(running.last().finish_reason, FinishReason::kAborted);
  EXPECT_EQ(cluster.workers[0]->aborted(), std::vector<std::string>{"running"});
  EXPECT_EQ(cluster.WorkerOf("waiting"), -1);  // Never reached a worker.
  EXPECT_TRUE(Eventually([&] { return cluster.Drained(); }));
  EXPECT_EQ(running.terminal_count(), 1);
  EXPECT_EQ(waiting.terminal_count(), 1);
}

TEST(Scheduler, SkipsWorkersThatAreNotReady) {
  Cluster cluster(3);
  cluster.workers[0]->SetReady(false);
  cluster.workers[2]->SetReady(false);
  std::vector<EventCollector> c(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        cluster.scheduler->Submit(Request("r" + std::to_string(i), Prompt(3, i)), c[i].Sink())
            .ok());
  }
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c[i].WaitDone());
    EXPECT_EQ(cluster.WorkerOf("r" + std::to_string(i)), 1);
  }
}

TEST(Scheduler, RefusedSubmitGoesToAnotherWorker) {
  Cluster cluster(2);
  cluster.workers[0]->SetSubmitError(absl::UnavailableError("draining"));
  LoadReport busy;
  busy.running_tokens = 100;
  cluster.workers[1]->SetLoadOverride(busy);  // Worker 0 looks better but refuses.
  EventCollector c;
  ASSERT_TRUE(cluster.scheduler->Submit(Request("a", Prompt(3, 1)), c.Sink()).ok());
  ASSERT_TRUE(c.WaitDone());
  EXPECT_EQ(c.last().finish_reason, FinishReason::kLength);
  EXPECT_EQ(cluster.WorkerOf("a"), 1);
}

TEST(Scheduler, AllWorkersDown) {
  SchedulerOptions options;
  options.max_inflight_per_worker = 1;
  Cluster cluster(2, options);
  for (auto& w : cluster.workers) w->SetPaused(true);
  std::vector<EventCollector> running(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(cluster.scheduler
                    ->Submit(Request("run" + std::to_string(i), Prompt(3, i)), running[i].Sink())
                    .ok());
  }
  ASSERT_TRUE(Eventually([&] { return cluster.scheduler->stats().inflight == 2; }));
  EventCollector waiting;
  ASSERT_TRUE(cluster.scheduler->Submit(Request("wait", Prompt(3, 9)), waiting.Sink()).ok());
  for (auto& w : cluster.workers) {
    w->SetReady(false);
    w->FailRunning(absl::UnavailableError("worker lost"));
  }
  ASSERT_TRUE(waiting.WaitDone());
  EXPECT_TRUE(absl::IsUnavailable(waiting.last().status));
  for (auto& c : running) {
    ASSERT_TRUE(c.WaitDone());
    EXPECT_TRUE(absl::IsUnavailable(c.last().status));
  }
  EventCollector refused;
  EXPECT_TRUE(absl::IsUnavailable(
      cluster.scheduler->Submit(Request("late", Prompt(3, 1)), refused.Sink())));
  EXPECT_TRUE(Eventually([&] { return cluster.Drained(); }));
}

TEST(Scheduler, RejectsBadRequests) {
  Cluster cluster(1);
  EventCollector c;
  EXPECT_TRUE(absl::IsInvalidArgument(cluster.scheduler->Submit(Request("", {1}), c.Sink())));
  EXPECT_TRUE(absl::IsInvalidArgument(cluster.scheduler->Submit(Request("a", {}), c.Sink())));
  cluster.workers[0]->SetPaused(true);
  ASSERT_TRUE(cluster.scheduler->Submit(Request("dup", {1}), c.Sink()).ok());
  EventCollector dup;
  ASSERT_TRUE(cluster.scheduler->Submit(Request("dup", {2}), dup.Sink()).ok());
  ASSERT_TRUE(dup.WaitDone());
  EXPECT_TRUE(absl::IsAlreadyExists(dup.last().status));
  cluster.workers[0]->SetPaused(false);
  ASSERT_TRUE(c.WaitDone());
}

TEST(Scheduler, DestructorEndsEveryRequest) {
  SchedulerOptions options;
  options.max_inflight_per_worker = 1;
  auto worker = std::make_shared<FakeWorkerClient>(FakeWorkerOptions{});
  worker->SetPaused(true);
  EventCollector running, waiting;
  {
    Scheduler scheduler({worker}, options);
    ASSERT_TRUE(scheduler.Submit(Request("run", {1}, 100), running.Sink()).ok());
    ASSERT_TRUE(Eventually([&] { return scheduler.stats().inflight == 1; }));
    ASSERT_TRUE(scheduler.Submit(Request("wait", {2}, 100), waiting.Sink()).ok());
  }
  ASSERT_TRUE(waiting.WaitDone());
  EXPECT_TRUE(absl::IsUnavailable(waiting.last().status));
  ASSERT_TRUE(running.WaitDone());
  EXPECT_EQ(running.last().finish_reason, FinishReason::kAborted);
  EXPECT_TRUE(worker->WaitUntilIdle(absl::Seconds(5)));
}

}  // namespace
}  // namespace moeserve::router
