#include "common/model_spec.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace moeserve {
namespace {

using ::testing::HasSubstr;
using testutil::TempDir;

// A small MoE config with one dense layer (mlp_only_layers) and attention biases off.
ModelConfig SmallConfig() {
  ModelConfig c;
  c.model_type = "qwen3_moe";
  c.vocab_size = 64;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.moe_intermediate_size = 8;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 6;
  c.num_experts = 4;
  c.num_experts_per_tok = 2;
  c.mlp_only_layers = {1};
  return c;
}

// Writes DIR/model.safetensors with zero-filled tensors; `edit` may change the list first.
void WriteStore(const std::string& dir, std::vector<ExpectedTensor> tensors,
                DType dtype = DType::kBF16) {
  std::vector<TensorSpec> specs;
  for (const ExpectedTensor& t : tensors) specs.push_back({t.name, dtype, t.shape});
  ASSERT_TRUE(
      WriteSafetensors(dir + "/model.safetensors", specs,
                       [](const TensorSpec&, std::span<std::byte>) { return absl::OkStatus(); })
          .ok());
}

std::unique_ptr<TensorStore> Open(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(ModelSpec, NameHelpers) {
  EXPECT_EQ(EmbedTokensName(), "model.embed_tokens.weight");
  EXPECT_EQ(FinalNormName(), "model.norm.weight");
  EXPECT_EQ(LmHeadName(), "lm_head.weight");
  EXPECT_EQ(LayerNormName(3, LayerNormWeight::kInput), "model.layers.3.input_layernorm.weight");
  EXPECT_EQ(LayerNormName(3, LayerNormWeight::kPostAttention),
            "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(AttentionWeightName(0, AttentionWeight::kQProj),
            "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(AttentionWeightName(0, AttentionWeight::kKNorm),
            "model.layers.0.self_attn.k_norm.weight");
  EXPECT_EQ(AttentionWeightName(5, AttentionWeight::kOBias),
            "model.layers.5.self_attn.o_proj.bias");
  EXPECT_EQ(RouterWeightName(93), "model.layers.93.mlp.gate.weight");
  EXPECT_EQ(ExpertWeightName(3, 17, MlpWeight::kUpProj),
            "model.layers.3.mlp.experts.17.up_proj.weight");
  EXPECT_EQ(DenseMlpWeightName(1, MlpWeight::kDownProj), "model.layers.1.mlp.down_proj.weight");
}

TEST(ModelSpec, ParseExpertWeightName) {
  for (MlpWeight which : {MlpWeight::kGateProj, MlpWeight::kUpProj, MlpWeight::kDownProj}) {
    const std::optional<ExpertWeightId> id =
        ParseExpertWeightName(ExpertWeightName(93, 127, which));
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(*id, (ExpertWeightId{93, 127, which}));
  }
  for (const char* name :
       {"model.layers.3.mlp.gate.weight", "model.layers.3.mlp.gate_proj.weight",
        "model.layers.3.mlp.experts.7.up_proj.bias", "model.layers.03.mlp.experts.7.up_proj.weight",
        "model.layers.3.mlp.experts.-7.up_proj.weight",
        "model.layers.x.mlp.experts.7.up_proj.weight",
        "model.layers.3.mlp.experts.7.up_proj.weight.extra", "lm_head.weight"}) {
    EXPECT_FALSE(ParseExpertWeightName(name).has_value()) << name;
  }
}

TEST(ModelSpec, ExpectedTensorsShapes) {
  const ModelConfig c = SmallConfig();
  const std::vector<ExpectedTensor> all = ExpectedTensors(c, SpecOptions());
  // embed + norm + lm_head; per layer 8 attention/norm tensors; 2 MoE layers: router + 4 x 3
  // experts; 1 dense layer: 3.
  EXPECT_EQ(all.size(), 3u + 3 * 8 + 2 * (1 + 12) + 3);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const ExpectedTensor& t : all) shapes[t.name] = t.shape;
  using V = std::vector<int64_t>;
  EXPECT_EQ(shapes["model.embed_tokens.weight"], (V{64, 16}));
  EXPECT_EQ(shapes["lm_head.weight"], (V{64, 16}));
  EXPECT_EQ(shapes["model.norm.weight"], (V{16}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.q_proj.weight"], (V{24, 16}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.k_proj.weight"], (V{12, 16}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.v_proj.weight"], (V{12, 16}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.o_proj.weight"], (V{16, 24}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.q_norm.weight"], (V{6}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.k_norm.weight"], (V{6}));
  EXPECT_EQ(shapes["model.layers.0.mlp.gate.weight"], (V{4, 16}));
  EXPECT_EQ(shapes["model.layers.2.mlp.experts.3.gate_proj.weight"], (V{8, 16}));
  EXPECT_EQ(shapes["model.layers.2.mlp.experts.3.up_proj.weight"], (V{8, 16}));
  EXPECT_EQ(shapes["model.layers.2.mlp.experts.3.down_proj.weight"], (V{16, 8}));
  EXPECT_EQ(shapes["model.layers.1.mlp.gate_proj.weight"], (V{24, 16}));
  EXPECT_EQ(shapes["model.layers.1.mlp.down_proj.weight"], (V{16, 24}));
  EXPECT_EQ(shapes.count("model.layers.1.mlp.gate.weight"), 0u);
  EXPECT_EQ(shapes.count("model.layers.0.self_attn.q_proj.bias"), 0u);

  ModelConfig biased = c;
  biased.attention_bias = true;
  std::map<std::string, std::vector<int64_t>> b;
  for (const ExpectedTensor& t : ExpectedTensors(biased, SpecOptions())) b[t.name] = t.shape;
  EXPECT_EQ(b["model.layers.2.self_attn.q_proj.bias"], (V{24}));
  EXPECT_EQ(b["model.layers.2.self_attn.k_proj.bias"], (V{12}));
  EXPECT_EQ(b["model.layers.2.self_attn.v_proj.bias"], (V{12}));
  EXPECT_EQ(b["model.layers.2.self_attn.o_proj.bias"], (V{16}));
}

TEST(ModelSpec, CompleteStorePasses) {
  TempDir dir;
  const ModelConfig c = SmallConfig();
  WriteStore(dir.path(), ExpectedTensors(c, SpecOptions()));
  std::unique_ptr<TensorStore> store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(CheckTensors(c, *store).ok());
  EXPECT_TRUE(UnexpectedTensors(c, *store).empty());
}

TEST(ModelSpec, MissingTensor) {
  TempDir dir;
  const ModelConfig c = SmallConfig();
  std::vector<ExpectedTensor> tensors = ExpectedTensors(c, SpecOptions());
  const std::string gone = ExpertWeightName(2, 1, MlpWeight::kDownProj);
  std::erase_if(tensors, [&](const ExpectedTensor& t) { return t.name == gone; });
  WriteStore(dir.path(), tensors);
  std::unique_ptr<TensorStore> store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  const absl::Status s = CheckTensors(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Message(s), dir.path() + "/model.safetensors: tensor \"" + gone +
                            "\" is missing (expected shape [16, 8] = [hidden_size, "
                            "moe_intermediate_size])");

  // Checking only non-expert weights does not need it; checking expert 1 does.
  SpecOptions worker;
  worker.experts = false;
  EXPECT_TRUE(CheckTensors(c, *store, worker).ok());
  SpecOptions shard;
  shard.non_expert = false;
  shard.expert_filter = [](int64_t, int64_t e) { return e % 2 == 0; };
  EXPECT_TRUE(CheckTensors(c, *store, shard).ok());
  shard.expert_filter = [](int64_t, int64_t e) { return e == 1; };
  EXPECT_THAT(Message(CheckTensors(c, *store, shard)), HasSubstr(gone));
}

TEST(ModelSpec, WrongShapeAndCountsProblems) {
  TempDir dir;
  const ModelConfig c = SmallConfig();
  std::vector<ExpectedTensor> tensors = ExpectedTensors(c, SpecOptions());
  for (ExpectedTensor& t : tensors) {
    if (t.name == RouterWeightName(0)) t.shape = {16, 4};  // transposed
    if (t.name == FinalNormName()) t.shape = {17};
  }
  WriteStore(dir.path(), tensors);
  std::unique_ptr<TensorStore> store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Message(CheckTensors(c, *store)),
            dir.path() +
                "/model.safetensors: tensor \"model.layers.0.mlp.gate.weight\" has shape [16, "
                "4], expected [4, 16] = [num_experts, hidden_size] (and 1 more problems)");
}

TEST(ModelSpec, WrongDtype) {
  TempDir dir;
  const ModelConfig c = SmallConfig();
  WriteStore(dir.path(), ExpectedTensors(c, SpecOptions()), DType::kI16);
  std::unique_ptr<TensorStore> store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Message(CheckTensors(c, *store)),
              HasSubstr("/model.safetensors: tensor \"model.embed_tokens.weight\" has dtype I16, "
                        "expected one of BF16, F16, F32"));
  SpecOptions any;
  any.allowed_dtypes = {DType::kI16};
  EXPECT_TRUE(CheckTensors(c, *store, any).ok());
}

TEST(ModelSpec, TiedEmbeddingsAndExtras) {
  TempDir dir;
  ModelConfig c = SmallConfig();
  c.tie_word_embeddings = true;
  std::vector<ExpectedTensor> tensors = ExpectedTensors(c, SpecOptions());
  for (const ExpectedTensor& t : tensors) EXPECT_NE(t.name, LmHeadName());
  WriteStore(dir.path(), tensors);
  std::unique_ptr<TensorStore> store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(CheckTensors(c, *store).ok());

  // Extras (here a tied lm_head and a rotary buffer) are tolerated and listed.
  tensors.push_back({LmHeadName(), {64, 16}, ""});
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {3}, ""});
  WriteStore(dir.path(), tensors);
  store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(CheckTensors(c, *store).ok());
  EXPECT_THAT(
      UnexpectedTensors(c, *store),
      ::testing::ElementsAre("lm_head.weight", "model.layers.0.self_attn.rotary_emb.inv_freq"));

  // Untied: lm_head is required.
  c.tie_word_embeddings = false;
  tensors.pop_back();
  tensors.pop_back();
  WriteStore(dir.path(), tensors);
  store = Open(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Message(CheckTensors(c, *store)), HasSubstr("tensor \"lm_head.weight\" is missing"));
}

TEST(ModelSpec, DenseQwen3) {
  ModelConfig c = SmallConfig();
  c.model_type = "qwen3";
  c.num_experts = 0;
  c.num_experts_per_tok = 0;
  c.mlp_only_layers.clear();
  std::set<std::string> names;
  for (const ExpectedTensor& t : ExpectedTensors(c, SpecOptions())) names.insert(t.name);
  EXPECT_EQ(names.size(), 3u + 3 * (8 + 3));
  EXPECT_TRUE(names.count("model.layers.2.mlp.up_proj.weight"));
  for (const std::string& n : names) EXPECT_EQ(n.find("experts"), std::string::npos) << n;
}

TEST(ModelSpec, SpecSelector) {
  SpecOptions all;
  auto select = SpecSelector(all);
  EXPECT_TRUE(select("model.embed_tokens.weight"));
  EXPECT_TRUE(select(ExpertWeightName(0, 5, MlpWeight::kGateProj)));

  SpecOptions worker;
  worker.experts = false;
  select = SpecSelector(worker);
  EXPECT_TRUE(select(RouterWeightName(0)));
  EXPECT_TRUE(select("something.else"));
  EXPECT_FALSE(select(ExpertWeightName(0, 5, MlpWeight::kGateProj)));

  SpecOptions shard;
  shard.non_expert = false;
  shard.expert_filter = [](int64_t layer, int64_t expert) { return expert < 4 && layer == 1; };
  select = SpecSelector(shard);
  EXPECT_FALSE(select("model.embed_tokens.weight"));
  EXPECT_TRUE(select(ExpertWeightName(1, 3, MlpWeight::kDownProj)));
  EXPECT_FALSE(select(ExpertWeightName(1, 4, MlpWeight::kDownProj)));
  EXPECT_FALSE(select(ExpertWeightName(0, 3, MlpWeight::kDownProj)));
}

}  // namespace
}  // namespace moeserve
