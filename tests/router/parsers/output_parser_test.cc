#include "router/parsers/output_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/router/parsers/stream_harness.h"

namespace moeserve::parsers {
namespace {

using testing::ChunkingPlan;
using testing::Chunks;
using testing::Describe;
using testing::ForEachChunking;
using testing::StreamOutput;

// The four template situations (thinking on/off x prompt opened <think> or not).
constexpr OutputParserOptions kThink{.reasoning = {.thinking_enabled = true}};
constexpr OutputParserOptions kOpened{
    .reasoning = {.thinking_enabled = true, .prompt_opened_think = true}};
constexpr OutputParserOptions kOff{.reasoning = {.thinking_enabled = false}};
constexpr OutputParserOptions kOffOpened{
    .reasoning = {.thinking_enabled = false, .prompt_opened_think = true}};
constexpr OutputParserOptions kThinkNoTools{.reasoning = {.thinking_enabled = true},
                                            .parse_tool_calls = false};

ToolCall Call(std::string id, std::string name, std::string arguments) {
  return ToolCall{.id = std::move(id), .name = std::move(name), .arguments = std::move(arguments)};
}

// Tool-call blocks as Qwen3 writes them.
const std::string kWeatherBlock =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
const std::string kFBlock = "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>";
const std::string kFNoArgsBlock = "<tool_call>\n{\"name\": \"f\"}\n</tool_call>";
const std::string kABlock =
    "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>";
const std::string kBStringArgsBlock =
    "<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": 2}\"}\n</tool_call>";
const std::string kMalformedBlock =
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1,}}\n</tool_call>";
const std::string kTokyoBlock =
    "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"東京\"}}\n</tool_call>";
const std::string kZurichBlock =
    "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"c\"}}\n"
    "</tool_call>";
const std::string kSearchBlock =
    "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"a b\"}}\n</tool_call>";

// Texts of the matrix.
const std::string kCallAfterThinking =
    "<think>\nI should call the tool.\n</think>\n\n" + kWeatherBlock;
const std::string kCallInsideThinking =
    "<think>\nMaybe " + kFBlock + " no.\n</think>\n\nNo tool needed.";
const std::string kOpenedTwoCalls =
    "Thinking...\n</think>\n\nSure.\n" + kABlock + "\n" + kBStringArgsBlock + "\n";
const std::string kMalformedAfterThinking =
    "<think>\nok\n</think>\n\n" + kMalformedBlock + "\nDone";
const std::string kTruncatedInThinking = "<think>\nLet me consider " + kFNoArgsBlock + " and";
const std::string kTruncatedInCall =
    "<think>\nx\n</think>\n\n<tool_call>\n{\"name\": \"f\", \"argu";
const std::string kUnicodeNoCalls =
    "<think>\n用户问天气。🌧️\n</think>\n\nIl pleut à Paris — 下雨了。";
const std::string kSeveralUnicodeCalls = "<think>\n\n</think>\n\nChecking both.\n" + kTokyoBlock +
                                         "\n" + kZurichBlock + "\nBoth requested.";
const std::string kNoThinkingOneCall = "Hello! " + kSearchBlock;
const std::string kMixed =
    "<think>\na\n</think>\n\n" + kMalformedBlock + "\n" + kABlock + "\n<tool_call>\n{\"na";

struct Case {
  std::string name;
  std::string text;
  OutputParserOptions options;
  ParsedOutput expected;

  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
};

std::vector<Case> Cases() {
  const ToolCall weather = Call("call_0", "get_weather", R"({"city":"Paris"})");
  const ToolCall f_empty = Call("call_0", "f", "{}");
  const ToolCall a0 = Call("call_0", "a", R"({"x":1})");
  const ToolCall b1 = Call("call_1", "b", R"({"y": 2})");
  const ToolCall tokyo = Call("call_0", "weather", R"({"city":"東京"})");
  const ToolCall zurich = Call("call_1", "weather", R"({"city":"Zürich","unit":"c"})");
  const ToolCall search = Call("call_0", "search", R"({"q":"a b"})");
  return {
      // One call after thinking.
      {"call_after_thinking/think",
       kCallAfterThinking,
       kThink,
       {"I should call the tool.", "", {weather}}},
      {"call_after_thinking/opened",
       kCallAfterThinking,
       kOpened,
       {"<think>\nI should call the tool.", "", {weather}}},
      {"call_after_thinking/off",
       kCallAfterThinking,
       kOff,
       {"", "<think>\nI should call the tool.\n</think>\n\n", {weather}}},
      {"call_after_thinking/off_opened",
       kCallAfterThinking,
       kOffOpened,
       {"", "<think>\nI should call the tool.\n</think>\n\n", {weather}}},
      {"call_after_thinking/no_tools",
       kCallAfterThinking,
       kThinkNoTools,
       {"I should call the tool.", kWeatherBlock, {}}},
      // A call inside reasoning is reasoning text.
      {"call_inside_thinking/think",
       kCallInsideThinking,
       kThink,
       {"Maybe " + kFBlock + " no.", "No tool needed.", {}}},
      {"call_inside_thinking/opened",
       kCallInsideThinking,
       kOpened,
       {"<think>\nMaybe " + kFBlock + " no.", "No tool needed.", {}}},
      {"call_inside_thinking/off",
       kCallInsideThinking,
       kOff,
       {"", "<think>\nMaybe no.\n</think>\n\nNo tool needed.", {f_empty}}},
      {"call_inside_thinking/off_opened",
       kCallInsideThinking,
       kOffOpened,
       {"", "<think>\nMaybe no.\n</think>\n\nNo tool needed.", {f_empty}}},
      // Template-opened reasoning, two calls (object and string arguments).
      {"opened_two_calls/opened", kOpenedTwoCalls, kOpened, {"Thinking...", "Sure.\n", {a0, b1}}},
      {"opened_two_calls/think",
       kOpenedTwoCalls,
       kThink,
       {"", "Thinking...\n</think>\n\nSure.\n", {a0, b1}}},
      {"opened_two_calls/off",
       kOpenedTwoCalls,
       kOff,
       {"", "Thinking...\n</think>\n\nSure.\n", {a0, b1}}},
      {"opened_two_calls/off_opened",
       kOpenedTwoCalls,
       kOffOpened,
       {"", "Thinking...\n</think>\n\nSure.\n", {a0, b1}}},
      // Malformed JSON stays content.
      {"malformed/think", kMalformedAfterThinking, kThink, {"ok", kMalformedBlock + "\nDone", {}}},
      {"malformed/opened",
       kMalformedAfterThinking,
       kOpened,
       {"<think>\nok", kMalformedBlock + "\nDone", {}}},
      {"malformed/off", kMalformedAfterThinking, kOff, {"", kMalformedAfterThinking, {}}},
      {"malformed/off_opened",
       kMalformedAfterThinking,
       kOffOpened,
       {"", kMalformedAfterThinking, {}}},
      // Truncated inside thinking: all reasoning.
      {"truncated_in_thinking/think",
       kTruncatedInThinking,
       kThink,
       {"Let me consider " + kFNoArgsBlock + " and", "", {}}},
      {"truncated_in_thinking/opened",
       kTruncatedInThinking,
       kOpened,
       {"<think>\nLet me consider " + kFNoArgsBlock + " and", "", {}}},
      {"truncated_in_thinking/off",
       kTruncatedInThinking,
       kOff,
       {"", "<think>\nLet me consider and", {f_empty}}},
      {"truncated_in_thinking/off_opened",
       kTruncatedInThinking,
       kOffOpened,
       {"", "<think>\nLet me consider and", {f_empty}}},
      // Truncated inside a tool call: the unclosed block is content.
      {"truncated_in_call/think",
       kTruncatedInCall,
       kThink,
       {"x", "<tool_call>\n{\"name\": \"f\", \"argu", {}}},
      {"truncated_in_call/opened",
       kTruncatedInCall,
       kOpened,
       {"<think>\nx", "<tool_call>\n{\"name\": \"f\", \"argu", {}}},
      {"truncated_in_call/off", kTruncatedInCall, kOff, {"", kTruncatedInCall, {}}},
      {"truncated_in_call/off_opened", kTruncatedInCall, kOffOpened, {"", kTruncatedInCall, {}}},
      // Unicode, zero calls.
      {"unicode_no_calls/think",
       kUnicodeNoCalls,
       kThink,
       {"用户问天气。🌧️", "Il pleut à Paris — 下雨了。", {}}},
      {"unicode_no_calls/opened",
       kUnicodeNoCalls,
       kOpened,
       {"<think>\n用户问天气。🌧️", "Il pleut à Paris — 下雨了。", {}}},
      {"unicode_no_calls/off", kUnicodeNoCalls, kOff, {"", kUnicodeNoCalls, {}}},
      {"unicode_no_calls/off_opened", kUnicodeNoCalls, kOffOpened, {"", kUnicodeNoCalls, {}}},
      // Several calls with unicode arguments and text between them.
      {"several_calls/think",
       kSeveralUnicodeCalls,
       kThink,
       {"", "Checking both.\nBoth requested.", {tokyo, zurich}}},
      {"several_calls/opened",
       kSeveralUnicodeCalls,
       kOpened,
       {"<think>\n", "Checking both.\nBoth requested.", {tokyo, zurich}}},
      {"several_calls/off",
       kSeveralUnicodeCalls,
       kOff,
       {"", "<think>\n\n</think>\n\nChecking both.\nBoth requested.", {tokyo, zurich}}},
      {"several_calls/off_opened",
       kSeveralUnicodeCalls,
       kOffOpened,
       {"", "<think>\n\n</think>\n\nChecking both.\nBoth requested.", {tokyo, zurich}}},
      // No thinking in the output.
      {"no_thinking_one_call/off", kNoThinkingOneCall, kOff, {"", "Hello! ", {search}}},
      {"no_thinking_one_call/off_opened",
       kNoThinkingOneCall,
       kOffOpened,
       {"", "Hello! ", {search}}},
      {"no_thinking_one_call/think", kNoThinkingOneCall, kThink, {"", "Hello! ", {search}}},
      {"no_thinking_one_call/opened", kNoThinkingOneCall, kOpened, {kNoThinkingOneCall, "", {}}},
      // Malformed, valid and unclosed blocks in one output.
      {"mixed/think", kMixed, kThink, {"a", kMalformedBlock + "\n<tool_call>\n{\"na", {a0}}},
      {"mixed/off",
       kMixed,
       kOff,
       {"", "<think>\na\n</think>\n\n" + kMalformedBlock + "\n<tool_call>\n{\"na", {a0}}},
      // Empty output.
      {"empty/think", "", kThink, {}},
      {"empty/opened", "", kOpened, {}},
      {"empty/off", "", kOff, {}},
      {"empty/off_opened", "", kOffOpened, {}},
  };
}

class OutputCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(OutputCaseTest, OneShotMatchesExpected) {
  const Case& c = GetParam();
  const ParsedOutput result = ParseOutput(c.text, c.options, MakeSequentialToolCallIdGenerator());
  EXPECT_EQ(result, c.expected) << Describe(result) << "\nexpected " << Describe(c.expected);
}

TEST_P(OutputCaseTest, EveryChunkingMatchesExpected) {
  const Case& c = GetParam();
  ChunkingPlan plan;
  plan.max_pair_split_len = 160;
  plan.random_chunkings = 64;
  plan.seed = c.text.size() * 31 + c.name.size();
  int chunkings = 0;
  ForEachChunking(c.text, plan, [&](const Chunks& chunks, const std::string& label) {
    ++chunkings;
    absl::StatusOr<ParsedOutput> result =
        StreamOutput(chunks, c.options, MakeSequentialToolCallIdGenerator());
    ASSERT_TRUE(result.ok()) << label << ": " << result.status();
    ASSERT_EQ(*result, c.expected)
        << label << ": " << Describe(*result) << "\nexpected " << Describe(c.expected);
  });
  EXPECT_GT(chunkings, static_cast<int>(c.text.size()));
}

// Upstream deltas are whole UTF-8 characters; then every released delta is valid UTF-8,
// because only ASCII tag prefixes are ever held back.
TEST_P(OutputCaseTest, DeltasOfWholeCharactersAreValidUtf8) {
  const Case& c = GetParam();
  std::vector<OutputDelta> deltas;
  absl::StatusOr<ParsedOutput> result =
      StreamOutput(testing::SplitAt(c.text, testing::CharBoundaries(c.text)), c.options,
                   MakeSequentialToolCallIdGenerator(), &deltas);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const OutputDelta& delta : deltas) {
    EXPECT_TRUE(testing::IsValidUtf8(delta.reasoning)) << delta.reasoning;
    EXPECT_TRUE(testing::IsValidUtf8(delta.content)) << delta.content;
    // Every delta serializes (strict UTF-8 check in nlohmann's dump).
    EXPECT_NO_THROW(ToJson(delta).dump());
  }
  EXPECT_NO_THROW(ToJson(*result).dump());
}

INSTANTIATE_TEST_SUITE_P(Matrix, OutputCaseTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (ch == '/') ch = '_';
                           }
                           return name;
                         });

// ---- OpenAI JSON ----------------------------------------------------------------------------

TEST(OutputJson, MessageWithToolCallsHasNullContent) {
  const ParsedOutput out =
      ParseOutput(kCallAfterThinking, kThink, MakeSequentialToolCallIdGenerator());
  EXPECT_EQ(ToJson(out), nlohmann::json::parse(R"({
    "role": "assistant",
    "content": null,
    "reasoning_content": "I should call the tool.",
    "tool_calls": [{"id": "call_0", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]
  })"));
}

TEST(OutputJson, MessageWithoutToolCalls) {
  EXPECT_EQ(ToJson(ParsedOutput{.content = "Hi"}), nlohmann::json::parse(R"({
    "role": "assistant", "content": "Hi", "reasoning_content": null})"));
  EXPECT_EQ(ToJson(ParsedOutput{}), nlohmann::json::parse(R"({
    "role": "assistant", "content": "", "reasoning_content": null})"));
  EXPECT_EQ(ToJson(ParsedOutput{.reasoning = "r", .content = "c", .tool_calls = {}}),
            nlohmann::json::parse(R"({
    "role": "assistant", "content": "c", "reasoning_content": "r"})"));
}

TEST(OutputJson, MessageWithContentAndToolCallsKeepsContent) {
  const ParsedOutput out{.content = "Hello! ", .tool_calls = {Call("id", "f", "{}")}};
  EXPECT_EQ(ToJson(out)["content"], "Hello! ");
}

TEST(OutputJson, StreamDeltasMapToChunkDeltas) {
  OutputParser parser(kThink, MakeSequentialToolCallIdGenerator());
  EXPECT_EQ(ToJson(parser.Push("<think>\nHmm")), nlohmann::json::parse(R"({
    "reasoning_content": "Hmm"})"));
  EXPECT_EQ(ToJson(parser.Push("\n</think>\n\nOk ")), nlohmann::json::parse(R"({
    "content": "Ok "})"));
  EXPECT_EQ(ToJson(parser.Push("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, 2]}}")),
            nlohmann::json::object());
  EXPECT_EQ(ToJson(parser.Push("\n</tool_call>")), nlohmann::json::parse(R"({
    "tool_calls": [
      {"index": 0, "id": "call_0", "type": "function", "function": {"name": "f", "arguments": ""}},
      {"index": 0, "function": {"arguments": "{\"a\":[1,2]}"}}
    ]})"));
  EXPECT_EQ(ToJson(parser.Finish()), nlohmann::json::object());
}

TEST(OutputParser, DefaultIdsAreRandom) {
  const ParsedOutput out = ParseOutput(kNoThinkingOneCall, kOff);
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].id.substr(0, 5), "call_");
  EXPECT_EQ(out.tool_calls[0].id.size(), 29u);
}

TEST(OutputParserDeathTest, PushAfterFinishAborts) {
  OutputParser parser;
  parser.Finish();
  EXPECT_DEATH(parser.Push("x"), "after Finish");
}

// A megabyte of tool-call fragments after thinking: linear in both stages.
TEST(OutputParser, LinearOnAdversarialInput) {
  std::string text = "<think>\n";
  while (text.size() < (1u << 19)) text += "<tool_call></thin";
  text += "</think>\n\n";
  while (text.size() < (1u << 20)) text += "<tool_call>{\"name\":\"f\"}</tool_call><tool_cal";
  const ParsedOutput once = ParseOutput(text, kThink, MakeSequentialToolCallIdGenerator());
  EXPECT_GT(once.tool_calls.size(), 1000u);
  for (size_t chunk : {size_t{1}, size_t{777}}) {
    Chunks chunks;
    for (size_t pos = 0; pos < text.size(); pos += chunk) {
      chunks.push_back(std::string_view(text).substr(pos, chunk));
    }
    // StreamOutput fails when bytes_scanned() > 4 * size + 16.
    absl::StatusOr<ParsedOutput> streamed =
        StreamOutput(chunks, kThink, MakeSequentialToolCallIdGenerator());
    ASSERT_TRUE(streamed.ok()) << streamed.status();
    EXPECT_TRUE(*streamed == once);
  }
}

}  // namespace
}  // namespace moeserve::parsers
