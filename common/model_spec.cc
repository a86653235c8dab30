#include "common/model_spec.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace moeserve {
namespace {

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

const char* MlpSuffix(MlpWeight which) {
  switch (which) {
    case MlpWeight::kGateProj:
      return "gate_proj";
    case MlpWeight::kUpProj:
      return "up_proj";
    case MlpWeight::kDownProj:
      return "down_proj";
  }
  return "?";
}

std::string LayerPrefix(int64_t layer) { return absl::StrCat("model.layers.", layer, "."); }

// Parses a non-negative decimal integer that is all of `s` (no sign, no leading zeros).
std::optional<int64_t> ParseIndex(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

bool ConsumePrefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// Takes digits up to the next '.'.
std::optional<int64_t> ConsumeIndex(std::string_view& s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<int64_t> v = ParseIndex(s.substr(0, dot));
  if (v) s.remove_prefix(dot + 1);
  return v;
}

}  // namespace

std::string EmbedTokensName() { return "model.embed_tokens.weight"; }
std::string FinalNormName() { return "model.norm.weight"; }
std::string LmHeadName() { return "lm_head.weight"; }

std::string LayerNormName(int64_t layer, LayerNormWeight which) {
  return absl::StrCat(
      LayerPrefix(layer),
      which == LayerNormWeight::kInput ? "input_layernorm" : "post_attention_layernorm", ".weight");
}

std::string AttentionWeightName(int64_t layer, AttentionWeight which) {
  const char* suffix = "";
  switch (which) {
    case AttentionWeight::kQProj:
      suffix = "q_proj.weight";
      break;
    case AttentionWeight::kKProj:
      suffix = "k_proj.weight";
      break;
    case AttentionWeight::kVProj:
      suffix = "v_proj.weight";
      break;
    case AttentionWeight::kOProj:
      suffix = "o_proj.weight";
      break;
    case AttentionWeight::kQNorm:
      suffix = "q_norm.weight";
      break;
    case AttentionWeight::kKNorm:
      suffix = "k_norm.weight";
      break;
    case AttentionWeight::kQBias:
      suffix = "q_proj.bias";
      break;
    case AttentionWeight::kKBias:
      suffix = "k_proj.bias";
      break;
    case AttentionWeight::kVBias:
      suffix = "v_proj.bias";
      break;
    case AttentionWeight::kOBias:
      suffix = "o_proj.bias";
      break;
  }
  return absl::StrCat(LayerPrefix(layer), "self_attn.", suffix);
}

std::string RouterWeightName(int64_t layer) {
  return absl::StrCat(LayerPrefix(layer), "mlp.gate.weight");
}

std::string ExpertWeightName(int64_t layer, int64_t expert, MlpWeight which) {
  return absl::StrCat(LayerPrefix(layer), "mlp.experts.", expert, ".", MlpSuffix(which), ".weight");
}

std::string DenseMlpWeightName(int64_t layer, MlpWeight which) {
  return absl::StrCat(LayerPrefix(layer), "mlp.", MlpSuffix(which), ".weight");
}

std::optional<ExpertWeightId> ParseExpertWeightName(std::string_view name) {
  ExpertWeightId id;
  if (!ConsumePrefix(name, "model.layers.")) return std::nullopt;
  std::optional<int64_t> layer = ConsumeIndex(name);
  if (!layer || !ConsumePrefix(name, "mlp.experts.")) return std::nullopt;
  std::optional<int64_t> expert = ConsumeIndex(name);
  if (!expert) return std::nullopt;
  id.layer = *layer;
  id.expert = *expert;
  for (MlpWeight which : {MlpWeight::kGateProj, MlpWeight::kUpProj, MlpWeight::kDownProj}) {
    if (name == absl::StrCat(MlpSuffix(which), ".weight")) {
      id.which = which;
      return id;
    }
  }
  return std::nullopt;
}

std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& c, const SpecOptions& options) {
  std::vector<ExpectedTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, std::string dims) {
    out.push_back({std::move(name), std::move(shape), std::move(dims)});
  };
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  if (options.non_expert) {
    add(EmbedTokensName(), {c.vocab_size, c.hidden_size}, "[vocab_size, hidden_size]");
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const bool moe = c.IsMoeLayer(i);
    if (options.non_expert) {
      add(LayerNormName(i, LayerNormWeight::kInput), {c.hidden_size}, "[hidden_size]");
      add(LayerNormName(i, LayerNormWeight::kPostAttention), {c.hidden_size}, "[hidden_size]");
      add(AttentionWeightName(i, AttentionWeight::kQProj), {q_dim, c.hidden_size},
          "[num_attention_heads * head_dim, hidden_size]");
      add(AttentionWeightName(i, AttentionWeight::kKProj), {kv_dim, c.hidden_size},
          "[num_key_value_heads * head_dim, hidden_size]");
      add(AttentionWeightName(i, AttentionWeight::kVProj), {kv_dim, c.hidden_size},
          "[num_key_value_heads * head_dim, hidden_size]");
      add(AttentionWeightName(i, AttentionWeight::kOProj), {c.hidden_size, q_dim},
          "[hidden_size, num_attention_heads * head_dim]");
      add(AttentionWeightName(i, AttentionWeight::kQNorm), {c.head_dim}, "[head_dim]");
      add(AttentionWeightName(i, AttentionWeight::kKNorm), {c.head_dim}, "[head_dim]");
      if (c.attention_bias) {
        add(AttentionWeightName(i, AttentionWeight::kQBias), {q_dim},
            "[num_attention_heads * head_dim]");
        add(AttentionWeightName(i, AttentionWeight::kKBias), {kv_dim},
            "[num_key_value_heads * head_dim]");
        add(AttentionWeightName(i, AttentionWeight::kVBias), {kv_dim},
            "[num_key_value_heads * head_dim]");
        add(AttentionWeightName(i, AttentionWeight::kOBias), {c.hidden_size}, "[hidden_size]");
      }
      if (moe) {
        add(RouterWeightName(i), {c.num_experts, c.hidden_size}, "[num_experts, hidden_size]");
      } else {
        add(DenseMlpWeightName(i, MlpWeight::kGateProj), {c.intermediate_size, c.hidden_size},
            "[intermediate_size, hidden_size]");
        add(DenseMlpWeightName(i, MlpWeight::kUpProj), {c.intermediate_size, c.hidden_size},
            "[intermediate_size, hidden_size]");
        add(DenseMlpWeightName(i, MlpWeight::kDownProj), {c.hidden_size, c.intermediate_size},
            "[hidden_size, intermediate_size]");
      }
    }
    if (options.experts && moe) {
      for (int64_t e = 0; e < c.num_experts; ++e) {
        if (options.expert_filter && !options.expert_filter(i, e)) continue;
        add(ExpertWeightName(i, e, MlpWeight::kGateProj), {c.moe_intermediate_size, c.hidden_size},
            "[moe_intermediate_size, hidden_size]");
        add(ExpertWeightName(i, e, MlpWeight::kUpProj), {c.moe_intermediate_size, c.hidden_size},
            "[moe_intermediate_size, hidden_size]");
        add(ExpertWeightName(i, e, MlpWeight::kDownProj), {c.hidden_size, c.moe_intermediate_size},
            "[hidden_size, moe_intermediate_size]");
      }
    }
  }
  if (options.non_expert) {
    add(FinalNormName(), {c.hidden_size}, "[hidden_size]");
    if (!c.tie_word_embeddings) {
      add(LmHeadName(), {c.vocab_size, c.hidden_size}, "[vocab_size, hidden_size]");
    }
  }
  return out;
}

absl::Status CheckTensors(const ModelConfig& config, const TensorStore& store,
                          const SpecOptions& options) {
  std::string first;
  int64_t problems = 0;
  auto problem = [&](std::string line) {
    if (problems++ == 0) first = std::move(line);
  };
  std::vector<std::string> allowed;
  for (DType d : options.allowed_dtypes) allowed.emplace_back(DTypeName(d));
  for (const ExpectedTensor& t : ExpectedTensors(config, options)) {
    const TensorInfo* info = store.Find(t.name);
    if (info == nullptr) {
      problem(absl::StrCat(store.source(), ": tensor \"", t.name, "\" is missing (expected shape ",
                           ShapeToString(t.shape), " = ", t.dims, ")"));
      continue;
    }
    if (info->shape != t.shape) {
      problem(absl::StrCat(info->file, ": tensor \"", t.name, "\" has shape ",
                           ShapeToString(info->shape), ", expected ", ShapeToString(t.shape), " = ",
                           t.dims));
      continue;
    }
    if (std::find(options.allowed_dtypes.begin(), options.allowed_dtypes.end(), info->dtype) ==
        options.allowed_dtypes.end()) {
      problem(absl::StrCat(info->file, ": tensor \"", t.name, "\" has dtype ",
                           Sv(DTypeName(info->dtype)), ", expected one of ",
                           absl::StrJoin(allowed, ", ")));
    }
  }
  if (options.warn_unexpected) {
    const std::vector<std::string> extra = UnexpectedTensors(config, store);
    if (!extra.empty()) {
      const std::vector<std::string> shown(extra.begin(),
                                           extra.begin() + std::min<size_t>(extra.size(), 3));
      LOG(WARNING) << store.source() << ": " << extra.size()
                   << " tensor(s) not used by the model, ignored: " << absl::StrJoin(shown, ", ")
                   << (extra.size() > shown.size() ? ", ..." : "");
    }
  }
  if (problems == 0) return absl::OkStatus();
  if (problems > 1) absl::StrAppend(&first, " (and ", problems - 1, " more problems)");
  return absl::FailedPreconditionError(first);
}

std::vector<std::string> UnexpectedTensors(const ModelConfig& config, const TensorStore& store) {
  std::set<std::string> expected;
  for (ExpectedTensor& t : ExpectedTensors(config, SpecOptions())) {
    expected.insert(std::move(t.name));
  }
  std::vector<std::string> out;
  for (std::string& name : store.names()) {
    if (!expected.count(name)) out.push_back(std::move(name));
  }
  return out;
}

std::function<bool(std::string_view name)> SpecSelector(const SpecOptions& options) {
  return [options](std::string_view name) {
    const std::optional<ExpertWeightId> id = ParseExpertWeightName(name);
    if (!id) return options.non_expert;
    if (!options.experts) return false;
    return !options.expert_filter || options.expert_filter(id->layer, id->expert);
  };
}

}  // namespace moeserve
