#include "router/tokenizer/unicode.h"

#include <string>

#include "gtest/gtest.h"

namespace moeserve::tokenizer {
namespace {

std::string Lossy(std::string_view bytes) {
  std::string out;
  AppendUtf8Lossy(bytes, &out);
  return out;
}

TEST(Unicode, DecodesWellFormedCharacters) {
  for (char32_t cp : {U'a', U'\u00e9', U'\u20ac', U'\U0001F600', U'\U0010FFFF', U'\uFFFD'}) {
    std::string s;
    AppendUtf8(cp, &s);
    Utf8Step step = DecodeUtf8(s);
    EXPECT_EQ(step.kind, Utf8Step::kOk);
    EXPECT_EQ(step.cp, cp);
    EXPECT_EQ(step.length, s.size());
  }
}

TEST(Unicode, MaximalSubparts) {
  EXPECT_EQ(DecodeUtf8("\xff").kind, Utf8Step::kInvalid);
  EXPECT_EQ(DecodeUtf8("\xc0\xaf").length, 1);  // Overlong lead.
  EXPECT_EQ(DecodeUtf8("\xe0\x80\x80").length, 1);
  EXPECT_EQ(DecodeUtf8("\xed\xa0\x80").length, 1);  // Surrogate.
  EXPECT_EQ(DecodeUtf8("\xe2\x82x").length, 2);
  EXPECT_EQ(DecodeUtf8("\xe2\x82x").kind, Utf8Step::kInvalid);
  EXPECT_EQ(DecodeUtf8("\xe2\x82").kind, Utf8Step::kTruncated);
  EXPECT_EQ(DecodeUtf8("\xf0\x9f\x98").kind, Utf8Step::kTruncated);
  EXPECT_EQ(DecodeUtf8("\xf4\x90\x80\x80").length, 1);  // Above U+10FFFF.
}

TEST(Unicode, LossyMatchesPythonReplace) {
  // Expected strings as Python's bytes.decode('utf-8', 'replace') gives them.
  EXPECT_EQ(Lossy("abc"), "abc");
  EXPECT_EQ(Lossy("a\xff"
                  "b"),
            "a\uFFFD"
            "b");
  EXPECT_EQ(Lossy("\xe2\x82"), "\uFFFD");
  EXPECT_EQ(Lossy("\xe2\x82\xe2\x82\xac"), "\uFFFD\u20ac");
  EXPECT_EQ(Lossy("\xf0\x80\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(Lossy("\xed\xa0\x80"
                  "x"),
            "\uFFFD\uFFFD\uFFFDx");
  EXPECT_TRUE(IsValidUtf8("h\u00e9llo \U0001F600"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
}

TEST(Unicode, CharacterClasses) {
  EXPECT_TRUE(CharFlags(U'a') & kLetter);
  EXPECT_TRUE(CharFlags(U'\u4e2d') & kLetter);
  EXPECT_TRUE(CharFlags(U'\u0663') & kNumber);               // Arabic-Indic three.
  EXPECT_TRUE(CharFlags(U'\u00bd') & kNumber);               // Vulgar fraction one half (No).
  EXPECT_FALSE(CharFlags(U'\u0301') & (kLetter | kNumber));  // A mark is neither.
  for (char32_t s :
       {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00a0', U'\u2028', U'\u3000'}) {
    EXPECT_TRUE(CharFlags(s) & kSpace) << static_cast<uint32_t>(s);
  }
  EXPECT_FALSE(CharFlags(U'\u200b') & kSpace);  // Zero width space is not White_Space.
  EXPECT_TRUE(CharFlags(U'_') & kWord);
  EXPECT_TRUE(CharFlags(U'\u0301') & kWord);
  EXPECT_FALSE(CharFlags(U'-') & kWord);
  EXPECT_TRUE(CharFlags(U'\u0301') & kNfcUnsafe);
  EXPECT_FALSE(CharFlags(U'\u00e9') & kNfcUnsafe);
  EXPECT_FALSE(CharFlags(U'\uac00') & kNfcUnsafe);  // Hangul syllable.
  EXPECT_TRUE(CharFlags(U'\u11a8') & kNfcUnsafe);   // Trailing jamo composes.
  EXPECT_TRUE(CharFlags(U'\u212b') & kNfcUnsafe);   // Angstrom sign is a singleton.
  EXPECT_EQ(CharFlags(0x110000), 0);
}

}  // namespace
}  // namespace moeserve::tokenizer
