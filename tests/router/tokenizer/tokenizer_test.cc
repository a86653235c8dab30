// Golden tests against Hugging Face `tokenizers` (tests/data/tokenizer/, made by
// tools/tokenizer/make_goldens.js), plus loading, lookups and error paths.
#include "router/tokenizer/tokenizer.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/router/tokenizer/test_util.h"

namespace moeserve::tokenizer {
namespace {

using ::testing::ElementsAre;
using testing::Golden;
using testing::Qwen;
using testing::ReadGoldens;

#define REQUIRE_QWEN()   \
  if (Qwen() == nullptr) \
  GTEST_SKIP() << "no " << testing::QwenTokenizerPath() << " (run scripts/setup)"

std::string Show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (int32_t id : ids) s += std::to_string(id) + ",";
  return s + "]";
}

TEST(Tokenizer, GoldenEncodeMatchesReference) {
  REQUIRE_QWEN();
  std::vector<Golden> goldens = ReadGoldens("qwen3_goldens.jsonl");
  ASSERT_GT(goldens.size(), 5000u);
  int mismatches = 0;
  for (const Golden& g : goldens) {
    std::vector<int32_t> ids = Qwen()->Encode(g.text);
    if (ids != g.ids && ++mismatches <= 20) {
      ADD_FAILURE() << "text " << nlohmann::json(g.text).dump() << "\n got  " << Show(ids)
                    << "\n want " << Show(g.ids);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << goldens.size();
}

TEST(Tokenizer, GoldenEncodeWithoutSpecialTokens) {
  REQUIRE_QWEN();
  int mismatches = 0;
  for (const Golden& g : ReadGoldens("qwen3_goldens.jsonl")) {
    std::vector<int32_t> ids = Qwen()->Encode(g.text, /*allow_special=*/false);
    if (ids != g.ids_no_special && ++mismatches <= 20) {
      ADD_FAILURE() << "text " << nlohmann::json(g.text).dump() << "\n got  " << Show(ids)
                    << "\n want " << Show(g.ids_no_special);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Tokenizer, GoldenDecodeMatchesReference) {
  REQUIRE_QWEN();
  int mismatches = 0;
  for (const Golden& g : ReadGoldens("qwen3_goldens.jsonl")) {
    absl::StatusOr<std::string> text = Qwen()->Decode(g.ids);
    absl::StatusOr<std::string> skipped = Qwen()->Decode(g.ids, /*skip_special=*/true);
    ASSERT_TRUE(text.ok() && skipped.ok()) << text.status() << skipped.status();
    if ((*text != g.decoded || *skipped != g.decoded_skip_special) && ++mismatches <= 20) {
      ADD_FAILURE() << "ids " << Show(g.ids) << "\n got  " << nlohmann::json(*text).dump()
                    << "\n want " << nlohmann::json(g.decoded).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// The same flags the reference honours, on a tokenizer whose added tokens use them.
TEST(Tokenizer, GoldenAddedTokenFlags) {
  REQUIRE_QWEN();
  std::optional<std::string> base = testing::ReadFile(testing::QwenTokenizerPath());
  std::optional<std::string> added =
      testing::ReadFile(testing::GoldenPath("flags_added_tokens.json"));
  ASSERT_TRUE(base && added);
  nlohmann::json j = nlohmann::json::parse(*base);
  j["added_tokens"] = nlohmann::json::parse(*added);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromJson(j.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  int mismatches = 0;
  std::vector<Golden> goldens = ReadGoldens("flags_goldens.jsonl");
  ASSERT_GT(goldens.size(), 100u);
  for (const Golden& g : goldens) {
    std::vector<int32_t> ids = (*tokenizer)->Encode(g.text);
    absl::StatusOr<std::string> text = (*tokenizer)->Decode(g.ids);
    absl::StatusOr<std::string> skipped = (*tokenizer)->Decode(g.ids, true);
    ASSERT_TRUE(text.ok() && skipped.ok());
    if ((ids != g.ids || *text != g.decoded || *skipped != g.decoded_skip_special) &&
        ++mismatches <= 20) {
      ADD_FAILURE() << "text " << nlohmann::json(g.text).dump() << "\n got  " << Show(ids) << " "
                    << nlohmann::json(*text).dump() << "\n want " << Show(g.ids) << " "
                    << nlohmann::json(g.decoded).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Tokenizer, RoundTripsCorpusToNfc) {
  REQUIRE_QWEN();
  for (const Golden& g : ReadGoldens("qwen3_goldens.jsonl")) {
    absl::StatusOr<std::string> text = Qwen()->Decode(Qwen()->Encode(g.text));
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, g.decoded) << nlohmann::json(g.text).dump();
  }
}

TEST(Tokenizer, Lookups) {
  REQUIRE_QWEN();
  EXPECT_EQ(Qwen()->vocab_size(), 151669);
  EXPECT_EQ(Qwen()->TokenToId("<|im_start|>"), 151644);
  EXPECT_EQ(Qwen()->TokenToId("<think>"), 151667);
  EXPECT_TRUE(Qwen()->IsSpecial(151644));
  EXPECT_FALSE(Qwen()->IsSpecial(151667));
  EXPECT_FALSE(Qwen()->IsSpecial(0));
  std::optional<int32_t> hello = Qwen()->TokenToId("Ġhello");
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(Qwen()->IdToToken(*hello), "Ġhello");
  EXPECT_EQ(Qwen()->IdToToken(151645), "<|im_end|>");
  EXPECT_EQ(Qwen()->IdToToken(-1), std::nullopt);
  EXPECT_EQ(Qwen()->IdToToken(151669), std::nullopt);
  EXPECT_EQ(Qwen()->TokenToId("no such token"), std::nullopt);
  EXPECT_THAT(Qwen()->Encode(" hello"), ElementsAre(*hello));
}

TEST(Tokenizer, SkipSpecialKeepsNonSpecialAddedTokens) {
  REQUIRE_QWEN();
  std::vector<int32_t> ids = Qwen()->Encode("<|im_start|>x<think>y</think><|im_end|>");
  EXPECT_EQ(*Qwen()->Decode(ids, true), "x<think>y</think>");
  EXPECT_EQ(*Qwen()->Decode(ids, false), "<|im_start|>x<think>y</think><|im_end|>");
}

TEST(Tokenizer, InvalidIdsAreErrors) {
  REQUIRE_QWEN();
  EXPECT_EQ(Qwen()->Decode({1, -1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Qwen()->Decode({151669}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Qwen()->Decode({1 << 30}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*Qwen()->Decode({}), "");
}

// Invalid UTF-8 is encoded as if each maximal ill-formed subpart were U+FFFD.
TEST(Tokenizer, InvalidUtf8EncodesAsReplacementCharacter) {
  REQUIRE_QWEN();
  const std::pair<std::string, std::string> cases[] = {
      {"a\xff"
       "b",
       "a\xef\xbf\xbd"
       "b"},
      {"\xe2\x82", "\xef\xbf\xbd"},
      {"\xe2\x82x\xc0\xaf", "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // A surrogate.
      {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {std::string("x\0y", 3), std::string("x\0y", 3)},
  };
  for (const auto& [raw, repaired] : cases) {
    EXPECT_EQ(Qwen()->Encode(raw), Qwen()->Encode(repaired)) << nlohmann::json(repaired).dump();
    EXPECT_EQ(*Qwen()->Decode(Qwen()->Encode(raw)), repaired);
  }
}

TEST(Tokenizer, DecodeRepairsPartialCharacters) {
  REQUIRE_QWEN();
  // "€" is E2 82 AC; byte-level tokens for single bytes split it.
  std::vector<int32_t> ids = Qwen()->Encode("€");
  std::string bytes;
  ASSERT_TRUE(Qwen()->AppendTokenBytes(ids, false, &bytes).ok());
  EXPECT_EQ(bytes, "€");
  std::vector<int32_t> e2 = {*Qwen()->TokenToId("â")};  // Byte 0xE2.
  EXPECT_EQ(*Qwen()->Decode(e2), "\xef\xbf\xbd");
}

TEST(Tokenizer, LoadErrors) {
  EXPECT_EQ(Tokenizer::FromFile("/nonexistent/dir").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Tokenizer::FromJson("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Tokenizer::FromJson("[]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Tokenizer::FromJson(R"({"model": {"type": "WordPiece"}})").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(Tokenizer, MergesAsStringsOrPairs) {
  REQUIRE_QWEN();
  std::optional<std::string> base = testing::ReadFile(testing::QwenTokenizerPath());
  nlohmann::json j = nlohmann::json::parse(*base);
  nlohmann::json& merges = j["model"]["merges"];
  nlohmann::json as_strings = nlohmann::json::array();
  for (const auto& m : merges) {
    as_strings.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  merges = as_strings;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromJson(j.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string text = "Merges may be spelled either way: 'a b' or [a, b]. 中文 😀";
  EXPECT_EQ((*tokenizer)->Encode(text), Qwen()->Encode(text));

  merges.push_back("Ġnot_in_vocab Ġx");
  EXPECT_EQ(Tokenizer::FromJson(j.dump()).status().code(), absl::StatusCode::kInvalidArgument);
  merges.erase(merges.size() - 1);
  merges.push_back("a b c");
  EXPECT_EQ(Tokenizer::FromJson(j.dump()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Tokenizer, ConcurrentEncodeIsConsistent) {
  REQUIRE_QWEN();
  std::vector<Golden> goldens = ReadGoldens("qwen3_goldens.jsonl");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < goldens.size(); i += 2) {
        if (Qwen()->Encode(goldens[i].text) != goldens[i].ids) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace moeserve::tokenizer
