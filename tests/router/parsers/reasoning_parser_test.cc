#include "router/parsers/reasoning_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/router/parsers/stream_harness.h"

namespace moeserve::parsers {
namespace {

using testing::ChunkingPlan;
using testing::Chunks;
using testing::ForEachChunking;
using testing::StreamReasoning;

constexpr ReasoningOptions kThink{.thinking_enabled = true, .prompt_opened_think = false};
constexpr ReasoningOptions kOpened{.thinking_enabled = true, .prompt_opened_think = true};
constexpr ReasoningOptions kOff{.thinking_enabled = false, .prompt_opened_think = false};
constexpr ReasoningOptions kOffOpened{.thinking_enabled = false, .prompt_opened_think = true};

struct Case {
  const char* name;
  std::string text;
  ReasoningOptions options;
  std::string reasoning;
  std::string content;

  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
};

std::vector<Case> Cases() {
  return {
      {"qwen3_typical", "<think>\nLet me think.\n</think>\n\nThe answer is 42.", kThink,
       "Let me think.", "The answer is 42."},
      {"no_newlines", "<think>abc</think>xyz", kThink, "abc", "xyz"},
      {"empty_thinking", "<think>\n\n</think>\n\nHi", kThink, "", "Hi"},
      {"single_newline_thinking", "<think>\n</think>", kThink, "", ""},
      {"tags_only", "<think></think>\n\n", kThink, "", ""},
      {"only_one_newline_each_side_stripped", "<think>\n\nA\n\n</think>\n\n\nB\n", kThink, "\nA\n",
       "B\n"},
      {"content_keeps_leading_spaces", "<think>a</think>\n\n  indented", kThink, "a", "  indented"},
      {"multiline_reasoning", "<think>\nStep 1.\nStep 2.\n</think>\n\nDone.", kThink,
       "Step 1.\nStep 2.", "Done."},
      {"truncated_in_reasoning", "<think>\nStill thinking", kThink, "Still thinking", ""},
      {"truncated_after_newline", "<think>\nStill thinking\n", kThink, "Still thinking\n", ""},
      {"truncated_in_end_tag", "<think>\nabc\n</thi", kThink, "abc\n</thi", ""},
      {"truncated_in_start_tag", "<thi", kThink, "", "<thi"},
      {"only_start_tag", "<think>", kThink, "", ""},
      {"empty_output", "", kThink, "", ""},
      {"no_think_is_content", "Hello </think> world", kThink, "", "Hello </think> world"},
      {"think_not_at_byte0_is_content", " <think>x</think>y", kThink, "", " <think>x</think>y"},
      {"later_tags_are_content", "<think>a</think>b<think>c</think>d", kThink, "a",
       "b<think>c</think>d"},
      {"nested_start_is_reasoning", "<think>a<think>b</think>c", kThink, "a<think>b", "c"},
      {"near_miss_end_tags", "<think>a </think b <</think>c", kThink, "a </think b <", "c"},
      {"newline_then_near_miss", "<think>x\n</thinx\n\n</think>", kThink, "x\n</thinx\n", ""},
      {"crlf_is_not_stripped", "<think>\r\nA\r\n</think>\r\n\r\nB", kThink, "\r\nA\r", "\r\n\r\nB"},
      {"unicode", "<think>\n思考中… 🤔\n</think>\n\n答案是 42 ✅", kThink,
       "思考中… 🤔", "答案是 42 ✅"},
      {"unicode_next_to_tags", "<think>é</think>ü", kThink, "é", "ü"},
      // The template opened <think>: the output starts in reasoning.
      {"opened_typical", "Let me think.\n</think>\n\nAnswer", kOpened, "Let me think.", "Answer"},
      {"opened_leading_newline", "\nabc\n</think>\n\nX", kOpened, "abc", "X"},
      {"opened_think_tag_is_text", "<think>x</think>y", kOpened, "<think>x", "y"},
      {"opened_truncated", "\nabc", kOpened, "abc", ""},
      {"opened_empty", "", kOpened, "", ""},
      {"opened_only_end", "\n</think>\n\nX", kOpened, "", "X"},
      {"opened_unicode", "Ünïcödé 🙂\n</think>\n\n終わり", kOpened, "Ünïcödé 🙂",
       "終わり"},
      // Thinking disabled: everything is content, verbatim.
      {"off_typical", "<think>\na\n</think>\n\nb", kOff, "", "<think>\na\n</think>\n\nb"},
      {"off_end_tag_is_content", "x</think>\n\ny", kOff, "", "x</think>\n\ny"},
      {"off_opened_is_still_content", "x\n</think>\n\ny", kOffOpened, "", "x\n</think>\n\ny"},
      {"off_empty", "", kOffOpened, "", ""},
  };
}

class ReasoningCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReasoningCaseTest, OneShotMatchesExpected) {
  const Case& c = GetParam();
  const ReasoningResult result = ParseReasoning(c.text, c.options);
  EXPECT_EQ(result.reasoning, c.reasoning);
  EXPECT_EQ(result.content, c.content);
}

TEST_P(ReasoningCaseTest, EveryChunkingMatchesExpected) {
  const Case& c = GetParam();
  ChunkingPlan plan;
  plan.seed = c.text.size();
  int chunkings = 0;
  ForEachChunking(c.text, plan, [&](const Chunks& chunks, const std::string& label) {
    ++chunkings;
    const ReasoningResult result = StreamReasoning(chunks, c.options);
    ASSERT_EQ(result.reasoning, c.reasoning) << label;
    ASSERT_EQ(result.content, c.content) << label;
  });
  EXPECT_GT(chunkings, 0);
}

INSTANTIATE_TEST_SUITE_P(Table, ReasoningCaseTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ReasoningStreamParser, HoldsBackOnlyPossibleTagStarts) {
  ReasoningStreamParser parser(kThink);
  EXPECT_EQ(parser.Push("<th"), ReasoningDelta{});
  EXPECT_EQ(parser.Push("ink>\nabc"), (ReasoningDelta{.reasoning = "abc"}));
  EXPECT_EQ(parser.Push("\n"), ReasoningDelta{});  // may be the "\n" before </think>
  EXPECT_EQ(parser.Push("</th"), ReasoningDelta{});
  EXPECT_EQ(parser.Push("x<"), (ReasoningDelta{.reasoning = "\n</thx"}));
  EXPECT_EQ(parser.Push("/think>\n"), ReasoningDelta{});
  EXPECT_EQ(parser.Push("\nHello <"), (ReasoningDelta{.content = "Hello <"}));  // no tags left
  EXPECT_EQ(parser.Finish(), ReasoningDelta{});
}

TEST(ReasoningStreamParser, StartThatIsNotThinkBecomesContentAtOnce) {
  ReasoningStreamParser parser(kThink);
  EXPECT_EQ(parser.Push("<thi"), ReasoningDelta{});
  EXPECT_EQ(parser.Push("s is"), (ReasoningDelta{.content = "<this is"}));
  EXPECT_EQ(parser.Push(" </think>"), (ReasoningDelta{.content = " </think>"}));
  EXPECT_EQ(parser.Finish(), ReasoningDelta{});
}

TEST(ReasoningStreamParser, FinishReleasesHeldBytes) {
  ReasoningStreamParser parser(kOpened);
  EXPECT_EQ(parser.Push("abc\n</thin"), (ReasoningDelta{.reasoning = "abc"}));
  EXPECT_EQ(parser.Finish(), (ReasoningDelta{.reasoning = "\n</thin"}));
}

TEST(ReasoningStreamParser, EmptyPushesAreHarmless) {
  ReasoningStreamParser parser(kThink);
  EXPECT_EQ(parser.Push(""), ReasoningDelta{});
  EXPECT_EQ(parser.Finish(), ReasoningDelta{});
}

TEST(ReasoningStreamParserDeathTest, PushAfterFinishAborts) {
  ReasoningStreamParser parser;
  parser.Finish();
  EXPECT_DEATH(parser.Push("x"), "after Finish");
  EXPECT_DEATH(parser.Finish(), "after Finish");
}

// Adversarial inputs: a megabyte of near-miss tags. The parser examines each byte at most once.
TEST(ReasoningStreamParser, LinearOnAdversarialInput) {
  const std::vector<std::string> patterns = {"</thin", "\n</think", "<", "\n", "<think"};
  for (const std::string& pattern : patterns) {
    std::string text = "<think>";
    while (text.size() < (1u << 20)) text += pattern;
    text += "</think>\n\nend";
    const ReasoningResult once = ParseReasoning(text, kThink);
    for (size_t chunk : {size_t{1}, size_t{4096}}) {
      ReasoningStreamParser parser(kThink);
      ReasoningResult streamed;
      for (size_t pos = 0; pos < text.size(); pos += chunk) {
        ReasoningDelta d = parser.Push(std::string_view(text).substr(pos, chunk));
        streamed.reasoning += d.reasoning;
        streamed.content += d.content;
      }
      ReasoningDelta d = parser.Finish();
      streamed.reasoning += d.reasoning;
      streamed.content += d.content;
      EXPECT_EQ(streamed, once) << "pattern " << pattern << " chunk " << chunk;
      EXPECT_LE(parser.bytes_scanned(), text.size());
    }
    EXPECT_EQ(once.content, "end");
  }
}

}  // namespace
}  // namespace moeserve::parsers
