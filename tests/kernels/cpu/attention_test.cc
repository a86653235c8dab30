// Paged causal GQA attention on every ISA: against a double reference over head dims, GQA
// ratios, block sizes and several sequences with their own block tables; bitwise invariance to
// prompt chunking, batching and thread count; error paths.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/cpu/test_util.h"

namespace moeserve::kernels {
namespace {

using testing::BitEqual;
using testing::MakeBackend;
using testing::RandomFloats;

class AttentionTest : public ::testing::TestWithParam<CpuIsa> {};

struct Config {
  int64_t nq, nkv, hd, block_size;
};

// A paged cache holding several sequences, each with a shuffled block table.
struct Cache {
  Config c;
  int64_t max_blocks;
  std::vector<int32_t> tables;           // [seqs, max_blocks]
  std::vector<std::vector<float>> k, v;  // per sequence [len, nkv*hd]
  std::vector<float> k_cache, v_cache;

  Cache(Config cfg, const std::vector<int64_t>& lens, uint32_t seed) : c(cfg) {
    const int64_t max_len = *std::max_element(lens.begin(), lens.end());
    max_blocks = (max_len + c.block_size - 1) / c.block_size + 1;
    const int64_t num_blocks = max_blocks * static_cast<int64_t>(lens.size()) + 3;
    std::vector<int32_t> ids(num_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
    tables.assign(ids.begin(), ids.begin() + max_blocks * lens.size());
    const int64_t row = c.nkv * c.hd;
    k_cache.assign(num_blocks * c.block_size * row, NAN);
    v_cache.assign(num_blocks * c.block_size * row, NAN);
    for (size_t s = 0; s < lens.size(); ++s) {
      k.push_back(RandomFloats(lens[s] * row, seed + 10 * s + 1, -2.0f, 2.0f));
      v.push_back(RandomFloats(lens[s] * row, seed + 10 * s + 2));
    }
  }
  int64_t Slot(int64_t seq, int64_t pos) const {
    return int64_t{tables[seq * max_blocks + pos / c.block_size]} * c.block_size +
           pos % c.block_size;
  }
  // Writes positions [begin, end) of sequence `seq` with one KvWrite.
  void Write(Backend* b, int64_t seq, int64_t begin, int64_t end) {
    std::vector<int64_t> slots;
    for (int64_t p = begin; p < end; ++p) slots.push_back(Slot(seq, p));
    const int64_t row = c.nkv * c.hd;
    KvWriteParams p{k[seq].data() + begin * row,
                    row,
                    v[seq].data() + begin * row,
                    row,
                    slots.data(),
                    end - begin,
                    c.nkv,
                    c.hd,
                    k_cache.data(),
                    v_cache.data()};
    ASSERT_TRUE(b->KvWrite(p).ok());
  }
};

// Runs attention for query tokens (seq, pos) with queries q [tokens, nq*hd].
std::vector<float> RunAttention(Backend* b, int threads, const Cache& cache,
                                const std::vector<int32_t>& seq, const std::vector<int32_t>& pos,
                                const float* q) {
  const Config& c = cache.c;
  const int64_t tokens = static_cast<int64_t>(seq.size()), row = c.nq * c.hd;
  std::vector<float> out(tokens * row, -1.0f);
  const int64_t max_context = cache.max_blocks * c.block_size;
  std::vector<float> ws(AttentionWorkspaceFloats(max_context, threads));
  AttentionParams p;
  p.q = q;
  p.ldq = row;
  p.out = out.data();
  p.ldout = row;
  p.k_cache = cache.k_cache.data();
  p.v_cache = cache.v_cache.data();
  p.block_tables = cache.tables.data();
  p.max_blocks_per_seq = cache.max_blocks;
  p.token_seq = seq.data();
  p.token_pos = pos.data();
  p.tokens = tokens;
  p.num_q_heads = c.nq;
  p.num_kv_heads = c.nkv;
  p.head_dim = c.hd;
  p.block_size = c.block_size;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  p.workspace = ws.data();
  const absl::Status s = b->Attention(p);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST_P(AttentionTest, MatchesReferenceAcrossShapes) {
  const Config configs[] = {{4, 4, 64, 16}, {8, 2, 128, 16}, {16, 1, 80, 5}, {6, 3, 40, 7}};
  for (const Config& c : configs) {
    SCOPED_TRACE(::testing::Message()
                 << "nq=" << c.nq << " nkv=" << c.nkv << " hd=" << c.hd << " bs=" << c.block_size);
    auto b = MakeBackend(GetParam(), 2);
    const std::vector<int64_t> lens = {1, 37, 70};
    Cache cache(c, lens, 17);
    for (size_t s = 0; s < lens.size(); ++s) cache.Write(b.backend.get(), s, 0, lens[s]);
    // Query tokens from every sequence at assorted positions, interleaved.
    std::vector<int32_t> seq = {0, 1, 2, 1, 2, 2, 1};
    std::vector<int32_t> pos = {0, 36, 69, 0, 15, 16, 20};
    const int64_t row = c.nq * c.hd;
    const auto q = RandomFloats(seq.size() * row, 99, -2.0f, 2.0f);
    const auto out = RunAttention(b.backend.get(), 2, cache, seq, pos, q.data());
    const int64_t group = c.nq / c.nkv, kv_row = c.nkv * c.hd;
    const double scale = 1.0 / std::sqrt(static_cast<float>(c.hd));
    for (size_t t = 0; t < seq.size(); ++t) {
      for (int64_t h = 0; h < c.nq; ++h) {
        const int64_t kvh = h / group;
        std::vector<double> sc(pos[t] + 1);
        double max = -INFINITY;
        for (int64_t j = 0; j <= pos[t]; ++j) {
          double d = 0;
          for (int64_t e = 0; e < c.hd; ++e) {
            d += double{q[t * row + h * c.hd + e]} * cache.k[seq[t]][j * kv_row + kvh * c.hd + e];
          }
          sc[j] = d * static_cast<float>(scale);
          max = std::max(max, sc[j]);
        }
        double sum = 0;
        for (auto& x : sc) sum += x = std::exp(x - max);
        for (int64_t e = 0; e < c.hd; ++e) {
          double ref = 0;
          for (int64_t j = 0; j <= pos[t]; ++j) {
            ref += sc[j] / sum * cache.v[seq[t]][j * kv_row + kvh * c.hd + e];
          }
          ASSERT_NEAR(out[t * row + h * c.hd + e], ref, 2e-5)
              << "t=" << t << " h=" << h << " e=" << e;
        }
      }
    }
  }
}

// Prefill in chunks (KV written chunk by chunk, attention per chunk) and decode-style one token
// at a time give the same bits as one whole-prompt call, with 1 or 2 threads.
TEST_P(AttentionTest, ChunkingAndBatchInvariantBitwise) {
  const Config c{8, 2, 64, 16};
  const int64_t len = 53, row = c.nq * c.hd;
  const auto q = RandomFloats(len * row, 5, -2.0f, 2.0f);
  std::vector<int32_t> all_seq(len, 1), all_pos(len);
  std::iota(all_pos.begin(), all_pos.end(), 0);

  auto b1 = MakeBackend(GetParam(), 1);
  Cache whole(c, {10, len}, 3);
  whole.Write(b1.backend.get(), 1, 0, len);
  const auto expect = RunAttention(b1.backend.get(), 1, whole, all_seq, all_pos, q.data());

  for (int threads : {1, 2}) {
    auto b = MakeBackend(GetParam(), threads);
    Cache chunked(c, {10, len}, 3);
    chunked.Write(b.backend.get(), 0, 0, 10);  // another sequence in the same cache
    const int64_t bounds[] = {0, 1, 17, 18, 40, len};
    for (size_t i = 0; i + 1 < std::size(bounds); ++i) {
      const int64_t b0 = bounds[i], b1e = bounds[i + 1];
      chunked.Write(b.backend.get(), 1, b0, b1e);
      // The chunk's tokens batched with a token of the other sequence in front.
      std::vector<int32_t> seq = {0}, pos = {9};
      std::vector<float> qs(row, 0.5f);
      for (int64_t t = b0; t < b1e; ++t) {
        seq.push_back(1);
        pos.push_back(static_cast<int32_t>(t));
        qs.insert(qs.end(), q.begin() + t * row, q.begin() + (t + 1) * row);
      }
      const auto out = RunAttention(b.backend.get(), threads, chunked, seq, pos, qs.data());
      EXPECT_TRUE(BitEqual(out.data() + row, expect.data() + b0 * row, (b1e - b0) * row))
          << "threads=" << threads << " chunk [" << b0 << ", " << b1e << ")";
    }
    // Decode style: each token alone.
    for (int64_t t : {int64_t{0}, int64_t{31}, len - 1}) {
      const auto out = RunAttention(b.backend.get(), threads, chunked, {1},
                                    {static_cast<int32_t>(t)}, q.data() + t * row);
      EXPECT_TRUE(BitEqual(out.data(), expect.data() + t * row, row)) << "token " << t;
    }
  }
}

TEST_P(AttentionTest, RejectsBadArguments) {
  auto b = MakeBackend(GetParam(), 1);
  const Config c{4, 2, 8, 4};
  Cache cache(c, {8}, 1);
  cache.Write(b.backend.get(), 0, 0, 8);
  std::vector<float> q(c.nq * c.hd), out(c.nq * c.hd), ws(AttentionWorkspaceFloats(64, 1));
  const std::vector<int32_t> seq = {0}, pos = {7}, far = {1000}, neg = {-1};
  AttentionParams good;
  good.q = q.data();
  good.ldq = c.nq * c.hd;
  good.out = out.data();
  good.ldout = c.nq * c.hd;
  good.k_cache = cache.k_cache.data();
  good.v_cache = cache.v_cache.data();
  good.block_tables = cache.tables.data();
  good.max_blocks_per_seq = cache.max_blocks;
  good.token_seq = seq.data();
  good.token_pos = pos.data();
  good.tokens = 1;
  good.num_q_heads = c.nq;
  good.num_kv_heads = c.nkv;
  good.head_dim = c.hd;
  good.block_size = c.block_size;
  good.workspace = ws.data();
  ASSERT_TRUE(b->Attention(good).ok());
  auto expect_invalid = [&](const AttentionParams& p, const char* what) {
    const absl::Status s = b->Attention(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what << ": " << s;
  };
  AttentionParams p = good;
  p.num_kv_heads = 3;
  expect_invalid(p, "heads not divisible");
  p = good;
  p.workspace = nullptr;
  expect_invalid(p, "null workspace");
  p = good;
  p.token_pos = far.data();
  expect_invalid(p, "position beyond the block table");
  p = good;
  p.token_pos = neg.data();
  expect_invalid(p, "negative position");
  p = good;
  p.block_size = 0;
  expect_invalid(p, "block_size 0");
  p = good;
  p.ldq = 4;
  expect_invalid(p, "short ldq");
  std::vector<int32_t> bad_table = cache.tables;
  bad_table[1] = -1;
  p = good;
  p.block_tables = bad_table.data();
  expect_invalid(p, "negative block id");
}

MOESERVE_INSTANTIATE_FOR_ALL_ISAS(AttentionTest);

}  // namespace
}  // namespace moeserve::kernels
