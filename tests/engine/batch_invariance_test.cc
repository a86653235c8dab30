// A sequence's logits are bit-identical whatever else is in the step and however its prompt is
// chunked (kernels/backend.h's batch-invariance contract, end to end through the model).
#include <cstring>
#include <random>

#include "engine/local_engine.h"
#include "gtest/gtest.h"

namespace moeserve {
namespace {

constexpr char kModel[] = MOESERVE_SOURCE_DIR "/tests/data/golden/moe128_top8";

class BatchInvarianceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalEngineOptions options;
    options.num_threads = 2;
    options.kv_cache_tokens = 4096;
    options.limits.max_context = 512;
    options.limits.max_tokens_per_step = 512;
    auto e = LocalEngine::Open(kModel, options);
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
    vocab_ = engine_->config().vocab_size;
  }

  std::vector<int32_t> RandomPrompt(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> p(n);
    for (int32_t& t : p) t = static_cast<int32_t>(rng() % vocab_);
    return p;
  }

  // Runs `prompt` through the runner in chunks of `chunk` tokens, alone; returns the last logits.
  std::vector<float> Alone(const std::vector<int32_t>& prompt, int64_t chunk) {
    BlockTable blocks(engine_->block_size());
    EXPECT_TRUE(blocks.Reserve(prompt.size(), *engine_->allocator()).ok());
    std::vector<float> logits(vocab_);
    for (size_t pos = 0; pos < prompt.size(); pos += chunk) {
      SequenceChunk c;
      c.token_ids = prompt.data() + pos;
      c.num_tokens = std::min<int64_t>(chunk, prompt.size() - pos);
      c.start_pos = pos;
      c.blocks = &blocks;
      c.want_logits = pos + c.num_tokens == prompt.size();
      EXPECT_TRUE(engine_->runner()->Forward({&c, 1}, logits.data()).ok());
    }
    blocks.Release(*engine_->allocator());
    return logits;
  }

  std::unique_ptr<LocalEngine> engine_;
  int64_t vocab_ = 0;
};

TEST_F(BatchInvarianceTest, ChunkingDoesNotChangeLogits) {
  const auto prompt = RandomPrompt(37, 1);
  const auto whole = Alone(prompt, 512);
  for (int64_t chunk : {1, 3, 8, 16, 36}) {
    const auto chunked = Alone(prompt, chunk);
    EXPECT_EQ(0, std::memcmp(whole.data(), chunked.data(), sizeof(float) * vocab_))
        << "chunk " << chunk;
  }
}

TEST_F(BatchInvarianceTest, NeighboursDoNotChangeLogits) {
  const auto a = RandomPrompt(29, 2), b = RandomPrompt(50, 3), c = RandomPrompt(5, 4);
  const auto a_alone = Alone(a, 512), b_alone = Alone(b, 512), c_alone = Alone(c, 512);

  // Prefill all three in one step, then decode all three together for a few steps, comparing
  // every step against each sequence decoded alone.
  std::vector<std::vector<int32_t>> seqs = {a, b, c};
  std::vector<BlockTable> tables(3, BlockTable(engine_->block_size()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(tables[i].Reserve(seqs[i].size() + 8, *engine_->allocator()).ok());
  }
  std::vector<SequenceChunk> chunks(3);
  for (int i = 0; i < 3; ++i) {
    chunks[i].token_ids = seqs[i].data();
    chunks[i].num_tokens = seqs[i].size();
    chunks[i].start_pos = 0;
    chunks[i].blocks = &tables[i];
    chunks[i].want_logits = true;
  }
  std::vector<float> logits(3 * vocab_);
  ASSERT_TRUE(engine_->runner()->Forward(chunks, logits.data()).ok());
  EXPECT_EQ(0, std::memcmp(logits.data(), a_alone.data(), sizeof(float) * vocab_));
  EXPECT_EQ(0, std::memcmp(logits.data() + vocab_, b_alone.data(), sizeof(float) * vocab_));
  EXPECT_EQ(0, std::memcmp(logits.data() + 2 * vocab_, c_alone.data(), sizeof(float) * vocab_));

  for (int step = 0; step < 4; ++step) {
    std::vector<int32_t> next(3);
    for (int i = 0; i < 3; ++i) {
      next[i] = static_cast<int32_t>((step * 7919 + i * 104729) % vocab_);
      chunks[i].token_ids = &next[i];
      chunks[i].start_pos = seqs[i].size();
      chunks[i].num_tokens = 1;
      seqs[i].push_back(next[i]);
    }
    ASSERT_TRUE(engine_->runner()->Forward(chunks, logits.data()).ok());
    for (int i = 0; i < 3; ++i) {
      const auto alone = Alone(seqs[i], 512);
      EXPECT_EQ(0, std::memcmp(logits.data() + i * vocab_, alone.data(), sizeof(float) * vocab_))
          << "step " << step << " seq " << i;
    }
  }
  for (auto& t : tables) t.Release(*engine_->allocator());
}

TEST_F(BatchInvarianceTest, RejectsBadChunks) {
  BlockTable blocks(engine_->block_size());
  ASSERT_TRUE(blocks.Reserve(4, *engine_->allocator()).ok());
  std::vector<float> logits(vocab_);
  const int32_t bad = static_cast<int32_t>(vocab_);
  SequenceChunk c;
  c.token_ids = &bad;
  c.num_tokens = 1;
  c.blocks = &blocks;
  c.want_logits = true;
  EXPECT_EQ(engine_->runner()->Forward({&c, 1}, logits.data()).code(),
            absl::StatusCode::kInvalidArgument);
  const int32_t ok = 1;
  c.token_ids = &ok;
  c.start_pos = 100;  // beyond the reserved blocks
  EXPECT_EQ(engine_->runner()->Forward({&c, 1}, logits.data()).code(),
            absl::StatusCode::kInvalidArgument);
  blocks.Release(*engine_->allocator());
}

}  // namespace
}  // namespace moeserve
