// Engine throughput on Qwen3-30B-A3B layer shapes (hidden 2048, 32/4 heads of 128, 128 experts
// of 768, top-8) with random weights, in the one-process placement.
//
// Reported against a ceiling measured in the same run: the machine's streaming read bandwidth
// (kernels/cpu/membw.h). Batch-1 decode is memory-bound, so its figure of merit is
//   achieved bandwidth = weight bytes touched per token / time per token
// as a fraction of that ceiling. Prefill reports tokens/s and GFLOP/s.
//
// Flags (before Google Benchmark's own): --layers N (default 4), --model-dir DIR (default
// /tmp/moeserve-bench-30b-a3b-L<N>; written on first use, reused after), --threads N.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "common/thread_pool.h"
#include "common/tiny_model.h"
#include "engine/local_engine.h"
#include "kernels/cpu/membw.h"

namespace moeserve {
namespace {

struct BenchState {
  int64_t layers = 4;
  int threads = 0;
  std::string model_dir;
  std::unique_ptr<LocalEngine> engine;
  double read_bandwidth = 0;  // bytes/s, measured in this run
};
BenchState* g_state = nullptr;

int64_t WeightBytes(const kernels::WeightType t) {
  return t == kernels::WeightType::kF32 ? 4 : 2;
}

// Weight bytes one decode token reads: every dense weight of every layer, top-k experts per MoE
// layer, one embedding row and lm_head.
double DecodeWeightBytesPerToken(const ModelConfig& c) {
  const double b = WeightBytes(kernels::WeightType::kBF16);
  const double h = c.hidden_size, hd = c.head_dim;
  const double q = c.num_attention_heads * hd, kv = c.num_key_value_heads * hd;
  double per_layer = (h * q + 2 * h * kv + q * h) + 2 * h + 2 * hd;
  double total = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    total += per_layer;
    if (c.IsMoeLayer(l)) {
      total += c.num_experts * h;  // router
      total += c.num_experts_per_tok * 3.0 * h * c.moe_intermediate_size;
    } else {
      total += 3.0 * h * c.intermediate_size;
    }
  }
  total += h + h + c.vocab_size * h;  // embedding row, final norm, lm_head
  return total * b;
}

// Multiply-adds per token of the matmuls (2 FLOP each), excluding attention's context term.
double FlopsPerToken(const ModelConfig& c) {
  return 2.0 * DecodeWeightBytesPerToken(c) / WeightBytes(kernels::WeightType::kBF16);
}

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % vocab);
  return t;
}

// The ceiling: the best streaming-read bandwidth seen in this run, re-measured right after each
// benchmark (the machines are shared; a single early measurement can land in a busy moment).
double Ceiling() {
  ThreadPool pool(g_state->threads);
  g_state->read_bandwidth = std::max(
      g_state->read_bandwidth, kernels::MeasureReadBandwidth(&pool, size_t{512} << 20, 5));
  return g_state->read_bandwidth;
}

void AddCeiling(benchmark::State& state) { state.counters["read_bw_GBps"] = Ceiling() / 1e9; }

// Decode `batch` sequences together, one token each per step, after a 64-token prompt.
void BM_Decode(benchmark::State& state) {
  LocalEngine& e = *g_state->engine;
  const ModelConfig& c = e.config();
  const int64_t batch = state.range(0), prompt_len = 64, steps_per_round = 32;
  std::vector<BlockTable> tables(batch, BlockTable(e.block_size()));
  std::vector<std::vector<int32_t>> seqs(batch);
  std::vector<float> logits(batch * c.vocab_size);
  std::vector<SequenceChunk> chunks(batch);
  auto reset = [&] {
    for (int64_t i = 0; i < batch; ++i) {
      tables[i].Release(*e.allocator());
      if (!tables[i].Reserve(prompt_len + steps_per_round + 1, *e.allocator()).ok()) {
        state.SkipWithError("KV cache too small");
        return;
      }
      seqs[i] = RandomTokens(prompt_len, c.vocab_size, static_cast<uint32_t>(i + 1));
      chunks[i] = {seqs[i].data(), prompt_len, 0, &tables[i], true};
      if (!e.runner()->Forward({&chunks[i], 1}, logits.data()).ok()) {
        state.SkipWithError("prefill failed");
      }
    }
  };
  reset();
  int64_t step = 0;
  std::vector<int32_t> next(batch);
  double elapsed = 0.0;  // seconds inside timed regions
  for (auto _ : state) {
    if (step == steps_per_round) {
      state.PauseTiming();
      reset();
      step = 0;
      state.ResumeTiming();
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < batch; ++i) {
      next[i] = static_cast<int32_t>((step * 7919 + i * 104729 + 17) % c.vocab_size);
      chunks[i] = {&next[i], 1, prompt_len + step, &tables[i], true};
    }
    if (!e.runner()->Forward(chunks, logits.data()).ok()) state.SkipWithError("decode failed");
    ++step;
    elapsed += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  for (auto& t : tables) t.Release(*e.allocator());
  const double tokens = static_cast<double>(state.iterations()) * batch;
  state.counters["tokens_per_s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  AddCeiling(state);
  if (batch == 1) {
    // kIsRate counters divide by the benchmark's time, so the fraction is computed from the
    // per-iteration time directly.
    const double bytes = DecodeWeightBytesPerToken(c);
    const double seconds_per_token =
        state.iterations() > 0 ? elapsed / static_cast<double>(state.iterations()) : 0.0;
    state.counters["weight_MB_per_token"] = bytes / 1e6;
    if (seconds_per_token > 0) {
      const double achieved = bytes / seconds_per_token;
      state.counters["weight_GBps"] = achieved / 1e9;
      state.counters["fraction_of_read_bw"] = achieved / g_state->read_bandwidth;
    }
  }
}

void BM_Prefill(benchmark::State& state) {
  LocalEngine& e = *g_state->engine;
  const ModelConfig& c = e.config();
  const int64_t n = state.range(0);
  const auto prompt = RandomTokens(n, c.vocab_size, 7);
  BlockTable table(e.block_size());
  if (!table.Reserve(n, *e.allocator()).ok()) state.SkipWithError("KV cache too small");
  std::vector<float> logits(c.vocab_size);
  for (auto _ : state) {
    SequenceChunk chunk{prompt.data(), n, 0, &table, true};
    if (!e.runner()->Forward({&chunk, 1}, logits.data()).ok()) state.SkipWithError("failed");
  }
  table.Release(*e.allocator());
  const double tokens = static_cast<double>(state.iterations()) * n;
  state.counters["tokens_per_s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["GFLOPs"] =
      benchmark::Counter(tokens * FlopsPerToken(c) / 1e9, benchmark::Counter::kIsRate);
  AddCeiling(state);
}

BENCHMARK(BM_Decode)->Arg(1)->Arg(4)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Prefill)->Arg(128)->Arg(512)->UseRealTime()->Unit(benchmark::kMillisecond);

int Setup(int* argc, char** argv) {
  g_state = new BenchState();
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string(name) + "=";
      if (a.rfind(prefix, 0) == 0) return argv[i] + prefix.size();
      if (a == name && i + 1 < *argc) return argv[++i];
      return nullptr;
    };
    if (const char* v = value("--layers")) {
      g_state->layers = std::atoll(v);
    } else if (const char* v = value("--model-dir")) {
      g_state->model_dir = v;
    } else if (const char* v = value("--threads")) {
      g_state->threads = std::atoi(v);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  if (g_state->layers <= 0) {
    std::fprintf(stderr, "engine_bench: --layers must be positive\n");
    return 2;
  }
  if (g_state->model_dir.empty()) {
    g_state->model_dir =
        "/tmp/moeserve-bench-30b-a3b-L" + std::to_string(g_state->layers);
  }
  const TinyModelOptions opts = TinyModelOptions::Qwen3_30B_A3B(g_state->layers);
  if (!std::filesystem::exists(g_state->model_dir + "/config.json")) {
    std::fprintf(stderr, "engine_bench: writing %lld-layer Qwen3-30B-A3B-shaped model to %s\n",
                 static_cast<long long>(g_state->layers), g_state->model_dir.c_str());
    auto written = WriteTinyModel(opts, g_state->model_dir);
    if (!written.ok()) {
      std::fprintf(stderr, "engine_bench: %s\n", std::string(written.status().message()).c_str());
      return 1;
    }
  }
  LocalEngineOptions eo;
  eo.num_threads = g_state->threads;
  eo.kv_cache_tokens = 16 * 1024;
  eo.limits.max_context = 2048;
  eo.limits.max_tokens_per_step = 512;
  eo.progress = true;
  auto engine = LocalEngine::Open(g_state->model_dir, eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  g_state->engine = std::move(*engine);
  ThreadPool pool(g_state->threads);
  g_state->read_bandwidth = kernels::MeasureReadBandwidth(&pool, size_t{1} << 30, 5);
  std::fprintf(stderr, "engine_bench: backend %s, %d threads, read bandwidth %.2f GB/s\n",
               g_state->engine->backend()->name().c_str(), pool.num_threads(),
               g_state->read_bandwidth / 1e9);
  return 0;
}

}  // namespace
}  // namespace moeserve

int main(int argc, char** argv) {
  if (int rc = moeserve::Setup(&argc, argv); rc != 0) return rc;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
