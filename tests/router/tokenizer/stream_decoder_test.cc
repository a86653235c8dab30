#include "router/tokenizer/stream_decoder.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "router/tokenizer/byte_level.h"
#include "router/tokenizer/unicode.h"
#include "tests/router/tokenizer/test_util.h"

namespace moeserve::tokenizer {
namespace {

using testing::Qwen;

#define REQUIRE_QWEN() \
  if (Qwen() == nullptr) GTEST_SKIP() << "no tokenizer cache (run scripts/setup)"

// The id of the single-byte token for `b`.
int32_t ByteToken(uint8_t b) {
  std::string ch;
  AppendUtf8(ByteToChar(b), &ch);
  return *Qwen()->TokenToId(ch);
}

std::string Stream(const std::vector<int32_t>& ids, bool skip_special,
                   std::vector<std::string>* deltas) {
  StreamDecoder decoder(Qwen(), skip_special);
  std::string all;
  for (int32_t id : ids) {
    absl::StatusOr<std::string> delta = decoder.Add(id);
    EXPECT_TRUE(delta.ok());
    EXPECT_TRUE(IsValidUtf8(*delta));
    if (deltas) deltas->push_back(*delta);
    all += *delta;
  }
  all += decoder.Finish();
  return all;
}

// Every multi-byte character fed one byte token at a time: nothing comes out until the last byte.
TEST(StreamDecoder, HoldsBackPartialCharacters) {
  REQUIRE_QWEN();
  for (std::string ch : {"\u00e9", "\u20ac", "\u4e2d", "\U0001F600"}) {
    std::string text = "a" + ch + "b";
    std::vector<int32_t> ids;
    for (char c : text) ids.push_back(ByteToken(static_cast<uint8_t>(c)));
    std::vector<std::string> deltas;
    EXPECT_EQ(Stream(ids, false, &deltas), text);
    ASSERT_EQ(deltas.size(), text.size());
    EXPECT_EQ(deltas[0], "a");
    for (size_t i = 1; i < ch.size(); ++i) EXPECT_EQ(deltas[i], "") << i;
    EXPECT_EQ(deltas[ch.size()], ch);
  }
}

// Splitting the bytes of a text at every point into two tokens' worth gives the same text.
TEST(StreamDecoder, EverySplitPointOfMultibyteText) {
  REQUIRE_QWEN();
  const std::string text = "é€中😀👨‍👩‍👧 x";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    std::vector<int32_t> ids;  // Byte tokens, to cut inside characters.
    for (size_t i = 0; i < text.size(); ++i)
      ids.push_back(ByteToken(static_cast<uint8_t>(text[i])));
    std::vector<int32_t> head(ids.begin(), ids.begin() + cut);
    std::string streamed = Stream(ids, false, nullptr);
    EXPECT_EQ(streamed, text);
    // A stream that stops at the cut ends like the one-shot decode of the same ids.
    EXPECT_EQ(Stream(head, false, nullptr), *Qwen()->Decode(head)) << cut;
  }
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
  REQUIRE_QWEN();
  std::vector<int32_t> ids = {ByteToken('a'), ByteToken(0xff), ByteToken(0xe2), ByteToken(0x82),
                              ByteToken('b'), ByteToken(0xf0), ByteToken(0x9f)};
  std::vector<std::string> deltas;
  std::string all = Stream(ids, false, &deltas);
  EXPECT_EQ(all, *Qwen()->Decode(ids));
  EXPECT_EQ(all, "a\uFFFD\uFFFDb\uFFFD");
  EXPECT_EQ(deltas[1], "\uFFFD");   // 0xFF is known bad at once.
  EXPECT_EQ(deltas[4], "\uFFFDb");  // E2 82 is bad once 'b' arrives.
}

TEST(StreamDecoder, MatchesOneShotDecodeOnCorpus) {
  REQUIRE_QWEN();
  for (const testing::Golden& g : testing::ReadGoldens("qwen3_goldens.jsonl")) {
    for (bool skip : {false, true}) {
      EXPECT_EQ(Stream(g.ids, skip, nullptr), skip ? g.decoded_skip_special : g.decoded);
    }
  }
}

TEST(StreamDecoder, UnknownIdLeavesStateAlone) {
  REQUIRE_QWEN();
  StreamDecoder decoder(Qwen());
  EXPECT_EQ(*decoder.Add(ByteToken(0xe4)), "");
  EXPECT_EQ(decoder.Add(-5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder.pending_bytes(), 1u);
  EXPECT_EQ(*decoder.Add(ByteToken(0xb8)), "");
  EXPECT_EQ(*decoder.Add(ByteToken(0xad)), "中");
  EXPECT_EQ(decoder.Finish(), "");
}

TEST(StreamDecoder, FinishResetsForTheNextStream) {
  REQUIRE_QWEN();
  StreamDecoder decoder(Qwen());
  EXPECT_EQ(*decoder.Add(ByteToken(0xe4)), "");
  EXPECT_EQ(decoder.Finish(), "\uFFFD");
  EXPECT_EQ(*decoder.Add(ByteToken('x')), "x");
  EXPECT_EQ(decoder.Finish(), "");
}

}  // namespace
}  // namespace moeserve::tokenizer
