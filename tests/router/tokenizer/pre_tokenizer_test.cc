#include "router/tokenizer/pre_tokenizer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/tokenizer/unicode.h"
#include "tests/router/tokenizer/test_util.h"

namespace moeserve::tokenizer {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Pieces(const PreTokenizer& p, std::string_view text) {
  std::vector<std::string_view> views;
  p.Split(text, &views);
  return {views.begin(), views.end()};
}

class QwenPreTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = PreTokenizer::ForPattern(kQwenPattern);
    ASSERT_TRUE(made.ok()) << made.status();
    scanner_ = *std::move(made);
  }
  std::vector<std::string> Split(std::string_view text) { return Pieces(*scanner_, text); }
  std::unique_ptr<PreTokenizer> scanner_;
};

TEST_F(QwenPreTokenizer, Contractions) {
  EXPECT_THAT(Split("I'm"), ElementsAre("I", "'m"));
  EXPECT_THAT(Split("HE'LL"), ElementsAre("HE", "'LL"));
  EXPECT_THAT(Split("it'S"), ElementsAre("it", "'S"));
  EXPECT_THAT(Split("'Ll'x"), ElementsAre("'Ll", "'x"));
  EXPECT_THAT(Split("'\u017f"), ElementsAre("'\u017f"));  // Long s folds to s.
  EXPECT_THAT(Split("'re're"), ElementsAre("'re", "'re"));
}

TEST_F(QwenPreTokenizer, LettersWithOnePrefix) {
  EXPECT_THAT(Split("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(Split("(hello)"), ElementsAre("(hello", ")"));
  EXPECT_THAT(Split("\tx"), ElementsAre("\tx"));
  EXPECT_THAT(Split("\nx"), ElementsAre("\n", "x"));
  EXPECT_THAT(Split("  x"), ElementsAre(" ", " x"));
  EXPECT_THAT(Split("中文abc"), ElementsAre("中文abc"));
}

TEST_F(QwenPreTokenizer, DigitsOneByOne) {
  EXPECT_THAT(Split("12345"), ElementsAre("1", "2", "3", "4", "5"));
  EXPECT_THAT(Split(" 42"), ElementsAre(" ", "4", "2"));
  EXPECT_THAT(Split("x1"), ElementsAre("x", "1"));
}

TEST_F(QwenPreTokenizer, Punctuation) {
  EXPECT_THAT(Split("a, b"), ElementsAre("a", ",", " b"));
  EXPECT_THAT(Split(" !!\n\nx"), ElementsAre(" !!\n\n", "x"));
  EXPECT_THAT(Split("x = {};\r\n"), ElementsAre("x", " =", " {};\r\n"));
}

TEST_F(QwenPreTokenizer, Whitespace) {
  EXPECT_THAT(Split("a   b"), ElementsAre("a", "  ", " b"));
  EXPECT_THAT(Split("a   "), ElementsAre("a", "   "));
  EXPECT_THAT(Split("a \n b"), ElementsAre("a", " \n", " b"));
  EXPECT_THAT(Split("\n\n  \n x"), ElementsAre("\n\n  \n", " x"));
  EXPECT_THAT(Split("a \t1"), ElementsAre("a", " ", "\t", "1"));
  EXPECT_THAT(Split("\u3000\u3000x"), ElementsAre("\u3000", "\u3000x"));
}

TEST_F(QwenPreTokenizer, CoversEveryByte) {
  const std::string text = "mixed 文本 with ümlauts, 123 and\temoji 👍🏽!\r\n  end  ";
  std::string joined;
  for (const std::string& piece : Split(text)) {
    EXPECT_FALSE(piece.empty());
    joined += piece;
  }
  EXPECT_EQ(joined, text);
}

// Characters whose Unicode properties have not changed in a long time (PCRE2's tables are older
// than the reference's, so newer characters legitimately differ).
bool StableRepertoire(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    Utf8Step step = DecodeUtf8(text.substr(i));
    const char32_t c = step.cp;
    if (!(c < 0x800 || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x4E00 && c <= 0x9FFF) ||
          (c >= 0xAC00 && c <= 0xD7A3))) {
      return false;
    }
    i += step.length;
  }
  return true;
}

// The hand-written scanner and PCRE2 running the pattern itself agree on the golden corpus.
TEST_F(QwenPreTokenizer, AgreesWithPcre2OnCorpus) {
  auto pcre = PreTokenizer::ForPatternWithPcre2(kQwenPattern);
  ASSERT_TRUE(pcre.ok()) << pcre.status();
  int compared = 0;
  for (const testing::Golden& g : testing::ReadGoldens("qwen3_goldens.jsonl")) {
    if (!StableRepertoire(g.text)) continue;
    ++compared;
    EXPECT_EQ(Split(g.text), Pieces(**pcre, g.text)) << g.text;
  }
  EXPECT_GT(compared, 1000);
}

TEST(PreTokenizer, OtherPatternsUsePcre2) {
  auto split = PreTokenizer::ForPattern(R"(\d+|\s+)");
  ASSERT_TRUE(split.ok());
  EXPECT_THAT(Pieces(**split, "ab12 cd"), ElementsAre("ab", "12", " ", "cd"));
  EXPECT_EQ(PreTokenizer::ForPattern("(unclosed").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moeserve::tokenizer
