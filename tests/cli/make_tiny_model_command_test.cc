#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/model_config.h"
#include "common/model_spec.h"
#include "common/safetensors.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace moeserve {
namespace {

using testutil::TempDir;

TEST(MakeTinyModelCommand, BadFlagsExitTwo) {
  TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--bogus"},
      {"--out"},
      {"--out", dir.path(), "--seed", "abc"},
      {"--out", dir.path(), "--seed", "-1"},
      {"--out", dir.path(), "--layers", "0"},
      {"--out", dir.path(), "--shard-mb", "x"},
      {"--out", dir.path(), "--tokenizer", dir.Join("nowhere")},
      {"extra", "--out", dir.path()},
  };
  for (const std::vector<std::string>& args : cases) {
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    EXPECT_EQ(cli::RunMakeTinyModel(args), 2) << joined;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.Join("config.json")));
}

TEST(MakeTinyModelCommand, OutputPassesCheckTensors) {
  TempDir dir;
  std::vector<std::string> args = {"--out", dir.path(),   "--seed=7", "--layers",
                                   "2",     "--shard-mb", "20"};
  const std::string tokenizer = std::string(MOESERVE_DATA_CACHE) + "/qwen3-tokenizer";
  const bool have_tokenizer = std::filesystem::exists(tokenizer + "/tokenizer.json");
  if (have_tokenizer) {
    args.push_back("--tokenizer");
    args.push_back(tokenizer);
  }
  ASSERT_EQ(cli::RunMakeTinyModel(args), 0);
  EXPECT_EQ(std::filesystem::exists(dir.Join("tokenizer.json")), have_tokenizer);
  EXPECT_EQ(std::filesystem::exists(dir.Join("tokenizer_config.json")), have_tokenizer);
  EXPECT_TRUE(std::filesystem::exists(dir.Join("model.safetensors.index.json")));

  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_hidden_layers, 2);
  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_GT((*store)->files().size(), 1u);
  const absl::Status check = CheckTensors(*config, **store);
  EXPECT_TRUE(check.ok()) << check;
}

}  // namespace
}  // namespace moeserve
