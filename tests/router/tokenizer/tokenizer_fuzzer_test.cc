// Runs the fuzz entry point (tokenizer_fuzzer.cc) over the golden corpus, mutations of it
// (truncations at every byte, so ill-formed UTF-8), and random bytes, in the normal build.
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/router/tokenizer/test_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace moeserve::tokenizer {
namespace {

int Fuzz(const std::string& s) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(TokenizerFuzzer, CorpusAndMutations) {
  if (testing::Qwen() == nullptr) GTEST_SKIP() << "no tokenizer cache (run scripts/setup)";
  std::vector<testing::Golden> goldens = testing::ReadGoldens("qwen3_goldens.jsonl");
  ASSERT_FALSE(goldens.empty());
  std::mt19937 rng(1234);
  for (size_t i = 0; i < goldens.size(); ++i) {
    const std::string& text = goldens[i].text;
    EXPECT_EQ(Fuzz(text), 0);
    if (i % 8 == 0) {
      for (size_t cut = 1; cut < text.size(); ++cut) EXPECT_EQ(Fuzz(text.substr(0, cut)), 0);
    }
    std::string flipped = text;
    if (!flipped.empty()) flipped[rng() % flipped.size()] = static_cast<char>(rng());
    EXPECT_EQ(Fuzz(flipped + goldens[(i + 1) % goldens.size()].text), 0);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(Fuzz(bytes), 0);
  }
}

}  // namespace
}  // namespace moeserve::tokenizer
