#include "router/tokenizer/bpe_model.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/tokenizer/byte_level.h"
#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

using ::testing::ElementsAre;

std::string Char(uint8_t b) {
  std::string s;
  AppendUtf8(ByteToChar(b), &s);
  return s;
}

// Byte tokens take ids 0..255; merged tokens follow.
std::unique_ptr<BpeModel> Toy(const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(Char(static_cast<uint8_t>(b)), b);
  int32_t next = 256;
  for (const auto& [a, b] : merges) {
    bool present = false;
    for (const auto& [token, id] : vocab) present |= token == a + b;
    if (!present) vocab.emplace_back(a + b, next++);
  }
  auto model = BpeModel::Create(vocab, merges);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

std::vector<int32_t> Encode(const BpeModel& model, std::string_view word) {
  std::vector<int32_t> ids;
  model.Encode(word, &ids);
  return ids;
}

TEST(BpeModel, ByteLevelAlphabet) {
  EXPECT_EQ(Char(' '), "\u0120");   // Ġ
  EXPECT_EQ(Char('\n'), "\u010a");  // Ċ
  EXPECT_EQ(Char('a'), "a");
  EXPECT_EQ(ByteLevelToBytes("\u0120hi"), " hi");
  EXPECT_EQ(ByteLevelToBytes("\u4e2d"), std::nullopt);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(CharToByte(ByteToChar(static_cast<uint8_t>(b))), b);
}

TEST(BpeModel, MergesByRankThenLeftmost) {
  auto model = Toy({{"b", "c"}, {"a", "b"}, {"a", "a"}});
  // "abc": (b,c) ranks first, then nothing joins a with bc.
  EXPECT_THAT(Encode(*model, "abc"), ElementsAre('a', 256));
  // "aaa": leftmost pair first.
  EXPECT_THAT(Encode(*model, "aaa"), ElementsAre(258, 'a'));
  EXPECT_THAT(Encode(*model, "x"), ElementsAre('x'));
  EXPECT_THAT(Encode(*model, std::string("\xff\x00", 2)), ElementsAre(255, 0));
}

// The simple scan (short words) and the priority queue (long words) give the same result.
TEST(BpeModel, LongWordsMatchShortWordAlgorithm) {
  auto model = Toy({{"a", "b"}, {"ab", "ab"}, {"b", "a"}, {"abab", "a"}, {"a", "a"}});
  std::string word;
  for (int i = 0; i < 200; ++i) word += (i * 7 % 3) ? "ab" : "a";
  std::vector<int32_t> long_ids = Encode(*model, word);
  std::vector<int32_t> pieces;
  std::string rebuilt;
  for (int32_t id : long_ids) rebuilt += *model->IdToBytes(id);
  EXPECT_EQ(rebuilt, word);
  // Cut at a point where no merge crosses ("x" merges with nothing): both halves agree.
  std::string half = word.substr(0, 40);
  std::vector<int32_t> a = Encode(*model, half + "x" + half);
  std::vector<int32_t> b = Encode(*model, half);
  b.push_back('x');
  std::vector<int32_t> c = Encode(*model, half);
  b.insert(b.end(), c.begin(), c.end());
  EXPECT_EQ(a, b);
  EXPECT_GT((half + "x" + half).size(), 64u);  // Uses the queue.
}

TEST(BpeModel, CacheGivesSameAnswers) {
  auto model = Toy({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}});
  for (int i = 0; i < 3; ++i) EXPECT_THAT(Encode(*model, "hello"), ElementsAre(259));
}

TEST(BpeModel, RejectsBadVocabularies) {
  std::vector<std::pair<std::string, int32_t>> vocab = {{"a", 0}};
  EXPECT_FALSE(BpeModel::Create(vocab, {}).ok());  // Missing byte tokens.
  std::vector<std::pair<std::string, int32_t>> full;
  for (int b = 0; b < 256; ++b) full.emplace_back(Char(static_cast<uint8_t>(b)), b);
  EXPECT_FALSE(BpeModel::Create(full, {{"a", "zz"}}).ok());
  full.emplace_back("\u4e2d", 256);  // Not byte-level text.
  EXPECT_FALSE(BpeModel::Create(full, {}).ok());
}

}  // namespace
}  // namespace moeserve::tokenizer
