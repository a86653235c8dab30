// Drives the fuzz property (parsers_fuzz_target.h) in the normal build: hand-written seeds under
// every option combination and several chunkings, then thousands of seeded random outputs
// assembled from tags, tag fragments, JSON pieces and multi-byte characters.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/router/parsers/parsers_fuzz_target.h"

namespace moeserve::parsers::testing {
namespace {

absl::Status Check(const std::string& input) {
  return CheckParsersOnFuzzInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

OutputParserOptions OptionsFromBits(int bits) {
  return {
      .reasoning = {.thinking_enabled = (bits & 1) != 0, .prompt_opened_think = (bits & 2) != 0},
      .parse_tool_calls = (bits & 4) != 0};
}

std::vector<std::string> Seeds() {
  return {
      "",
      "<think>\nI should look it up.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
      "Thinking\n</think>\n\nSure.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": \"{}\"}\n</tool_call>\n",
      "<think>\nmaybe <tool_call>{\"name\": \"f\"}</tool_call>\n</think>\n\nno",
      "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1,}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"f\", \"argu",
      "<think>\n思考 🤔\n</think>\n\n答え "
      "<tool_call>{\"name\":\"翻訳\",\"arguments\":{\"t\":\"é\"}}"
      "</tool_call> ✅",
      "<thi<think></thin</think><tool_cal<tool_call></tool_cal</tool_call>",
      "\n\n\n</think>\n\n\n<tool_call>\n\n{\"name\":\"x\"}\n\n</tool_call>\n\n\n",
  };
}

TEST(ParsersFuzz, SeedsUnderEveryOptionAndChunking) {
  int runs = 0;
  for (const std::string& seed : Seeds()) {
    for (int bits = 0; bits < 8; ++bits) {
      const OutputParserOptions options = OptionsFromBits(bits);
      const std::vector<std::vector<uint8_t>> chunkings = {
          {}, {1}, {3, 0, 5}, {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, {31, 2, 31, 2, 31}};
      for (const auto& lengths : chunkings) {
        for (bool bytewise_tail : {false, true}) {
          const absl::Status status = Check(EncodeFuzzInput(options, lengths, bytewise_tail, seed));
          ASSERT_TRUE(status.ok()) << status << "\nseed: " << seed << "\noptions bits " << bits;
          ++runs;
        }
      }
    }
  }
  EXPECT_EQ(runs, static_cast<int>(Seeds().size()) * 8 * 5 * 2);
}

TEST(ParsersFuzz, DecodeClampsEverything) {
  const uint8_t data[] = {0xFF, 200, 31, 31};
  const FuzzCase c = DecodeFuzzInput(data, sizeof(data));
  EXPECT_TRUE(c.text.empty());
  EXPECT_TRUE(c.options.reasoning.thinking_enabled);
  EXPECT_TRUE(c.options.parse_tool_calls);
  for (size_t size = 0; size <= sizeof(data); ++size) {
    EXPECT_TRUE(CheckParsersOnFuzzInput(data, size).ok());
  }
}

TEST(ParsersFuzz, EncodeDecodeRoundTrip) {
  const std::string input =
      EncodeFuzzInput(OptionsFromBits(5), {2, 40, 3}, /*bytewise_tail=*/false, "abcdefghij");
  const FuzzCase c = DecodeFuzzInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  EXPECT_EQ(c.text, "abcdefghij");
  EXPECT_TRUE(c.options.reasoning.thinking_enabled);
  EXPECT_FALSE(c.options.reasoning.prompt_opened_think);
  EXPECT_TRUE(c.options.parse_tool_calls);
  EXPECT_EQ(c.cuts, (std::vector<size_t>{2, 10, 10}));  // 40 & 31 = 8, clamped to the text
}

// Random outputs from a vocabulary biased toward the parsers' edge cases.
std::string RandomOutput(std::mt19937_64& rng) {
  static const std::vector<std::string> kPieces = {
      "<think>",
      "</think>",
      "<tool_call>",
      "</tool_call>",
      "<think",
      "</thi",
      "<tool_",
      "</tool_c",
      "<",
      "</",
      ">",
      "\n",
      "\n\n",
      " ",
      "\t",
      "\r\n",
      "{",
      "}",
      "[",
      "]",
      "\"",
      "\\",
      ":",
      ",",
      "\"name\"",
      "\"arguments\"",
      "\"f\"",
      "\"\"",
      "null",
      "1",
      "1.50",
      "{\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": null}]}}",
      "{\"name\": \"g\"}",
      "{\"name\": \"h\", \"arguments\": \"{\\\"k\\\": 1}\"}",
      "{\"name\": 1}",
      "text",
      "é",
      "你好",
      "🙂",
      "\\u00e9",
      "\xff"};
  std::uniform_int_distribution<size_t> count(0, 40);
  std::uniform_int_distribution<size_t> pick(0, kPieces.size() - 1);
  std::string out;
  for (size_t n = count(rng), i = 0; i < n; ++i) out += kPieces[pick(rng)];
  return out;
}

TEST(ParsersFuzz, SeededRandomInputs) {
  std::mt19937_64 rng(20260101);
  std::uniform_int_distribution<int> bits(0, 15);
  std::uniform_int_distribution<int> num_chunks(0, 24);
  std::uniform_int_distribution<int> length(0, 31);
  for (int i = 0; i < 4000; ++i) {
    const std::string text = RandomOutput(rng);
    const int b = bits(rng);
    std::vector<uint8_t> lengths(num_chunks(rng));
    for (uint8_t& l : lengths) l = static_cast<uint8_t>(length(rng));
    const std::string input = EncodeFuzzInput(OptionsFromBits(b), lengths, (b & 8) != 0, text);
    const absl::Status status = Check(input);
    ASSERT_TRUE(status.ok()) << status << "\niteration " << i << " text: " << text;
  }
}

TEST(ParsersFuzz, SeededRandomBytes) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> size(0, 200);
  std::uniform_int_distribution<int> byte(0, 255);
  // Bytes drawn mostly from the tags' alphabet so tags do form.
  const std::string alphabet = "<>/thinkol_c{}\":,\n ";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    std::string input;
    for (int n = size(rng), k = 0; k < n; ++k) {
      input.push_back(k < 8 || byte(rng) < 32 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)]);
    }
    const absl::Status status = Check(input);
    ASSERT_TRUE(status.ok()) << status << "\niteration " << i;
  }
}

}  // namespace
}  // namespace moeserve::parsers::testing
