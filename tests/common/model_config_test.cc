#include "common/model_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/temp_dir.h"

namespace moeserve {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// Qwen3-235B-A22B's config.json.
Json Qwen3MoeConfig() {
  return Json::parse(R"({
    "architectures": ["Qwen3MoeForCausalLM"],
    "attention_bias": false,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "decoder_sparse_step": 1,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 12288,
    "max_position_embeddings": 40960,
    "max_window_layers": 94,
    "mlp_only_layers": [],
    "model_type": "qwen3_moe",
    "moe_intermediate_size": 1536,
    "norm_topk_prob": true,
    "num_attention_heads": 64,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "num_hidden_layers": 94,
    "num_key_value_heads": 4,
    "output_router_logits": false,
    "rms_norm_eps": 1e-06,
    "rope_scaling": null,
    "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.001,
    "sliding_window": null,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": true,
    "use_sliding_window": false,
    "vocab_size": 151936
  })");
}

// Qwen3-8B's config.json (dense).
Json Qwen3DenseConfig() {
  return Json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": false,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "max_position_embeddings": 40960,
    "model_type": "qwen3",
    "num_attention_heads": 32,
    "num_hidden_layers": 36,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": null,
    "rope_theta": 1000000,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "vocab_size": 151936
  })");
}

absl::StatusOr<ModelConfig> Parse(const Json& j) {
  return ParseModelConfig(j.dump(), "config.json");
}

TEST(ModelConfig, ParsesQwen3Moe) {
  absl::StatusOr<ModelConfig> c = Parse(Qwen3MoeConfig());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen3_moe");
  EXPECT_EQ(c->vocab_size, 151936);
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->intermediate_size, 12288);
  EXPECT_EQ(c->moe_intermediate_size, 1536);
  EXPECT_EQ(c->num_hidden_layers, 94);
  EXPECT_EQ(c->num_attention_heads, 64);
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->num_experts, 128);
  EXPECT_EQ(c->num_experts_per_tok, 8);
  EXPECT_TRUE(c->norm_topk_prob);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->max_position_embeddings, 40960);
  EXPECT_EQ(c->rope_scaling.rope_type, "default");
  EXPECT_EQ(c->torch_dtype, "bfloat16");
  EXPECT_EQ(c->num_moe_layers(), 94);
  EXPECT_TRUE(c->IsMoeLayer(0));
  EXPECT_TRUE(c->IsMoeLayer(93));
}

TEST(ModelConfig, ParsesQwen3Dense) {
  absl::StatusOr<ModelConfig> c = Parse(Qwen3DenseConfig());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen3");
  EXPECT_EQ(c->num_experts, 0);
  EXPECT_EQ(c->num_experts_per_tok, 0);
  EXPECT_EQ(c->num_moe_layers(), 0);
  EXPECT_FALSE(c->IsMoeLayer(0));
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);  // written as an integer
}

TEST(ModelConfig, MlpOnlyLayersAndSparseStep) {
  Json j = Qwen3MoeConfig();
  j["num_hidden_layers"] = 6;
  j["mlp_only_layers"] = {0, 4};
  j["decoder_sparse_step"] = 2;
  absl::StatusOr<ModelConfig> c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  // HF: MoE iff not in mlp_only_layers and (i + 1) % step == 0.
  EXPECT_FALSE(c->IsMoeLayer(0));
  EXPECT_TRUE(c->IsMoeLayer(1));
  EXPECT_FALSE(c->IsMoeLayer(2));
  EXPECT_TRUE(c->IsMoeLayer(3));
  EXPECT_FALSE(c->IsMoeLayer(4));
  EXPECT_TRUE(c->IsMoeLayer(5));
  EXPECT_EQ(c->num_moe_layers(), 3);
}

TEST(ModelConfig, HeadDimDefaultsOnlyWhenAbsent) {
  Json j = Qwen3MoeConfig();
  j.erase("head_dim");
  absl::StatusOr<ModelConfig> c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 4096 / 64);

  j["head_dim"] = 256;  // explicit and != hidden / heads
  c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 256);
}

TEST(ModelConfig, Defaults) {
  Json j = Qwen3MoeConfig();
  for (const char* key : {"num_key_value_heads", "rms_norm_eps", "rope_theta", "norm_topk_prob",
                          "decoder_sparse_step", "mlp_only_layers", "tie_word_embeddings",
                          "max_position_embeddings", "rope_scaling"}) {
    j.erase(key);
  }
  absl::StatusOr<ModelConfig> c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_key_value_heads, 64);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_FALSE(c->norm_topk_prob);  // HF Qwen3MoeConfig default
  EXPECT_EQ(c->decoder_sparse_step, 1);
  EXPECT_TRUE(c->mlp_only_layers.empty());
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->max_position_embeddings, 32768);
  EXPECT_EQ(c->rope_scaling.rope_type, "default");
}

TEST(ModelConfig, YarnRopeScaling) {
  Json j = Qwen3MoeConfig();
  j["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  absl::StatusOr<ModelConfig> c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.rope_type, "yarn");
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(c->rope_scaling.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.beta_slow, 1.0);
  EXPECT_FALSE(c->rope_scaling.attention_factor.has_value());
  EXPECT_FALSE(c->rope_scaling.mscale.has_value());
  EXPECT_TRUE(c->rope_scaling.truncate);

  // The older "type" key, and every optional field.
  j["rope_scaling"] = {{"type", "yarn"},        {"factor", 2},      {"attention_factor", 1.5},
                       {"beta_fast", 16},       {"beta_slow", 2},   {"mscale", 0.7},
                       {"mscale_all_dim", 0.8}, {"truncate", false}};
  c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.rope_type, "yarn");
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 2.0);
  EXPECT_EQ(c->rope_scaling.attention_factor, 1.5);
  EXPECT_DOUBLE_EQ(c->rope_scaling.beta_fast, 16);
  EXPECT_DOUBLE_EQ(c->rope_scaling.beta_slow, 2);
  EXPECT_EQ(c->rope_scaling.mscale, 0.7);
  EXPECT_EQ(c->rope_scaling.mscale_all_dim, 0.8);
  EXPECT_FALSE(c->rope_scaling.truncate);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 0);
}

TEST(ModelConfig, RopeParameters) {
  Json j = Qwen3MoeConfig();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5000000.0}};
  absl::StatusOr<ModelConfig> c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_theta, 5e6);
  EXPECT_EQ(c->rope_scaling.rope_type, "default");

  j["rope_parameters"] = {{"rope_type", "yarn"},
                          {"rope_theta", 1000000.0},
                          {"factor", 4.0},
                          {"original_max_position_embeddings", 32768}};
  c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->rope_scaling.rope_type, "yarn");
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 4.0);
}

struct ErrorCase {
  std::string name;
  std::function<void(Json&)> mutate;
  std::string expected;  // a substring of the one-line message
};

TEST(ModelConfig, ErrorsNameFileAndField) {
  const std::vector<ErrorCase> cases = {
      {"kv heads", [](Json& j) { j["num_key_value_heads"] = 5; },
       "config.json: field \"num_key_value_heads\" must divide \"num_attention_heads\" "
       "(64 % 5 != 0)"},
      {"model type", [](Json& j) { j["model_type"] = "llama"; },
       "config.json: field \"model_type\" value \"llama\" is not supported"},
      {"missing model type", [](Json& j) { j.erase("model_type"); },
       "config.json: field \"model_type\" is required"},
      {"missing hidden", [](Json& j) { j.erase("hidden_size"); },
       "config.json: field \"hidden_size\" is required"},
      {"zero hidden", [](Json& j) { j["hidden_size"] = 0; },
       "config.json: field \"hidden_size\" must be positive (got 0)"},
      {"negative vocab", [](Json& j) { j["vocab_size"] = -1; },
       "config.json: field \"vocab_size\" must be positive (got -1)"},
      {"string layers", [](Json& j) { j["num_hidden_layers"] = "94"; },
       "config.json: field \"num_hidden_layers\" must be an integer (got \"94\")"},
      {"fractional layers", [](Json& j) { j["num_hidden_layers"] = 2.5; },
       "config.json: field \"num_hidden_layers\" must be an integer (got 2.5)"},
      {"zero heads", [](Json& j) { j["num_attention_heads"] = 0; },
       "config.json: field \"num_attention_heads\" must be positive"},
      {"zero head dim", [](Json& j) { j["head_dim"] = 0; },
       "config.json: field \"head_dim\" must be positive"},
      {"odd head dim", [](Json& j) { j["head_dim"] = 127; },
       "config.json: field \"head_dim\" must be even"},
      {"head dim absent, indivisible",
       [](Json& j) {
         j.erase("head_dim");
         j["num_attention_heads"] = 48;
         j["num_key_value_heads"] = 4;
         j["hidden_size"] = 4000;
       },
       "config.json: field \"head_dim\" is absent and \"hidden_size\" is not divisible"},
      {"top-k", [](Json& j) { j["num_experts_per_tok"] = 129; },
       "config.json: field \"num_experts_per_tok\" must not exceed \"num_experts\" (129 > 128)"},
      {"zero experts", [](Json& j) { j["num_experts"] = 0; },
       "config.json: field \"num_experts\" must be positive"},
      {"zero moe intermediate", [](Json& j) { j["moe_intermediate_size"] = 0; },
       "config.json: field \"moe_intermediate_size\" must be positive"},
      {"mlp only layer",
       [](Json& j) {
         j["mlp_only_layers"] = {3, 94};
       },
       "config.json: field \"mlp_only_layers\" entry 94 is out of range [0, 94)"},
      {"mlp only layers type", [](Json& j) { j["mlp_only_layers"] = 3; },
       "config.json: field \"mlp_only_layers\" must be a list of integers"},
      {"dense layer without intermediate",
       [](Json& j) {
         j["mlp_only_layers"] = {0};
         j.erase("intermediate_size");
       },
       "config.json: field \"intermediate_size\" must be positive"},
      {"sparse step", [](Json& j) { j["decoder_sparse_step"] = 0; },
       "config.json: field \"decoder_sparse_step\" must be positive"},
      {"norm topk type", [](Json& j) { j["norm_topk_prob"] = "yes"; },
       "config.json: field \"norm_topk_prob\" must be true or false"},
      {"eps", [](Json& j) { j["rms_norm_eps"] = 0; },
       "config.json: field \"rms_norm_eps\" must be positive"},
      {"rope theta", [](Json& j) { j["rope_theta"] = "big"; },
       "config.json: field \"rope_theta\" must be a number"},
      {"sliding window", [](Json& j) { j["use_sliding_window"] = true; },
       "config.json: field \"use_sliding_window\" true is not supported"},
      {"activation", [](Json& j) { j["hidden_act"] = "gelu"; },
       "config.json: field \"hidden_act\" value \"gelu\" is not supported"},
      {"rope type",
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2}};
       },
       "config.json: field \"rope_scaling.rope_type\" value \"linear\" is not supported"},
      {"rope old type",
       [](Json& j) {
         j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2}};
       },
       "config.json: field \"rope_scaling.type\" value \"dynamic\" is not supported"},
      {"rope not object", [](Json& j) { j["rope_scaling"] = "yarn"; },
       "config.json: field \"rope_scaling\" must be an object or null"},
      {"yarn factor",
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 0.5}};
       },
       "config.json: field \"rope_scaling.factor\" must be >= 1 for yarn"},
      {"yarn original max",
       [](Json& j) {
         j["rope_scaling"] = {
             {"rope_type", "yarn"}, {"factor", 4}, {"original_max_position_embeddings", "x"}};
       },
       "config.json: field \"rope_scaling.original_max_position_embeddings\" must be an integer"},
      {"rope parameters theta",
       [](Json& j) {
         j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", -1}};
       },
       "config.json: field \"rope_parameters.rope_theta\" must be positive"},
      {"rope parameters type",
       [](Json& j) {
         j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 1e6}};
       },
       "config.json: field \"rope_parameters.rope_type\" value \"llama3\" is not supported"},
  };
  for (const ErrorCase& c : cases) {
    Json j = Qwen3MoeConfig();
    c.mutate(j);
    absl::StatusOr<ModelConfig> parsed = Parse(j);
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.expected)) << c.name;
    EXPECT_EQ(std::string(parsed.status().message()).find('\n'), std::string::npos) << c.name;
  }
}

TEST(ModelConfig, InvalidJsonIsOneLine) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig("{\"vocab_size\": 1,\n", "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("config.json: invalid JSON"));
  EXPECT_EQ(std::string(c.status().message()).find('\n'), std::string::npos);

  c = ParseModelConfig("[1, 2]", "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("config.json: expected a JSON object"));
}

TEST(GenerationConfig, ParsesQwen3) {
  absl::StatusOr<GenerationConfig> g = ParseGenerationConfig(R"({
    "bos_token_id": 151643, "do_sample": true, "eos_token_id": [151645, 151643],
    "pad_token_id": 151643, "temperature": 0.6, "top_k": 20, "top_p": 0.95,
    "transformers_version": "4.51.0"})",
                                                             "generation_config.json");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(151645, 151643));
  EXPECT_EQ(g->bos_token_id, 151643);
  EXPECT_EQ(g->pad_token_id, 151643);
  EXPECT_EQ(g->do_sample, true);
  EXPECT_EQ(g->temperature, 0.6);
  EXPECT_EQ(g->top_k, 20);
  EXPECT_EQ(g->top_p, 0.95);
  EXPECT_FALSE(g->min_p.has_value());
  EXPECT_FALSE(g->repetition_penalty.has_value());
}

TEST(GenerationConfig, EosAsInt) {
  absl::StatusOr<GenerationConfig> g =
      ParseGenerationConfig(R"({"eos_token_id": 151645})", "generation_config.json");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(151645));
}

TEST(GenerationConfig, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"eos_token_id": "x"})",
       "generation_config.json: field \"eos_token_id\" must be an "
       "integer"},
      {R"({"eos_token_id": [1, -2]})",
       "generation_config.json: field \"eos_token_id\" has a negative id"},
      {R"({"top_p": 1.5})", "generation_config.json: field \"top_p\" must be in (0, 1]"},
      {R"({"temperature": -1})", "generation_config.json: field \"temperature\" must not be"},
      {R"({"top_k": 2.5})", "generation_config.json: field \"top_k\" must be an integer"},
      {R"({"do_sample": 1})", "generation_config.json: field \"do_sample\" must be true or false"},
      {R"({"min_p": 2})", "generation_config.json: field \"min_p\" must be in [0, 1]"},
      {R"({"top_k": 20,})", "generation_config.json: invalid JSON"},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<GenerationConfig> g = ParseGenerationConfig(text, "generation_config.json");
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_THAT(std::string(g.status().message()), HasSubstr(expected)) << text;
  }
}

TEST(LoadConfig, ReadsDirectoryAndFallsBackForEos) {
  testutil::TempDir dir;
  testutil::WriteFile(dir.Join("config.json"), Qwen3MoeConfig().dump());
  absl::StatusOr<ModelConfig> c = LoadModelConfig(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_experts, 128);

  // No generation_config.json: defaults, eos and bos from config.json.
  absl::StatusOr<GenerationConfig> g = LoadGenerationConfig(dir.path());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(151645));
  EXPECT_EQ(g->bos_token_id, 151643);
  EXPECT_FALSE(g->temperature.has_value());

  // generation_config.json wins where it speaks.
  testutil::WriteFile(dir.Join("generation_config.json"),
                      R"({"eos_token_id": [151645, 151643], "temperature": 0.6})");
  g = LoadGenerationConfig(dir.path());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(151645, 151643));
  EXPECT_EQ(g->temperature, 0.6);
  EXPECT_EQ(g->bos_token_id, 151643);  // from config.json

  // Errors name the file by its path.
  testutil::WriteFile(dir.Join("generation_config.json"), R"({"top_p": 7})");
  g = LoadGenerationConfig(dir.path());
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(std::string(g.status().message()),
              HasSubstr(dir.Join("generation_config.json") + ": field \"top_p\""));
}

TEST(LoadConfig, MissingFile) {
  testutil::TempDir dir;
  absl::StatusOr<ModelConfig> c = LoadModelConfig(dir.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(dir.Join("config.json")));
}

}  // namespace
}  // namespace moeserve
