#include "router/tokenizer/added_vocabulary.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace moeserve::tokenizer {
namespace {

using Pass = AddedVocabulary::Pass;

AddedToken Token(int32_t id, std::string content, bool special = true) {
  AddedToken t;
  t.id = id;
  t.content = std::move(content);
  t.special = special;
  return t;
}

// "text|id" per segment, id -1 for plain text.
std::vector<std::string> Segments(const AddedVocabulary& vocab, std::string_view text,
                                  bool allow_special = true, Pass pass = Pass::kRaw) {
  std::vector<TextSegment> segments;
  vocab.Split(text, pass, allow_special, &segments);
  std::vector<std::string> out;
  for (const TextSegment& s : segments) {
    out.push_back(std::string(s.text) + "|" + std::to_string(s.token_id));
  }
  return out;
}

using ::testing::ElementsAre;

TEST(AddedVocabulary, LeftmostLongest) {
  AddedVocabulary vocab({Token(1, "<a>"), Token(2, "<a><b>"), Token(3, "<b>")});
  EXPECT_THAT(Segments(vocab, "x<a><b>y<b>"), ElementsAre("x|-1", "<a><b>|2", "y|-1", "<b>|3"));
  EXPECT_THAT(Segments(vocab, "<a><a>"), ElementsAre("<a>|1", "<a>|1"));
  EXPECT_THAT(Segments(vocab, "<a"), ElementsAre("<a|-1"));
  EXPECT_THAT(Segments(vocab, ""), ElementsAre());
}

TEST(AddedVocabulary, NearMissesStayText) {
  AddedVocabulary vocab({Token(7, "<|im_start|>")});
  for (const char* text : {"<|im_start", "<|im_start|", "<|im_start |>", "< |im_start|>"}) {
    EXPECT_THAT(Segments(vocab, text), ElementsAre(std::string(text) + "|-1"));
  }
  EXPECT_THAT(Segments(vocab, "<<|im_start|>>"), ElementsAre("<|-1", "<|im_start|>|7", ">|-1"));
}

TEST(AddedVocabulary, SpecialTokensOffWhenNotAllowed) {
  AddedVocabulary vocab({Token(1, "<s>", true), Token(2, "<think>", false)});
  EXPECT_THAT(Segments(vocab, "<s><think>", false), ElementsAre("<s>|-1", "<think>|2"));
  EXPECT_THAT(Segments(vocab, "<s><think>", true), ElementsAre("<s>|1", "<think>|2"));
}

TEST(AddedVocabulary, StripFlagsAbsorbWhitespace) {
  AddedToken mask = Token(5, "[M]");
  mask.lstrip = mask.rstrip = true;
  AddedVocabulary vocab({mask});
  EXPECT_THAT(Segments(vocab, "a  [M]\t b"), ElementsAre("a|-1", "  [M]\t |5", "b|-1"));
  EXPECT_THAT(Segments(vocab, " [M] [M] "), ElementsAre(" [M] |5", "[M] |5"));
}

TEST(AddedVocabulary, SingleWord) {
  AddedToken hello = Token(9, "hi", false);
  hello.single_word = true;
  AddedVocabulary vocab({hello});
  EXPECT_THAT(Segments(vocab, "hi there"), ElementsAre("hi|9", " there|-1"));
  EXPECT_THAT(Segments(vocab, "(hi)"), ElementsAre("(|-1", "hi|9", ")|-1"));
  EXPECT_THAT(Segments(vocab, "ahi"), ElementsAre("ahi|-1"));
  EXPECT_THAT(Segments(vocab, "hi_"), ElementsAre("hi_|-1"));
  EXPECT_THAT(Segments(vocab, "hi\u0301"), ElementsAre("hi\u0301|-1"));
}

TEST(AddedVocabulary, NormalizedTokensInTheirOwnPass) {
  AddedToken raw = Token(1, "<r>");
  AddedToken normalized = Token(2, "<n>", false);
  normalized.normalized = true;
  AddedVocabulary vocab({raw, normalized});
  EXPECT_THAT(Segments(vocab, "<r><n>", true, Pass::kRaw), ElementsAre("<r>|1", "<n>|-1"));
  EXPECT_THAT(Segments(vocab, "<r><n>", true, Pass::kNormalized), ElementsAre("<r>|-1", "<n>|2"));
  EXPECT_TRUE(vocab.HasTokens(Pass::kNormalized));
  EXPECT_FALSE(AddedVocabulary({raw}).HasTokens(Pass::kNormalized));
}

}  // namespace
}  // namespace moeserve::tokenizer
