// Tokenizer throughput: encode and decode over the golden corpus (tests/data/tokenizer/) and
// over source code, single-threaded and with several threads sharing one tokenizer.
//
//   build/bench/tokenizer_bench [--benchmark_filter=Encode]
//
// MOESERVE_TOKENIZER overrides the tokenizer directory (default: the npm data cache).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "router/tokenizer/stream_decoder.h"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::tokenizer {
namespace {

const Tokenizer& Tok() {
  static const Tokenizer* tokenizer = [] {
    const char* env = std::getenv("MOESERVE_TOKENIZER");
    auto loaded = Tokenizer::FromFile(env ? env : MOESERVE_DATA_CACHE "/qwen3-tokenizer");
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::exit(1);
    }
    return loaded->release();
  }();
  return *tokenizer;
}

const std::vector<std::string>& Corpus() {
  static const std::vector<std::string>* corpus = [] {
    auto* texts = new std::vector<std::string>();
    std::ifstream in(MOESERVE_SOURCE_DIR "/tests/data/tokenizer/qwen3_goldens.jsonl");
    std::string line;
    while (std::getline(in, line)) texts->push_back(nlohmann::json::parse(line)["t"]);
    return texts;
  }();
  return *corpus;
}

// This library's own sources: realistic code with long identifiers, comments and indentation.
const std::vector<std::string>& Code() {
  static const std::vector<std::string>* code = [] {
    auto* texts = new std::vector<std::string>();
    for (const char* name : {"tokenizer.cc", "bpe_model.cc", "pre_tokenizer.cc", "unicode.cc",
                             "added_vocabulary.cc", "normalizer.cc"}) {
      std::ifstream in(std::string(MOESERVE_SOURCE_DIR "/router/tokenizer/") + name);
      std::ostringstream s;
      s << in.rdbuf();
      texts->push_back(s.str());
    }
    return texts;
  }();
  return *code;
}

void EncodeTexts(benchmark::State& state, const std::vector<std::string>& texts) {
  const Tokenizer& tok = Tok();
  size_t bytes = 0, tokens = 0;
  for (auto _ : state) {
    for (const std::string& text : texts) {
      std::vector<int32_t> ids = tok.Encode(text);
      tokens += ids.size();
      bytes += text.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

void BM_EncodeGoldenCorpus(benchmark::State& state) { EncodeTexts(state, Corpus()); }
BENCHMARK(BM_EncodeGoldenCorpus)->Unit(benchmark::kMillisecond)->ThreadRange(1, 4)->UseRealTime();

void BM_EncodeSourceCode(benchmark::State& state) { EncodeTexts(state, Code()); }
BENCHMARK(BM_EncodeSourceCode)->Unit(benchmark::kMillisecond);

void BM_EncodeCjk(benchmark::State& state) {
  static const std::vector<std::string> texts(
      200, "我爱北京天安门，天安门上太阳升。日本語のテキストです。한국어 텍스트입니다. ");
  EncodeTexts(state, texts);
}
BENCHMARK(BM_EncodeCjk)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  std::vector<std::vector<int32_t>> encoded;
  for (const std::string& text : Corpus()) encoded.push_back(Tok().Encode(text));
  size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& ids : encoded) {
      absl::StatusOr<std::string> text = Tok().Decode(ids);
      benchmark::DoNotOptimize(text->data());
      tokens += ids.size();
    }
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_StreamDecode(benchmark::State& state) {
  std::vector<std::vector<int32_t>> encoded;
  for (const std::string& text : Corpus()) encoded.push_back(Tok().Encode(text));
  size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& ids : encoded) {
      StreamDecoder decoder(&Tok());
      for (int32_t id : ids) benchmark::DoNotOptimize(decoder.Add(id)->size());
      benchmark::DoNotOptimize(decoder.Finish().size());
      tokens += ids.size();
    }
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StreamDecode)->Unit(benchmark::kMillisecond);

void BM_Load(benchmark::State& state) {
  const char* env = std::getenv("MOESERVE_TOKENIZER");
  for (auto _ : state) {
    auto loaded = Tokenizer::FromFile(env ? env : MOESERVE_DATA_CACHE "/qwen3-tokenizer");
    benchmark::DoNotOptimize(loaded.ok());
  }
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace moeserve::tokenizer

BENCHMARK_MAIN();
