// ShardServer on its own: every malformed dispatch is dropped with an error answer to its
// sender, the loop carries on, and answers echo tags and sequence. Driven with Poll on the test
// thread, over the in-process transport.
#include "expert_shard/shard_server.h"

#include <cstring>

#include "common/transport_inproc.h"
#include "tests/expert_shard/dataplane/cluster.h"

namespace moeserve {
namespace {

using testutil::RoutedBatch;

class ShardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadModelConfig(testutil::kGoldenMoe);
    ASSERT_TRUE(config.ok());
    config_ = *config;
    auto tensors = TensorStore::Open(testutil::kGoldenMoe);
    ASSERT_TRUE(tensors.ok());
    tensors_ = std::move(*tensors);
    auto fabric = std::make_shared<InProcessFabric>();
    placement_ = a2a::EvenPlacement(config_.num_experts, 2);
    node_ = testutil::ShardNode::Make(config_, *tensors_, placement_, 1,
                                      MakeInProcessTransport(fabric));
    ASSERT_NE(node_, nullptr);
    worker_ = MakeInProcessTransport(fabric);
    shard_ = *worker_->Connect(node_->transport->LocalAddress());
  }

  // A well-formed dispatch for shard 1 of 2 from `batch`, rows that have a slot on shard 1.
  std::vector<std::byte> Dispatch(const RoutedBatch& batch, uint64_t sequence,
                                  std::vector<int32_t>* tokens) {
    const int64_t k = batch.top_k, h = batch.hidden;
    tokens->clear();
    for (int64_t t = 0; t < batch.tokens; ++t) {
      for (int64_t s = 0; s < k; ++s) {
        if (placement_[batch.ids[t * k + s]] == 1) {
          tokens->push_back(t);
          break;
        }
      }
    }
    a2a::Header header;
    header.source_rank = 0;
    header.shard = 1;
    header.sequence = sequence;
    header.layer = batch.layer;
    header.rows = static_cast<int64_t>(tokens->size());
    header.hidden = h;
    header.top_k = k;
    std::vector<std::byte> message;
    a2a::MutableDispatchView m = a2a::StartDispatch(header, &message);
    for (size_t i = 0; i < tokens->size(); ++i) {
      const int64_t t = (*tokens)[i];
      m.tags[i] = {0, static_cast<uint32_t>(t)};
      std::memcpy(m.x + i * h, batch.x.data() + t * h, h * sizeof(float));
      for (int64_t s = 0; s < k; ++s) {
        const bool here = placement_[batch.ids[t * k + s]] == 1;
        m.ids[i * k + s] = here ? batch.ids[t * k + s] : -1;
        m.weights[i * k + s] = here ? batch.weights[t * k + s] : 0.0f;
      }
    }
    return message;
  }

  // Sends `message` to the shard and returns its answer (polling the server here).
  std::vector<std::byte> Exchange(const std::vector<std::byte>& message) {
    std::vector<std::byte> answer;
    auto recv = worker_->Irecv(a2a::kCombineTag, ~0u, &answer);
    auto send = worker_->Isend(shard_, a2a::kDispatchTag, message);
    EXPECT_TRUE(recv.ok() && send.ok());
    Completion done;
    for (int i = 0; i < 100000 && !worker_->Test(*recv, &done); ++i) {
      auto polled = node_->server->Poll();
      EXPECT_TRUE(polled.ok()) << polled.status();
    }
    EXPECT_TRUE(done.status.ok()) << done.status;
    EXPECT_TRUE(worker_->Test(*send, &done));
    return answer;
  }

  absl::Status AnswerStatus(const std::vector<std::byte>& message) {
    return a2a::ParseCombine(Exchange(message)).status();
  }

  ModelConfig config_;
  std::unique_ptr<TensorStore> tensors_;
  std::vector<int32_t> placement_;
  std::unique_ptr<testutil::ShardNode> node_;
  std::unique_ptr<Transport> worker_;
  PeerId shard_ = -1;
};

TEST_F(ShardServerTest, AnswersEchoTagsAndMatchTheLocalCompute) {
  RoutedBatch batch = RoutedBatch::Make(config_, 1, 16, 0, 5);
  std::vector<int32_t> tokens;
  auto answer = Exchange(Dispatch(batch, 9, &tokens));
  auto c = a2a::ParseCombine(answer);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->header.sequence, 9u);
  EXPECT_EQ(c->header.shard, 1u);
  EXPECT_EQ(c->header.layer, 1);
  ASSERT_EQ(c->header.rows, static_cast<int64_t>(tokens.size()));
  // Expected: ExpertCompute over the same shard's experts on the whole batch.
  std::vector<double> out;
  ASSERT_TRUE(node_->compute->Run(batch.View(&out)).ok());
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(c->tags[i].token, static_cast<uint32_t>(tokens[i]));
    EXPECT_EQ(std::memcmp(c->partial + i * batch.hidden, out.data() + tokens[i] * batch.hidden,
                          batch.hidden * sizeof(double)),
              0)
        << "row " << i;
  }
  const ShardServerStats stats = node_->server->stats();
  EXPECT_EQ(stats.messages, 1);
  EXPECT_EQ(stats.rows, static_cast<int64_t>(tokens.size()));
  EXPECT_EQ(stats.expert_calls, 1);
  EXPECT_EQ(node_->tap->bad_rows(), 0);
}

TEST_F(ShardServerTest, RejectsMalformedDispatchesAndKeepsServing) {
  RoutedBatch batch = RoutedBatch::Make(config_, 0, 8, 0, 6);
  std::vector<int32_t> tokens;
  const std::vector<std::byte> good = Dispatch(batch, 1, &tokens);
  auto with_header = [&](auto edit) {
    std::vector<std::byte> m = good;
    a2a::Header h;
    std::memcpy(&h, m.data(), sizeof(h));
    edit(h);
    std::memcpy(m.data(), &h, sizeof(h));
    return m;
  };
  const int64_t k = batch.top_k, hidden = batch.hidden;
  auto ids_at = [&](std::vector<std::byte>& m) {
    return reinterpret_cast<int32_t*>(m.data() + 64 + tokens.size() * 8 +
                                      tokens.size() * hidden * 4);
  };
  struct Bad {
    const char* what;
    std::vector<std::byte> message;
    const char* expect;  // in the error message
  };
  std::vector<Bad> bad;
  bad.push_back({"magic", with_header([](a2a::Header& h) { h.magic = 1; }), "bad magic"});
  bad.push_back({"version", with_header([](a2a::Header& h) { h.version = 9; }), "version 9"});
  bad.push_back({"short", std::vector<std::byte>(good.begin(), good.end() - 4), "declares"});
  bad.push_back({"tiny", std::vector<std::byte>(10), "shorter than its header"});
  bad.push_back({"layer", with_header([](a2a::Header& h) { h.layer = 7; }), "layer 7"});
  bad.push_back({"shard", with_header([](a2a::Header& h) { h.shard = 0; }), "this is shard 1"});
  {
    std::vector<std::byte> m = Dispatch(RoutedBatch::Make(config_, 0, 8, 0, 6), 1, &tokens);
    a2a::Header h;
    std::memcpy(&h, m.data(), sizeof(h));
    h.hidden = 32;
    h.rows = 1;
    std::vector<std::byte> shrunk;
    a2a::StartDispatch(h, &shrunk);  // consistent size, wrong hidden
    bad.push_back({"hidden", shrunk, "hidden 32"});
  }
  {
    std::vector<std::byte> m = good;
    ids_at(m)[0] = 3;  // expert 3 lives on shard 0
    ids_at(m)[1] = 3;
    bad.push_back({"foreign expert", m, "not hosted on shard 1"});
  }
  {
    std::vector<std::byte> m = good;
    ids_at(m)[k] = 500;
    bad.push_back({"expert range", m, "expert 500"});
  }
  {
    std::vector<std::byte> m = good;
    for (int64_t s = 0; s < k; ++s) ids_at(m)[s] = -1;
    bad.push_back({"no hosted slot", m, "no slot hosted here"});
  }
  {
    std::vector<std::byte> m = good;
    auto* tags = reinterpret_cast<a2a::RowTag*>(m.data() + 64);
    tags[1].source_rank = 5;
    bad.push_back({"foreign row", m, "rank 5"});
  }
  {
    std::vector<std::byte> m = good;
    auto* tags = reinterpret_cast<a2a::RowTag*>(m.data() + 64);
    std::swap(tags[0], tags[1]);
    bad.push_back({"order", m, "must ascend"});
  }
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    absl::Status s = AnswerStatus(b.message);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(b.expect), std::string::npos) << s;
    EXPECT_NE(s.message().find("expert shard 1"), std::string::npos) << s;
  }
  EXPECT_TRUE(a2a::ParseCombine(Exchange(good)).ok());
  const ShardServerStats stats = node_->server->stats();
  EXPECT_EQ(stats.rejected, static_cast<int64_t>(bad.size()));
  EXPECT_EQ(stats.messages, 1);
}

TEST_F(ShardServerTest, StopEndsServe) {
  node_->Start();
  node_->StopAndJoin();
  EXPECT_TRUE(node_->served.ok()) << node_->served;
}

TEST_F(ShardServerTest, ServeReturnsTheAbortReason) {
  node_->transport->Abort(absl::AbortedError("shutting down"));
  EXPECT_TRUE(absl::IsAborted(node_->server->Serve()));
}

TEST_F(ShardServerTest, RejectsBadOptions) {
  ShardServerOptions options;
  options.posted_receives = 0;
  EXPECT_TRUE(
      absl::IsInvalidArgument(ShardServer::Create(config_, node_->store.get(), node_->compute.get(),
                                                  node_->transport.get(), options)
                                  .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ShardServer::Create(config_, nullptr, nullptr, nullptr, {}).status()));
}

}  // namespace
}  // namespace moeserve
