#include "router/parsers/tool_call_parser.h"

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/router/parsers/stream_harness.h"

namespace moeserve::parsers {
namespace {

using testing::ChunkingPlan;
using testing::Chunks;
using testing::ForEachChunking;
using testing::StreamToolCalls;

// ---- Body validation and argument serialization ------------------------------------------

struct BodyCase {
  const char* name;
  std::string body;
  bool valid;
  std::string tool_name;
  std::string arguments;

  friend void PrintTo(const BodyCase& c, std::ostream* os) { *os << c.name; }
};

std::vector<BodyCase> BodyCases() {
  return {
      {"qwen_style", "\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n", true,
       "get_weather", R"({"city":"Paris"})"},
      {"keeps_key_order", R"({"name":"f","arguments":{"b":1,"a":2,"c":{"z":0,"y":[1,2]}}})", true,
       "f", R"({"b":1,"a":2,"c":{"z":0,"y":[1,2]}})"},
      {"name_after_arguments", R"({"arguments":{"x":true},"name":"f"})", true, "f",
       R"({"x":true})"},
      {"string_arguments_kept", R"({"name":"f","arguments":"{\"x\": 1}"})", true, "f",
       "{\"x\": 1}"},
      {"string_arguments_not_json", R"({"name":"f","arguments":"plain"})", true, "f", "plain"},
      {"missing_arguments", R"({"name":"f"})", true, "f", "{}"},
      {"null_arguments", R"({"name":"f","arguments":null})", true, "f", "{}"},
      {"empty_arguments", R"({"name":"f","arguments":{}})", true, "f", "{}"},
      {"extra_keys_ignored", R"({"name":"f","arguments":{},"id":"x"})", true, "f", "{}"},
      {"unicode_raw", R"({"name":"天気","arguments":{"city":"東京","emoji":"🌧"}})", true,
       "天気", R"({"city":"東京","emoji":"🌧"})"},
      {"unicode_escapes_decoded", R"({"name":"f","arguments":{"s":"\u00e9\ud83d\ude00"}})", true,
       "f", R"({"s":"é😀"})"},
      {"escapes_reserialized", R"({"name":"f","arguments":{"s":"a\"b\\c\n\t\/"}})", true, "f",
       R"({"s":"a\"b\\c\n\t/"})"},
      {"numbers", R"({"name":"f","arguments":{"i":-3,"f":1.50,"e":1e2,"z":0.0}})", true, "f",
       R"({"i":-3,"f":1.5,"e":100.0,"z":0.0})"},
      {"whitespace_everywhere",
       " \t\r\n{ \"name\" : \"f\" , \"arguments\" : { \"a\" : [ 1 , 2 ] } }\n ", true, "f",
       R"({"a":[1,2]})"},
      {"unbalanced_brackets", "{\"name\":\"f\",\"arguments\":" + std::string(10, '[') + "{", false,
       "", ""},
      {"missing_name", R"({"arguments":{}})", false, "", ""},
      {"empty_name", R"({"name":"","arguments":{}})", false, "", ""},
      {"name_not_string", R"({"name":7,"arguments":{}})", false, "", ""},
      {"arguments_array", R"({"name":"f","arguments":[1]})", false, "", ""},
      {"arguments_number", R"({"name":"f","arguments":1})", false, "", ""},
      {"arguments_bool", R"({"name":"f","arguments":false})", false, "", ""},
      {"not_object", R"(["f",{}])", false, "", ""},
      {"string_body", R"("f")", false, "", ""},
      {"trailing_comma", R"({"name":"f","arguments":{"a":1,}})", false, "", ""},
      {"trailing_garbage", R"({"name":"f"} x)", false, "", ""},
      {"two_objects", R"({"name":"f"}{"name":"g"})", false, "", ""},
      {"truncated", R"({"name":"f","argu)", false, "", ""},
      {"empty_body", "", false, "", ""},
      {"whitespace_body", " \n ", false, "", ""},
      {"single_quotes", "{'name':'f'}", false, "", ""},
      {"lone_surrogate_escape", R"({"name":"f","arguments":{"s":"\ud800"}})", false, "", ""},
      {"invalid_utf8", std::string("{\"name\":\"f\",\"arguments\":{\"s\":\"\xff\xfe\"}}"), false,
       "", ""},
  };
}

class BodyCaseTest : public ::testing::TestWithParam<BodyCase> {};

TEST_P(BodyCaseTest, ParsesAsDocumented) {
  const BodyCase& c = GetParam();
  const std::optional<ToolCall> call = ParseToolCallBody(c.body);
  ASSERT_EQ(call.has_value(), c.valid);
  if (!c.valid) return;
  EXPECT_EQ(call->id, "");
  EXPECT_EQ(call->name, c.tool_name);
  EXPECT_EQ(call->arguments, c.arguments);
}

INSTANTIATE_TEST_SUITE_P(Table, BodyCaseTest, ::testing::ValuesIn(BodyCases()),
                         [](const auto& info) { return std::string(info.param.name); });

std::string Nested(int depth) {
  std::string args;
  for (int i = 0; i < depth; ++i) args += "{\"a\":";
  args += "1";
  for (int i = 0; i < depth; ++i) args += "}";
  return "{\"name\":\"f\",\"arguments\":" + args + "}";
}

TEST(ParseToolCallBody, DepthLimit) {
  // The body object itself is one level.
  EXPECT_TRUE(ParseToolCallBody(Nested(kMaxToolCallJsonDepth - 1)).has_value());
  EXPECT_FALSE(ParseToolCallBody(Nested(kMaxToolCallJsonDepth)).has_value());
  // Brackets inside strings do not count.
  EXPECT_TRUE(ParseToolCallBody("{\"name\":\"f\",\"arguments\":{\"s\":\"" + std::string(500, '[') +
                                "\\\"{{\"}}")
                  .has_value());
  // A million levels is rejected quickly and without recursion.
  EXPECT_FALSE(ParseToolCallBody(std::string(1 << 20, '[')).has_value());
}

// ---- Content-level parsing: one-shot and every chunking ----------------------------------

ToolCall Call(std::string id, std::string name, std::string arguments) {
  return ToolCall{.id = std::move(id), .name = std::move(name), .arguments = std::move(arguments)};
}

const std::string kWeather =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
const std::string kTime =
    "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Europe/Paris\"}}\n"
    "</tool_call>";
const std::string kMalformed =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>";
const std::string kNoName = "<tool_call>\n{\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

struct ContentCase {
  const char* name;
  std::string text;
  std::string content;
  std::vector<ToolCall> calls;

  friend void PrintTo(const ContentCase& c, std::ostream* os) { *os << c.name; }
};

std::vector<ContentCase> ContentCases() {
  const ToolCall weather0 = Call("call_0", "get_weather", R"({"city":"Paris"})");
  const ToolCall time0 = Call("call_0", "get_time", R"({"tz":"Europe/Paris"})");
  const ToolCall time1 = Call("call_1", "get_time", R"({"tz":"Europe/Paris"})");
  return {
      {"no_calls",
       "Just text, with <b>tags</b> and a < b.",
       "Just text, with <b>tags</b> and a < b.",
       {}},
      {"empty", "", "", {}},
      {"one_call", kWeather, "", {weather0}},
      {"text_before_keeps_whitespace",
       "Let me check.\n\n" + kWeather,
       "Let me check.\n\n",
       {weather0}},
      {"whitespace_after_call_dropped", kWeather + "\n \t\r\nThanks.", "Thanks.", {weather0}},
      {"two_calls_qwen_layout", kWeather + "\n" + kTime + "\n", "", {weather0, time1}},
      {"text_between_and_after",
       "A" + kWeather + "\n B " + kTime + " C",
       "AB C",
       {weather0, time1}},
      {"malformed_stays_verbatim", "x" + kMalformed + "\ny", "x" + kMalformed + "\ny", {}},
      {"missing_name_stays_verbatim", kNoName + "\n", kNoName + "\n", {}},
      {"malformed_then_valid", kMalformed + "\n" + kTime, kMalformed + "\n", {time0}},
      {"valid_then_malformed", kTime + "\n" + kMalformed, kMalformed, {time0}},
      {"unclosed_stays_verbatim",
       "a<tool_call>\n{\"name\": \"f\"",
       "a<tool_call>\n{\"name\": \"f\"",
       {}},
      {"valid_then_unclosed",
       kTime + "\n<tool_call>\n{\"name\"",
       "<tool_call>\n{\"name\"",
       {time0}},
      {"partial_open_tag_at_end", "abc<tool_ca", "abc<tool_ca", {}},
      {"stray_close_tag", "</tool_call> hi", "</tool_call> hi", {}},
      {"near_miss_open_tag",
       "<tool_cal>{\"name\":\"f\"}</tool_call>",
       "<tool_cal>{\"name\":\"f\"}</tool_call>",
       {}},
      {"open_inside_block_makes_it_malformed",
       "<tool_call><tool_call>{\"name\":\"f\"}</tool_call>",
       "<tool_call><tool_call>{\"name\":\"f\"}</tool_call>",
       {}},
      {"close_tag_inside_json_string_ends_block",
       "<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":\"</tool_call>\"}}</tool_call>",
       "<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":\"</tool_call>\"}}</tool_call>",
       {}},
      {"string_arguments",
       "<tool_call>{\"name\":\"f\",\"arguments\":\"{\\\"q\\\": \\\"a b\\\"}\"}</tool_call>",
       "",
       {Call("call_0", "f", "{\"q\": \"a b\"}")}},
      {"unicode_around_and_inside",
       "Voilà 👉 <tool_call>\n{\"name\": \"traduire\", \"arguments\": {\"texte\": \"猫は可愛い\"}}\n"
       "</tool_call>\n✅ fini",
       "Voilà 👉 ✅ fini",
       {Call("call_0", "traduire", R"({"texte":"猫は可愛い"})")}},
      {"lt_characters_in_text",
       "a<b<<tool_call>{\"name\":\"f\"}</tool_call><",
       "a<b<<",
       {Call("call_0", "f", "{}")}},
      {"adjacent_calls", kWeather + kTime, "", {weather0, time1}},
      {"three_calls_same_name",
       kTime + kTime + "\n" + kTime,
       "",
       {time0, time1, Call("call_2", "get_time", R"({"tz":"Europe/Paris"})")}},
  };
}

class ContentCaseTest : public ::testing::TestWithParam<ContentCase> {};

TEST_P(ContentCaseTest, OneShotMatchesExpected) {
  const ContentCase& c = GetParam();
  const ToolCallParseResult result = ParseToolCalls(c.text, MakeSequentialToolCallIdGenerator());
  EXPECT_EQ(result.content, c.content);
  EXPECT_EQ(result.tool_calls, c.calls);
}

TEST_P(ContentCaseTest, EveryChunkingMatchesExpected) {
  const ContentCase& c = GetParam();
  ChunkingPlan plan;
  plan.max_pair_split_len = 128;
  plan.seed = c.text.size();
  ForEachChunking(c.text, plan, [&](const Chunks& chunks, const std::string& label) {
    absl::StatusOr<ToolCallParseResult> result =
        StreamToolCalls(chunks, MakeSequentialToolCallIdGenerator());
    ASSERT_TRUE(result.ok()) << label << ": " << result.status();
    ASSERT_EQ(result->content, c.content) << label;
    ASSERT_EQ(result->tool_calls, c.calls) << label;
  });
}

INSTANTIATE_TEST_SUITE_P(Table, ContentCaseTest, ::testing::ValuesIn(ContentCases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- Stream delta shape ----------------------------------------------------------------------

TEST(ToolCallStreamParser, EmitsHeaderThenArgumentsWhenTheBlockCloses) {
  ToolCallStreamParser parser(MakeSequentialToolCallIdGenerator("id-"));
  EXPECT_TRUE(parser.Push("Hi <tool_").content == "Hi ");
  ToolCallStreamDelta d =
      parser.Push("call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_");
  EXPECT_TRUE(d.empty());  // the whole block is held until </tool_call>
  d = parser.Push("call>\n\nok");
  EXPECT_EQ(d.content, "ok");
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0],
            (ToolCallDelta{.index = 0, .id = "id-0", .name = "f", .arguments = ""}));
  EXPECT_EQ(d.tool_calls[1], (ToolCallDelta{.index = 0, .arguments = R"({"a":1})"}));
  EXPECT_TRUE(d.tool_calls[0].is_header());
  EXPECT_FALSE(d.tool_calls[1].is_header());
  EXPECT_EQ(parser.num_tool_calls(), 1);
  EXPECT_TRUE(parser.Finish().empty());
}

TEST(ToolCallStreamParser, MalformedBlockIsReleasedAsContentWhenItCloses) {
  ToolCallStreamParser parser(MakeSequentialToolCallIdGenerator());
  EXPECT_TRUE(parser.Push("<tool_call>{\"name\": 1}").empty());
  ToolCallStreamDelta d = parser.Push("</tool_call>\n");
  EXPECT_EQ(d.content, "<tool_call>{\"name\": 1}</tool_call>\n");
  EXPECT_TRUE(d.tool_calls.empty());
  EXPECT_EQ(parser.num_tool_calls(), 0);
}

TEST(ToolCallStreamParser, UnclosedBlockIsReleasedByFinish) {
  ToolCallStreamParser parser(MakeSequentialToolCallIdGenerator());
  EXPECT_TRUE(parser.Push("<tool_call>{\"name\": \"f\"").empty());
  EXPECT_EQ(parser.Finish().content, "<tool_call>{\"name\": \"f\"");
}

TEST(ToolCallStreamParserDeathTest, PushAfterFinishAborts) {
  ToolCallStreamParser parser(MakeSequentialToolCallIdGenerator());
  parser.Finish();
  EXPECT_DEATH(parser.Push("x"), "after Finish");
}

// ---- Ids ------------------------------------------------------------------------------------

TEST(ToolCallIdGenerator, RandomIdsLookLikeOpenAIAndDoNotRepeat) {
  ToolCallIdGenerator next = MakeRandomToolCallIdGenerator();
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = next();
    ASSERT_EQ(id.size(), 5u + 24u);
    ASSERT_EQ(id.substr(0, 5), "call_");
    for (char c : id.substr(5)) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ToolCallIdGenerator, SequentialIdsAndIndependentCopies) {
  ToolCallIdGenerator a = MakeSequentialToolCallIdGenerator();
  EXPECT_EQ(a(), "call_0");
  EXPECT_EQ(a(), "call_1");
  ToolCallIdGenerator b = MakeSequentialToolCallIdGenerator("x");
  EXPECT_EQ(b(), "x0");
}

TEST(ToolCallParser, DefaultStreamIdsAreRandom) {
  ToolCallStreamParser parser;
  ToolCallStreamDelta d = parser.Push("<tool_call>{\"name\":\"f\"}</tool_call>");
  ASSERT_FALSE(d.tool_calls.empty());
  EXPECT_EQ(d.tool_calls[0].id->substr(0, 5), "call_");
  EXPECT_EQ(d.tool_calls[0].id->size(), 29u);
}

// ---- Linear time on adversarial input -------------------------------------------------------

std::string Repeat(std::string_view unit, size_t min_size, std::string prefix = "") {
  std::string s = std::move(prefix);
  while (s.size() < min_size) s += unit;
  return s;
}

TEST(ToolCallStreamParser, LinearOnAdversarialInput) {
  constexpr size_t kSize = 1 << 20;
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"open_tags_never_closed", Repeat("<tool_call>", kSize)},
      {"empty_blocks", Repeat("<tool_call></tool_call>", kSize)},
      {"partial_open_tags", Repeat("<tool_cal", kSize)},
      {"partial_close_tags_in_block", Repeat("</tool_cal", kSize, "<tool_call>")},
      {"many_valid_calls",
       Repeat("<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":1}}</tool_call>\n", kSize)},
      {"deep_brackets",
       Repeat("[", kSize, "<tool_call>{\"name\":\"f\",\"arguments\":") + "</tool_call>"},
      {"lt_soup", Repeat("<<t</", kSize)},
  };
  for (const auto& [name, text] : inputs) {
    const ToolCallParseResult once = ParseToolCalls(text, MakeSequentialToolCallIdGenerator());
    for (size_t chunk : {size_t{1}, size_t{4096}}) {
      Chunks chunks;
      for (size_t pos = 0; pos < text.size(); pos += chunk) {
        chunks.push_back(std::string_view(text).substr(pos, chunk));
      }
      // StreamToolCalls also fails when bytes_scanned() > 3 * size + 16.
      absl::StatusOr<ToolCallParseResult> streamed =
          StreamToolCalls(chunks, MakeSequentialToolCallIdGenerator());
      ASSERT_TRUE(streamed.ok()) << name << ": " << streamed.status();
      EXPECT_TRUE(*streamed == once) << name << " chunk " << chunk;
    }
    if (name == "many_valid_calls") {
      EXPECT_GT(once.tool_calls.size(), 10000u);
      EXPECT_EQ(once.content, "");
    } else {
      EXPECT_TRUE(once.tool_calls.empty()) << name;
      EXPECT_EQ(once.content, text) << name;
    }
  }
}

}  // namespace
}  // namespace moeserve::parsers
