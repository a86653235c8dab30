#include "common/tiny_model.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bf16.h"
#include "common/model_spec.h"
#include "common/safetensors.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace moeserve {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t& s : s_) s = SplitMix64(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Approximately N(0, 1): the Irwin-Hall sum of 12 uniforms, centred. Exact integer arithmetic
  // and one exact conversion, so identical on every platform.
  double Normal() {
    int64_t sum = 0;
    for (int i = 0; i < 6; ++i) {
      const uint64_t r = Next();
      sum += static_cast<int64_t>(r >> 32) + static_cast<int64_t>(r & 0xFFFFFFFFull);
    }
    constexpr int64_t kMean = 6 * int64_t{0xFFFFFFFF};  // 12 x (2^32 - 1) / 2
    return static_cast<double>(sum - kMean) * 0x1p-32;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

struct Init {
  double mean = 0;
  double std = 0;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

absl::StatusOr<Init> InitFor(const TinyModelOptions& o, std::string_view name) {
  const double h = static_cast<double>(o.hidden_size);
  if (name == EmbedTokensName()) return Init{0, 1};
  if (name == LmHeadName()) return Init{0, o.lm_head_gain / std::sqrt(h)};
  if (EndsWith(name, "norm.weight")) return Init{1, o.norm_jitter};
  if (EndsWith(name, ".bias")) return Init{0, 0.1};
  if (EndsWith(name, "self_attn.o_proj.weight")) {
    return Init{0, 1 / std::sqrt(static_cast<double>(o.num_attention_heads * o.head_dim))};
  }
  if (EndsWith(name, "_proj.weight") && name.find("self_attn.") != std::string_view::npos) {
    return Init{0, 1 / std::sqrt(h)};
  }
  if (EndsWith(name, "mlp.gate.weight")) return Init{0, o.router_gain / std::sqrt(h)};
  if (EndsWith(name, "gate_proj.weight") || EndsWith(name, "up_proj.weight")) {
    return Init{0, 1 / std::sqrt(h)};
  }
  if (EndsWith(name, "down_proj.weight")) {
    const bool expert = ParseExpertWeightName(name).has_value();
    return Init{0, 1 / std::sqrt(static_cast<double>(expert ? o.moe_intermediate_size
                                                            : o.intermediate_size))};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tiny model: no initializer for tensor \"", Sv(name), "\""));
}

// model.safetensors, its index, HF shard names (model-00001-of-00003.safetensors) and the
// .tmp files WriteSafetensors renames from.
bool IsWeightFileName(std::string_view f) {
  if (EndsWith(f, ".tmp")) f.remove_suffix(4);
  if (f == "model.safetensors" || f == "model.safetensors.index.json") return true;
  return f.substr(0, 6) == "model-" && f.find("-of-") != std::string_view::npos &&
         EndsWith(f, ".safetensors");
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create (", std::strerror(errno), ")"));
  }
  out << text;
  out.flush();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

absl::Status WriteShard(const TinyModelOptions& options, const std::string& path,
                        const std::vector<ExpectedTensor>& tensors) {
  std::vector<TensorSpec> specs;
  for (const ExpectedTensor& t : tensors) specs.push_back({t.name, DType::kBF16, t.shape});
  return WriteSafetensors(
      path, std::move(specs),
      [&](const TensorSpec& spec, std::span<std::byte> out) {
        return FillTinyTensor(
            options, spec.name,
            std::span<uint16_t>(reinterpret_cast<uint16_t*>(out.data()), out.size() / 2));
      },
      {{"format", "pt"}});
}

}  // namespace

TinyModelOptions TinyModelOptions::Qwen3_30B_A3B(int64_t layers) {
  TinyModelOptions o;
  o.hidden_size = 2048;
  o.num_hidden_layers = layers;
  o.num_attention_heads = 32;
  o.num_key_value_heads = 4;
  o.head_dim = 128;
  o.num_experts = 128;
  o.num_experts_per_tok = 8;
  o.moe_intermediate_size = 768;
  o.intermediate_size = 6144;
  return o;
}

std::string TinyModelConfigJson(const TinyModelOptions& o) {
  // The keys of Qwen3-235B-A22B's config.json, in the same (sorted) order.
  Json j = {
      {"architectures", {"Qwen3MoeForCausalLM"}},
      {"attention_bias", o.attention_bias},
      {"attention_dropout", 0.0},
      {"bos_token_id", o.bos_token_id},
      {"decoder_sparse_step", o.decoder_sparse_step},
      {"eos_token_id", o.eos_token_id},
      {"head_dim", o.head_dim},
      {"hidden_act", "silu"},
      {"hidden_size", o.hidden_size},
      {"initializer_range", 0.02},
      {"intermediate_size", o.intermediate_size},
      {"max_position_embeddings", o.max_position_embeddings},
      {"max_window_layers", o.num_hidden_layers},
      {"mlp_only_layers", o.mlp_only_layers},
      {"model_type", "qwen3_moe"},
      {"moe_intermediate_size", o.moe_intermediate_size},
      {"norm_topk_prob", o.norm_topk_prob},
      {"num_attention_heads", o.num_attention_heads},
      {"num_experts", o.num_experts},
      {"num_experts_per_tok", o.num_experts_per_tok},
      {"num_hidden_layers", o.num_hidden_layers},
      {"num_key_value_heads", o.num_key_value_heads},
      {"output_router_logits", false},
      {"rms_norm_eps", o.rms_norm_eps},
      {"rope_scaling", nullptr},
      {"rope_theta", o.rope_theta},
      {"router_aux_loss_coef", 0.001},
      {"sliding_window", nullptr},
      {"tie_word_embeddings", o.tie_word_embeddings},
      {"torch_dtype", "bfloat16"},
      {"transformers_version", "4.51.0"},
      {"use_cache", true},
      {"use_sliding_window", false},
      {"vocab_size", o.vocab_size},
  };
  return j.dump(2) + "\n";
}

std::string TinyGenerationConfigJson(const TinyModelOptions& o) {
  // Qwen3's generation_config.json (thinking-mode sampling defaults).
  Json j = {
      {"bos_token_id", o.bos_token_id},
      {"do_sample", true},
      {"eos_token_id", {o.eos_token_id, o.bos_token_id}},  // <|im_end|>, <|endoftext|>
      {"pad_token_id", o.bos_token_id},
      {"temperature", 0.6},
      {"top_k", 20},
      {"top_p", 0.95},
      {"transformers_version", "4.51.0"},
  };
  return j.dump(2) + "\n";
}

absl::StatusOr<ModelConfig> TinyModelConfig(const TinyModelOptions& options) {
  return ParseModelConfig(TinyModelConfigJson(options), "tiny model config.json");
}

absl::Status FillTinyTensor(const TinyModelOptions& options, std::string_view name,
                            std::span<uint16_t> out) {
  ASSIGN_OR_RETURN(const Init init, InitFor(options, name));
  uint64_t seed_state = options.seed;
  Xoshiro256 rng(SplitMix64(seed_state) ^ Fnv1a64(name));
  for (uint16_t& v : out) {
    const double x = init.mean + init.std * rng.Normal();
    v = FloatToBf16(static_cast<float>(x));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint16_t>> TinyTensor(const TinyModelOptions& options,
                                                 std::string_view name) {
  ASSIGN_OR_RETURN(const ModelConfig config, TinyModelConfig(options));
  for (const ExpectedTensor& t : ExpectedTensors(config, SpecOptions())) {
    if (t.name != name) continue;
    std::vector<uint16_t> out(static_cast<size_t>(*NumElements(t.shape)));
    RETURN_IF_ERROR(FillTinyTensor(options, name, std::span<uint16_t>(out)));
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tiny model: no tensor \"", Sv(name), "\" in this configuration"));
}

absl::StatusOr<TinyModelSummary> WriteTinyModel(const TinyModelOptions& options,
                                                const std::string& dir) {
  ASSIGN_OR_RETURN(const ModelConfig config, TinyModelConfig(options));
  if (options.max_shard_bytes < 0) {
    return absl::InvalidArgumentError("tiny model: max_shard_bytes must not be negative");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot create directory (", ec.message(), ")"));
  }
  // Leftovers of an earlier write would confuse TensorStore (which prefers model.safetensors).
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (IsWeightFileName(e.path().filename().string())) fs::remove(e.path(), ec);
  }

  TinyModelSummary summary;
  RETURN_IF_ERROR(
      WriteTextFile((fs::path(dir) / "config.json").string(), TinyModelConfigJson(options)));
  RETURN_IF_ERROR(WriteTextFile((fs::path(dir) / "generation_config.json").string(),
                                TinyGenerationConfigJson(options)));
  summary.files = {"config.json", "generation_config.json"};

  const std::vector<ExpectedTensor> tensors = ExpectedTensors(config, SpecOptions());
  std::vector<std::vector<ExpectedTensor>> shards(1);
  int64_t shard_bytes = 0;
  for (const ExpectedTensor& t : tensors) {
    const int64_t nbytes = *NumElements(t.shape) * 2;
    summary.weight_bytes += nbytes;
    if (options.max_shard_bytes > 0 && !shards.back().empty() &&
        shard_bytes + nbytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(t);
    shard_bytes += nbytes;
  }
  summary.tensors = static_cast<int64_t>(tensors.size());
  if (options.max_shard_bytes == 0) {
    RETURN_IF_ERROR(WriteShard(options, (fs::path(dir) / "model.safetensors").string(), tensors));
    summary.files.push_back("model.safetensors");
  } else {
    Json weight_map = Json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string file =
          absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      RETURN_IF_ERROR(WriteShard(options, (fs::path(dir) / file).string(), shards[i]));
      for (const ExpectedTensor& t : shards[i]) weight_map[t.name] = file;
      summary.files.push_back(file);
    }
    const Json index = {{"metadata", {{"total_size", summary.weight_bytes}}},
                        {"weight_map", weight_map}};
    RETURN_IF_ERROR(WriteTextFile((fs::path(dir) / "model.safetensors.index.json").string(),
                                  index.dump(2) + "\n"));
    summary.files.push_back("model.safetensors.index.json");
  }

  if (!options.tokenizer_dir.empty()) {
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      const fs::path from = fs::path(options.tokenizer_dir) / f;
      fs::copy_file(from, fs::path(dir) / f, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        return absl::NotFoundError(
            absl::StrCat(from.string(), ": cannot copy tokenizer file (", ec.message(), ")"));
      }
      summary.files.push_back(f);
    }
    summary.wrote_tokenizer = true;
  }
  return summary;
}

}  // namespace moeserve
