#include "common/model_config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace moeserve {
namespace {

using Json = nlohmann::json;

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Names the file (and field) in every error this parser returns.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  absl::Status Error(std::string_view field, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": field \"", prefix_, Sv(field), "\" ", Sv(what)));
  }

  bool Has(std::string_view field) const {
    auto it = object_.find(field);
    return it != object_.end() && !it->is_null();
  }

  // Integers may be written as 4096 or 4096.0; anything fractional, out of range or non-numeric
  // is an error.
  absl::StatusOr<int64_t> Int(std::string_view field, std::optional<int64_t> fallback) const {
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) {
      if (fallback) return *fallback;
      return Error(field, "is required");
    }
    return AsInt(field, *it);
  }

  absl::StatusOr<int64_t> AsInt(std::string_view field, const Json& v) const {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() &&
          v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Error(field, "is out of range");
      }
      return v.get<int64_t>();
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
        return static_cast<int64_t>(d);
      }
      return Error(field, absl::StrCat("must be an integer (got ", v.dump(), ")"));
    }
    return Error(field, absl::StrCat("must be an integer (got ", v.dump(), ")"));
  }

  absl::StatusOr<double> Double(std::string_view field, std::optional<double> fallback) const {
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) {
      if (fallback) return *fallback;
      return Error(field, "is required");
    }
    if (!it->is_number()) {
      return Error(field, absl::StrCat("must be a number (got ", it->dump(), ")"));
    }
    const double d = it->get<double>();
    if (!std::isfinite(d)) return Error(field, "must be finite");
    return d;
  }

  absl::StatusOr<std::optional<double>> OptionalDouble(std::string_view field) const {
    if (!Has(field)) return std::optional<double>();
    ASSIGN_OR_RETURN(double d, Double(field, std::nullopt));
    return std::optional<double>(d);
  }

  absl::StatusOr<bool> Bool(std::string_view field, bool fallback) const {
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) {
      return Error(field, absl::StrCat("must be true or false (got ", it->dump(), ")"));
    }
    return it->get<bool>();
  }

  absl::StatusOr<std::string> String(std::string_view field,
                                     std::optional<std::string> fallback) const {
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) {
      if (fallback) return *fallback;
      return Error(field, "is required");
    }
    if (!it->is_string()) {
      return Error(field, absl::StrCat("must be a string (got ", it->dump(), ")"));
    }
    return it->get<std::string>();
  }

  // An integer or a list of integers (eos_token_id); absent or null gives an empty list.
  absl::StatusOr<std::vector<int64_t>> IntOrIntList(std::string_view field) const {
    std::vector<int64_t> out;
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) return out;
    if (it->is_array()) {
      for (const Json& v : *it) {
        ASSIGN_OR_RETURN(int64_t x, AsInt(field, v));
        out.push_back(x);
      }
      return out;
    }
    ASSIGN_OR_RETURN(int64_t x, AsInt(field, *it));
    out.push_back(x);
    return out;
  }

  absl::StatusOr<std::vector<int64_t>> IntList(std::string_view field) const {
    std::vector<int64_t> out;
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) return out;
    if (!it->is_array()) {
      return Error(field, absl::StrCat("must be a list of integers (got ", it->dump(), ")"));
    }
    for (const Json& v : *it) {
      ASSIGN_OR_RETURN(int64_t x, AsInt(field, v));
      out.push_back(x);
    }
    return out;
  }

  absl::StatusOr<std::optional<int64_t>> OptionalInt(std::string_view field) const {
    if (!Has(field)) return std::optional<int64_t>();
    ASSIGN_OR_RETURN(int64_t x, Int(field, std::nullopt));
    return std::optional<int64_t>(x);
  }

  const std::string& source() const { return source_; }

 private:
  const Json& object_;
  std::string source_;
  std::string prefix_;
};

absl::StatusOr<Json> ParseJsonObject(const std::string& text, const std::string& source) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid JSON: ", what));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  }
  return j;
}

absl::Status RequirePositive(const FieldReader& r, std::string_view field, int64_t v) {
  if (v <= 0) return r.Error(field, absl::StrCat("must be positive (got ", v, ")"));
  return absl::OkStatus();
}

// Parses rope_scaling or rope_parameters (`key`); `rope_theta` is only read from the latter.
absl::Status ParseRope(const Json& object, const std::string& key, const std::string& source,
                       ModelConfig& config) {
  FieldReader r(object, source, key + ".");
  RopeScaling& rope = config.rope_scaling;
  std::string type = "default";
  if (r.Has("rope_type")) {
    ASSIGN_OR_RETURN(type, r.String("rope_type", std::nullopt));
  } else if (r.Has("type")) {
    ASSIGN_OR_RETURN(type, r.String("type", std::nullopt));
  }
  if (type != "default" && type != "yarn") {
    return r.Error(
        r.Has("rope_type") ? "rope_type" : "type",
        absl::StrCat("value \"", type, "\" is not supported (supported: \"default\", \"yarn\")"));
  }
  rope.rope_type = type;
  ASSIGN_OR_RETURN(rope.factor, r.Double("factor", 1.0));
  if (rope.factor <= 0) {
    return r.Error("factor", absl::StrCat("must be positive (got ", rope.factor, ")"));
  }
  if (type == "yarn" && rope.factor < 1.0) {
    return r.Error("factor", absl::StrCat("must be >= 1 for yarn (got ", rope.factor, ")"));
  }
  ASSIGN_OR_RETURN(rope.attention_factor, r.OptionalDouble("attention_factor"));
  if (rope.attention_factor && *rope.attention_factor < 0) {
    return r.Error("attention_factor", "must not be negative");
  }
  ASSIGN_OR_RETURN(rope.beta_fast, r.Double("beta_fast", 32.0));
  ASSIGN_OR_RETURN(rope.beta_slow, r.Double("beta_slow", 1.0));
  if (rope.beta_fast < rope.beta_slow) {
    return r.Error("beta_fast", absl::StrCat("must be >= beta_slow (", rope.beta_fast, " < ",
                                             rope.beta_slow, ")"));
  }
  ASSIGN_OR_RETURN(rope.mscale, r.OptionalDouble("mscale"));
  ASSIGN_OR_RETURN(rope.mscale_all_dim, r.OptionalDouble("mscale_all_dim"));
  ASSIGN_OR_RETURN(rope.original_max_position_embeddings,
                   r.Int("original_max_position_embeddings", 0));
  if (rope.original_max_position_embeddings < 0) {
    return r.Error("original_max_position_embeddings", "must not be negative");
  }
  ASSIGN_OR_RETURN(rope.truncate, r.Bool("truncate", true));
  if (key == "rope_parameters" && r.Has("rope_theta")) {
    ASSIGN_OR_RETURN(config.rope_theta, r.Double("rope_theta", std::nullopt));
    if (config.rope_theta <= 0) return r.Error("rope_theta", "must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open (", std::strerror(errno), ")"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return ss.str();
}

std::string JoinPath(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

}  // namespace

bool ModelConfig::IsMoeLayer(int64_t layer) const {
  if (num_experts <= 0) return false;
  if (std::find(mlp_only_layers.begin(), mlp_only_layers.end(), layer) != mlp_only_layers.end()) {
    return false;
  }
  return decoder_sparse_step > 0 && (layer + 1) % decoder_sparse_step == 0;
}

int64_t ModelConfig::num_moe_layers() const {
  int64_t n = 0;
  for (int64_t i = 0; i < num_hidden_layers; ++i) n += IsMoeLayer(i) ? 1 : 0;
  return n;
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source) {
  ASSIGN_OR_RETURN(Json j, ParseJsonObject(json_text, source));
  FieldReader r(j, source);
  ModelConfig c;
  ASSIGN_OR_RETURN(c.model_type, r.String("model_type", std::nullopt));
  if (c.model_type != "qwen3_moe" && c.model_type != "qwen3") {
    return r.Error("model_type", absl::StrCat("value \"", c.model_type,
                                              "\" is not supported (supported: \"qwen3_moe\", "
                                              "\"qwen3\")"));
  }
  const bool moe = c.model_type == "qwen3_moe";

  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", std::nullopt));
  RETURN_IF_ERROR(RequirePositive(r, "vocab_size", c.vocab_size));
  ASSIGN_OR_RETURN(c.hidden_size, r.Int("hidden_size", std::nullopt));
  RETURN_IF_ERROR(RequirePositive(r, "hidden_size", c.hidden_size));
  ASSIGN_OR_RETURN(c.num_hidden_layers, r.Int("num_hidden_layers", std::nullopt));
  RETURN_IF_ERROR(RequirePositive(r, "num_hidden_layers", c.num_hidden_layers));
  ASSIGN_OR_RETURN(c.num_attention_heads, r.Int("num_attention_heads", std::nullopt));
  RETURN_IF_ERROR(RequirePositive(r, "num_attention_heads", c.num_attention_heads));
  // HF: num_key_value_heads defaults to num_attention_heads (MHA).
  ASSIGN_OR_RETURN(c.num_key_value_heads, r.Int("num_key_value_heads", c.num_attention_heads));
  RETURN_IF_ERROR(RequirePositive(r, "num_key_value_heads", c.num_key_value_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return r.Error("num_key_value_heads",
                   absl::StrCat("must divide \"num_attention_heads\" (", c.num_attention_heads,
                                " % ", c.num_key_value_heads, " != 0)"));
  }
  if (r.Has("head_dim")) {
    ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", std::nullopt));
    RETURN_IF_ERROR(RequirePositive(r, "head_dim", c.head_dim));
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return r.Error("head_dim",
                     absl::StrCat("is absent and \"hidden_size\" is not divisible by "
                                  "\"num_attention_heads\" (",
                                  c.hidden_size, " % ", c.num_attention_heads, " != 0)"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) {
    return r.Error("head_dim",
                   absl::StrCat("must be even for rotary embeddings (got ", c.head_dim, ")"));
  }

  ASSIGN_OR_RETURN(c.intermediate_size, r.Int("intermediate_size", 0));
  if (c.intermediate_size < 0) return r.Error("intermediate_size", "must not be negative");
  if (moe) {
    ASSIGN_OR_RETURN(c.num_experts, r.Int("num_experts", std::nullopt));
    RETURN_IF_ERROR(RequirePositive(r, "num_experts", c.num_experts));
    ASSIGN_OR_RETURN(c.num_experts_per_tok, r.Int("num_experts_per_tok", std::nullopt));
    RETURN_IF_ERROR(RequirePositive(r, "num_experts_per_tok", c.num_experts_per_tok));
    if (c.num_experts_per_tok > c.num_experts) {
      return r.Error("num_experts_per_tok",
                     absl::StrCat("must not exceed \"num_experts\" (", c.num_experts_per_tok, " > ",
                                  c.num_experts, ")"));
    }
    ASSIGN_OR_RETURN(c.moe_intermediate_size, r.Int("moe_intermediate_size", std::nullopt));
    RETURN_IF_ERROR(RequirePositive(r, "moe_intermediate_size", c.moe_intermediate_size));
    ASSIGN_OR_RETURN(c.decoder_sparse_step, r.Int("decoder_sparse_step", 1));
    RETURN_IF_ERROR(RequirePositive(r, "decoder_sparse_step", c.decoder_sparse_step));
    ASSIGN_OR_RETURN(c.mlp_only_layers, r.IntList("mlp_only_layers"));
    for (int64_t layer : c.mlp_only_layers) {
      if (layer < 0 || layer >= c.num_hidden_layers) {
        return r.Error("mlp_only_layers", absl::StrCat("entry ", layer, " is out of range [0, ",
                                                       c.num_hidden_layers, ")"));
      }
    }
    // HF's Qwen3MoeConfig default is False; every released Qwen3 MoE config sets it to true.
    ASSIGN_OR_RETURN(c.norm_topk_prob, r.Bool("norm_topk_prob", false));
  } else {
    c.num_experts = 0;
    c.num_experts_per_tok = 0;
    c.moe_intermediate_size = 0;
    c.decoder_sparse_step = 1;
    c.mlp_only_layers.clear();
    c.norm_topk_prob = false;
  }
  if (c.num_moe_layers() < c.num_hidden_layers) {
    RETURN_IF_ERROR(RequirePositive(r, "intermediate_size", c.intermediate_size));
  }

  ASSIGN_OR_RETURN(c.tie_word_embeddings, r.Bool("tie_word_embeddings", false));
  ASSIGN_OR_RETURN(c.attention_bias, r.Bool("attention_bias", false));
  ASSIGN_OR_RETURN(c.rms_norm_eps, r.Double("rms_norm_eps", 1e-6));
  if (c.rms_norm_eps <= 0) return r.Error("rms_norm_eps", "must be positive");
  ASSIGN_OR_RETURN(c.rope_theta, r.Double("rope_theta", 10000.0));
  if (c.rope_theta <= 0) return r.Error("rope_theta", "must be positive");
  ASSIGN_OR_RETURN(c.max_position_embeddings, r.Int("max_position_embeddings", 32768));
  RETURN_IF_ERROR(RequirePositive(r, "max_position_embeddings", c.max_position_embeddings));

  ASSIGN_OR_RETURN(bool sliding, r.Bool("use_sliding_window", false));
  if (sliding) return r.Error("use_sliding_window", "true is not supported");
  if (r.Has("hidden_act")) {
    ASSIGN_OR_RETURN(std::string act, r.String("hidden_act", std::nullopt));
    if (act != "silu") {
      return r.Error("hidden_act",
                     absl::StrCat("value \"", act, "\" is not supported (supported: \"silu\")"));
    }
  }

  // transformers >= 4.56 writes rope_parameters (with rope_theta inside); older ones write
  // rope_scaling. When both are present rope_parameters wins.
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_object()) {
      return r.Error(key, absl::StrCat("must be an object or null (got ", it->dump(), ")"));
    }
    c.rope_scaling = RopeScaling();
    RETURN_IF_ERROR(ParseRope(*it, key, source, c));
  }

  // Newer transformers write "dtype"; older "torch_dtype". Informational only.
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (r.Has(key)) {
      ASSIGN_OR_RETURN(c.torch_dtype, r.String(key, std::nullopt));
    }
  }
  return c;
}

absl::StatusOr<GenerationConfig> ParseGenerationConfig(const std::string& json_text,
                                                       const std::string& source) {
  ASSIGN_OR_RETURN(Json j, ParseJsonObject(json_text, source));
  FieldReader r(j, source);
  GenerationConfig g;
  ASSIGN_OR_RETURN(g.eos_token_ids, r.IntOrIntList("eos_token_id"));
  for (int64_t id : g.eos_token_ids) {
    if (id < 0) return r.Error("eos_token_id", absl::StrCat("has a negative id (", id, ")"));
  }
  ASSIGN_OR_RETURN(g.bos_token_id, r.OptionalInt("bos_token_id"));
  ASSIGN_OR_RETURN(g.pad_token_id, r.OptionalInt("pad_token_id"));
  if (r.Has("do_sample")) {
    ASSIGN_OR_RETURN(bool b, r.Bool("do_sample", false));
    g.do_sample = b;
  }
  ASSIGN_OR_RETURN(g.temperature, r.OptionalDouble("temperature"));
  if (g.temperature && *g.temperature < 0) {
    return r.Error("temperature", absl::StrCat("must not be negative (got ", *g.temperature, ")"));
  }
  ASSIGN_OR_RETURN(g.top_p, r.OptionalDouble("top_p"));
  if (g.top_p && (*g.top_p <= 0 || *g.top_p > 1)) {
    return r.Error("top_p", absl::StrCat("must be in (0, 1] (got ", *g.top_p, ")"));
  }
  ASSIGN_OR_RETURN(g.top_k, r.OptionalInt("top_k"));
  if (g.top_k && *g.top_k < 0) {
    return r.Error("top_k", absl::StrCat("must not be negative (got ", *g.top_k, ")"));
  }
  ASSIGN_OR_RETURN(g.min_p, r.OptionalDouble("min_p"));
  if (g.min_p && (*g.min_p < 0 || *g.min_p > 1)) {
    return r.Error("min_p", absl::StrCat("must be in [0, 1] (got ", *g.min_p, ")"));
  }
  ASSIGN_OR_RETURN(g.repetition_penalty, r.OptionalDouble("repetition_penalty"));
  if (g.repetition_penalty && *g.repetition_penalty <= 0) {
    return r.Error("repetition_penalty", "must be positive");
  }
  return g;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir) {
  const std::string path = JoinPath(dir, "config.json");
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseModelConfig(text, path);
}

absl::StatusOr<GenerationConfig> LoadGenerationConfig(const std::string& dir) {
  const std::string path = JoinPath(dir, "generation_config.json");
  GenerationConfig g;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    ASSIGN_OR_RETURN(g, ParseGenerationConfig(text, path));
  }
  const std::string config_path = JoinPath(dir, "config.json");
  if ((g.eos_token_ids.empty() || !g.bos_token_id) && std::filesystem::exists(config_path, ec)) {
    // Fall back to config.json's token ids (HF does the same when generation_config.json is
    // absent or lacks them).
    ASSIGN_OR_RETURN(std::string text, ReadFile(config_path));
    ASSIGN_OR_RETURN(Json j, ParseJsonObject(text, config_path));
    FieldReader r(j, config_path);
    if (g.eos_token_ids.empty()) {
      ASSIGN_OR_RETURN(g.eos_token_ids, r.IntOrIntList("eos_token_id"));
    }
    if (!g.bos_token_id) {
      ASSIGN_OR_RETURN(g.bos_token_id, r.OptionalInt("bos_token_id"));
    }
  }
  return g;
}

}  // namespace moeserve
