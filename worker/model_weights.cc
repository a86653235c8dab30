#include "worker/model_weights.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace moeserve {

absl::StatusOr<ModelWeights> ModelWeights::Load(const ModelConfig& c, const TensorStore& store) {
  if (c.attention_bias) {
    return absl::InvalidArgumentError(
        "config.json: attention_bias=true is not supported (no Qwen3 checkpoint uses it)");
  }
  ModelWeights w;
  const int64_t h = c.hidden_size, hd = c.head_dim;
  const int64_t q_dim = c.num_attention_heads * hd, kv_dim = c.num_key_value_heads * hd;
  ASSIGN_OR_RETURN(w.embed, GetWeight(store, "model.embed_tokens.weight", {c.vocab_size, h}));
  ASSIGN_OR_RETURN(w.final_norm, GetWeight(store, "model.norm.weight", {h}));
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    ASSIGN_OR_RETURN(w.lm_head, GetWeight(store, "lm_head.weight", {c.vocab_size, h}));
  }
  w.layers.resize(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    ASSIGN_OR_RETURN(l.input_norm, GetWeight(store, p + "input_layernorm.weight", {h}));
    ASSIGN_OR_RETURN(l.post_attention_norm,
                     GetWeight(store, p + "post_attention_layernorm.weight", {h}));
    ASSIGN_OR_RETURN(l.q_proj, GetWeight(store, p + "self_attn.q_proj.weight", {q_dim, h}));
    ASSIGN_OR_RETURN(l.k_proj, GetWeight(store, p + "self_attn.k_proj.weight", {kv_dim, h}));
    ASSIGN_OR_RETURN(l.v_proj, GetWeight(store, p + "self_attn.v_proj.weight", {kv_dim, h}));
    ASSIGN_OR_RETURN(l.o_proj, GetWeight(store, p + "self_attn.o_proj.weight", {h, q_dim}));
    ASSIGN_OR_RETURN(l.q_norm, GetWeight(store, p + "self_attn.q_norm.weight", {hd}));
    ASSIGN_OR_RETURN(l.k_norm, GetWeight(store, p + "self_attn.k_norm.weight", {hd}));
    l.moe = c.IsMoeLayer(i);
    if (l.moe) {
      ASSIGN_OR_RETURN(l.router, GetWeight(store, p + "mlp.gate.weight", {c.num_experts, h}));
    } else {
      const int64_t inter = c.intermediate_size;
      ASSIGN_OR_RETURN(l.mlp_gate, GetWeight(store, p + "mlp.gate_proj.weight", {inter, h}));
      ASSIGN_OR_RETURN(l.mlp_up, GetWeight(store, p + "mlp.up_proj.weight", {inter, h}));
      ASSIGN_OR_RETURN(l.mlp_down, GetWeight(store, p + "mlp.down_proj.weight", {h, inter}));
    }
  }
  return w;
}

}  // namespace moeserve
