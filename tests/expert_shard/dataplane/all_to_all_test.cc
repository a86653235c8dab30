// The data-plane all-to-all (RemoteDispatcher + ShardServers over the in-process transport,
// on threads) against LocalDispatcher on the golden MoE checkpoint: outputs must be
// bit-identical for any number of shards, workers and any placement.
#include <barrier>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/transport_inproc.h"
#include "engine/local_dispatcher.h"
#include "tests/expert_shard/dataplane/cluster.h"
#include "worker/remote_dispatcher.h"

namespace moeserve {
namespace {

using testutil::RoutedBatch;
using testutil::ShardNode;

class AllToAllTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto config = LoadModelConfig(testutil::kGoldenMoe);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = new ModelConfig(*config);
    auto tensors = TensorStore::Open(testutil::kGoldenMoe);
    ASSERT_TRUE(tensors.ok()) << tensors.status();
    tensors_ = tensors->release();
  }
  static void TearDownTestSuite() {
    delete tensors_;
    delete config_;
  }

  void SetUp() override {
    auto backend = kernels::MakeCpuBackend(nullptr);
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
    auto store =
        ExpertStore::Load(*config_, *tensors_, std::vector<bool>(config_->num_experts, true));
    ASSERT_TRUE(store.ok());
    all_experts_ = std::move(*store);
    compute_ = std::make_unique<ExpertCompute>(*config_, all_experts_.get(), backend_.get());
    local_ = std::make_unique<LocalDispatcher>(compute_.get());
    fabric_ = std::make_shared<InProcessFabric>();
  }

  // The reference output for `batch`.
  std::vector<double> Reference(const RoutedBatch& batch) {
    std::vector<double> out;
    EXPECT_TRUE(local_->Run(batch.View(&out)).ok());
    return out;
  }

  void StartShards(std::span<const int32_t> placement, int num_shards,
                   ShardServerOptions options = {}) {
    for (int s = 0; s < num_shards; ++s) {
      shards_.push_back(ShardNode::Make(*config_, *tensors_, placement, s,
                                        MakeInProcessTransport(fabric_), options));
      ASSERT_NE(shards_.back(), nullptr);
      shards_.back()->Start();
    }
  }

  struct Worker {
    std::unique_ptr<Transport> transport;
    std::unique_ptr<RemoteDispatcher> dispatcher;
  };
  Worker MakeWorker(uint32_t rank, std::vector<int32_t> placement,
                    absl::Duration timeout = absl::Seconds(20)) {
    Worker w;
    w.transport = MakeInProcessTransport(fabric_);
    RemoteDispatcherOptions options;
    options.rank = rank;
    options.num_experts = config_->num_experts;
    options.placement = std::move(placement);
    options.timeout = timeout;
    options.spin_polls = 200;
    for (auto& shard : shards_) {
      auto peer = w.transport->Connect(shard->transport->LocalAddress());
      EXPECT_TRUE(peer.ok()) << peer.status();
      options.shards.push_back(*peer);
    }
    auto d = RemoteDispatcher::Create(w.transport.get(), options);
    EXPECT_TRUE(d.ok()) << d.status();
    if (d.ok()) w.dispatcher = std::move(*d);
    return w;
  }

  // Each of `workers` workers runs a sequence of batches on its own thread and compares every
  // output with the reference bit for bit.
  void RunAndCompare(std::vector<int32_t> placement, int num_shards, int workers) {
    StartShards(placement, num_shards);
    struct Case {
      RoutedBatch batch;
      std::vector<double> expected;
    };
    std::vector<std::vector<Case>> cases(workers);
    int64_t rows = 0;
    for (int w = 0; w < workers; ++w) {
      uint32_t seed = 100 * w;
      for (int64_t tokens : {1, 5, 33, 64}) {
        for (int64_t layer = 0; layer < config_->num_hidden_layers; ++layer) {
          Case c{RoutedBatch::Make(*config_, layer, tokens, w, ++seed), {}};
          c.expected = Reference(c.batch);
          cases[w].push_back(std::move(c));
        }
      }
    }
    std::vector<Worker> ws;
    for (int w = 0; w < workers; ++w) ws.push_back(MakeWorker(w, placement));
    std::vector<std::thread> threads;
    std::vector<int> mismatches(workers, 0);
    std::vector<absl::Status> errors(workers);
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        for (const Case& c : cases[w]) {
          std::vector<double> out;
          absl::Status s = ws[w].dispatcher->Run(c.batch.View(&out));
          if (!s.ok()) {
            errors[w] = s;
            return;
          }
          if (std::memcmp(out.data(), c.expected.data(), out.size() * sizeof(double)) != 0) {
            ++mismatches[w];
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int w = 0; w < workers; ++w) {
      EXPECT_TRUE(errors[w].ok()) << "worker " << w << ": " << errors[w];
      EXPECT_EQ(mismatches[w], 0) << "worker " << w;
      rows += ws[w].dispatcher->stats().rows_sent;
    }
    int64_t checked = 0, served = 0;
    for (auto& shard : shards_) {
      shard->StopAndJoin();
      EXPECT_TRUE(shard->served.ok()) << shard->served;
      EXPECT_EQ(shard->tap->bad_rows(), 0);
      checked += shard->tap->rows_checked();
      const ShardServerStats stats = shard->server->stats();
      served += stats.rows;
      EXPECT_EQ(stats.rejected, 0);
      EXPECT_GE(stats.rows_per_call(), 1.0);
    }
    EXPECT_EQ(checked, rows);  // every row reached a shard with its origin intact
    EXPECT_EQ(served, rows);
  }

  static ModelConfig* config_;
  static TensorStore* tensors_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<ExpertStore> all_experts_;
  std::unique_ptr<ExpertCompute> compute_;
  std::unique_ptr<LocalDispatcher> local_;
  std::shared_ptr<InProcessFabric> fabric_;
  std::vector<std::unique_ptr<ShardNode>> shards_;  // after fabric_: destroyed first
};
ModelConfig* AllToAllTest::config_ = nullptr;
TensorStore* AllToAllTest::tensors_ = nullptr;

class AllToAllShapes : public AllToAllTest,
                       public ::testing::WithParamInterface<std::tuple<int, int>> {};

TEST_P(AllToAllShapes, BitIdenticalToLocalDispatcher) {
  const auto [num_shards, workers] = GetParam();
  RunAndCompare(a2a::EvenPlacement(config_->num_experts, num_shards), num_shards, workers);
}

INSTANTIATE_TEST_SUITE_P(ShardsTimesWorkers, AllToAllShapes,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return absl::StrCat(std::get<0>(info.param), "shards_",
                                               std::get<1>(info.param), "workers");
                         });

TEST_F(AllToAllTest, UnevenExplicitPlacement) {
  // Shard 2 hosts one expert, shard 1 every third one, shard 0 the rest.
  std::vector<int32_t> placement(config_->num_experts, 0);
  for (int e = 0; e < config_->num_experts; e += 3) placement[e] = 1;
  placement[127] = 2;
  RunAndCompare(placement, 3, 2);
}

TEST_F(AllToAllTest, WorkersShareExpertBatches) {
  // Two workers in lockstep, with a batch window: the shard runs each layer once over both
  // workers' rows.
  ShardServerOptions options;
  options.batch_window = absl::Milliseconds(200);
  const auto placement = a2a::EvenPlacement(config_->num_experts, 1);
  StartShards(placement, 1, options);
  std::vector<Worker> ws;
  for (uint32_t w = 0; w < 2; ++w) ws.push_back(MakeWorker(w, placement));
  std::barrier sync(2);
  std::vector<absl::Status> errors(2);
  std::vector<std::thread> threads;
  for (uint32_t w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 4; ++i) {
        RoutedBatch batch = RoutedBatch::Make(*config_, i % 2, 4, w, 7 + i);
        std::vector<double> out;
        sync.arrive_and_wait();
        absl::Status s = ws[w].dispatcher->Run(batch.View(&out));
        if (!s.ok()) errors[w] = s;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_TRUE(e.ok()) << e;
  const ShardServerStats stats = shards_[0]->server->stats();
  EXPECT_EQ(stats.messages, 8);
  EXPECT_GE(stats.multi_source_calls, 1);
  EXPECT_EQ(stats.max_messages_per_call, 2);
  EXPECT_LT(stats.expert_calls, 8);
  EXPECT_GT(stats.rows_per_call(), 4.0);
}

TEST_F(AllToAllTest, DeadShardIsUnavailableNamingIt) {
  const auto placement = a2a::EvenPlacement(config_->num_experts, 2);
  StartShards(placement, 2);
  Worker w = MakeWorker(0, placement);
  RoutedBatch batch = RoutedBatch::Make(*config_, 0, 8, 0, 1);
  std::vector<double> out;
  ASSERT_TRUE(w.dispatcher->Run(batch.View(&out)).ok());
  shards_[1].reset();  // server and transport gone
  const absl::Time start = absl::Now();
  absl::Status s = w.dispatcher->Run(batch.View(&out));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("expert shard 1"), std::string::npos) << s;
}

TEST_F(AllToAllTest, LateShardIsDeadlineExceededThenRecovers) {
  const auto placement = a2a::EvenPlacement(config_->num_experts, 2);
  StartShards(placement, 2);
  shards_[1]->StopAndJoin();  // alive but not serving
  Worker w = MakeWorker(0, placement, absl::Milliseconds(300));
  RoutedBatch batch = RoutedBatch::Make(*config_, 1, 8, 0, 1);
  const std::vector<double> expected = Reference(batch);
  std::vector<double> out;
  const absl::Time start = absl::Now();
  absl::Status s = w.dispatcher->Run(batch.View(&out));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_NE(s.message().find("expert shard 1"), std::string::npos) << s;
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_LT(took, absl::Seconds(2));
  // The shard comes back: it answers the stale dispatch too; the next Run drops that answer.
  shards_[1]->Start();
  s = w.dispatcher->Run(batch.View(&out));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(std::memcmp(out.data(), expected.data(), out.size() * sizeof(double)), 0);
  EXPECT_EQ(w.dispatcher->stats().stale_replies, 1);
}

TEST_F(AllToAllTest, ShardRejectionReachesTheWorker) {
  // The worker believes shard 0 hosts every expert; shard 0 hosts only the first half.
  const auto two = a2a::EvenPlacement(config_->num_experts, 2);
  StartShards(two, 1);
  Worker w = MakeWorker(0, a2a::EvenPlacement(config_->num_experts, 1));
  RoutedBatch batch = RoutedBatch::Make(*config_, 0, 8, 0, 3);
  std::vector<double> out;
  absl::Status s = w.dispatcher->Run(batch.View(&out));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("not hosted on shard 0"), std::string::npos) << s;
  EXPECT_NE(s.message().find("expert shard 0"), std::string::npos) << s;
}

TEST_F(AllToAllTest, RejectsBadOptionsAndBatches) {
  auto t = MakeInProcessTransport(fabric_);
  RemoteDispatcherOptions options;
  options.num_experts = 128;
  EXPECT_TRUE(absl::IsInvalidArgument(RemoteDispatcher::Create(t.get(), options).status()));
  options.shards = {5};
  EXPECT_TRUE(absl::IsInvalidArgument(RemoteDispatcher::Create(t.get(), options).status()));
  auto other = MakeInProcessTransport(fabric_);
  options.shards = {*t->Connect(other->LocalAddress())};
  options.placement = std::vector<int32_t>(128, 1);  // shard 1 of 1
  EXPECT_TRUE(absl::IsInvalidArgument(RemoteDispatcher::Create(t.get(), options).status()));
  options.placement.clear();
  options.timeout = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(RemoteDispatcher::Create(t.get(), options).status()));
  options.timeout = absl::Seconds(1);
  auto d = RemoteDispatcher::Create(t.get(), options);
  ASSERT_TRUE(d.ok());
  RoutedBatch batch = RoutedBatch::Make(*config_, 0, 2, 0, 1);
  batch.ids[3] = 128;
  std::vector<double> out;
  absl::Status s = (*d)->Run(batch.View(&out));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  MoeLayerBatch empty = batch.View(&out);
  empty.tokens = 0;
  EXPECT_TRUE((*d)->Run(empty).ok());
}

}  // namespace
}  // namespace moeserve
