#include "router/tokenizer/normalizer.h"

#include <string>

#include "gtest/gtest.h"

namespace moeserve::tokenizer {
namespace {

std::string Nfc(std::string_view text) {
  std::string out;
  AppendNfc(text, &out);
  return out;
}

TEST(Normalizer, CopiesSafeText) {
  EXPECT_EQ(Nfc("hello, world"), "hello, world");
  EXPECT_EQ(Nfc("中文 한국어 😀 café"), "中文 한국어 😀 café");
  EXPECT_TRUE(IsTriviallyNfc("中文 한국어 😀 café"));
  EXPECT_FALSE(IsTriviallyNfc("cafe\u0301"));
}

TEST(Normalizer, Composes) {
  EXPECT_EQ(Nfc("cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(Nfc("xe\u0301ye\u0301z"), "x\u00e9y\u00e9z");
  EXPECT_EQ(Nfc("\u1100\u1161\u11a8"), "\uac01");  // Jamo to a syllable.
  EXPECT_EQ(Nfc("\uac00\u11a8"), "\uac01");        // LV + T.
  EXPECT_EQ(Nfc("\u212b"), "\u00c5");              // Singleton.
  EXPECT_EQ(Nfc("a\u0323\u0302"), "\u1ead");       // Reordered then composed.
  EXPECT_EQ(Nfc("a\u0302\u0323"), "\u1ead");
  EXPECT_EQ(Nfc("\u0301"), "\u0301");  // Nothing to compose with.
  EXPECT_EQ(Nfc("e\u0301e\u0301"), "\u00e9\u00e9");
}

// Characters newer than the reference's NFC tables act as plain starters.
TEST(Normalizer, OpaqueCharactersBlock) {
  // U+07FD (Unicode 11, ccc 220) is unknown to the reference: no reordering around it.
  EXPECT_EQ(Nfc("a\u0334\u07fd"), "a\u0334\u07fd");
  EXPECT_EQ(Nfc("a\u07fd\u0301"), "a\u07fd\u0301");
  EXPECT_EQ(Nfc("e\u0301\u07fd"), "\u00e9\u07fd");
}

}  // namespace
}  // namespace moeserve::tokenizer
