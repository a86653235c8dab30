#include "worker/model_runner.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace moeserve {

using kernels::AttentionParams;
using kernels::EmbeddingParams;
using kernels::KvWriteParams;
using kernels::MatmulParams;
using kernels::RmsNormParams;
using kernels::RopeParams;
using kernels::SiluMulParams;
using kernels::TopKGateParams;

namespace {

// x [m, k] · w[n, k]ᵀ → y [m, n] with y's row stride ldy.
absl::Status Linear(kernels::Backend* backend, const float* x, int64_t ldx, const WeightRef& w,
                    float* y, int64_t ldy, int64_t m, int64_t n, int64_t k, bool accumulate) {
  MatmulParams p;
  p.x = x;
  p.ldx = ldx;
  p.w = w.data;
  p.ldw = k;
  p.w_type = w.type;
  p.y = y;
  p.ldy = ldy;
  p.m = m;
  p.n = n;
  p.k = k;
  p.accumulate = accumulate;
  return backend->Matmul(p);
}

absl::Status Norm(kernels::Backend* backend, const float* x, int64_t ldx, const WeightRef& w,
                  float* out, int64_t ldout, int64_t rows, int64_t dim, double eps) {
  RmsNormParams p;
  p.x = x;
  p.ldx = ldx;
  p.weight = w.data;
  p.weight_type = w.type;
  p.out = out;
  p.ldout = ldout;
  p.rows = rows;
  p.dim = dim;
  p.eps = static_cast<float>(eps);
  return backend->RmsNorm(p);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(
    const ModelConfig& config, const ModelWeights* weights, kernels::Backend* backend,
    MoeDispatcher* dispatcher, KvStorage* kv, const RunnerLimits& limits) {
  if (limits.max_tokens_per_step <= 0 || limits.max_seqs_per_step <= 0 ||
      limits.max_context <= 0) {
    return absl::InvalidArgumentError("runner limits must be positive");
  }
  if (config.num_moe_layers() > 0 && dispatcher == nullptr) {
    return absl::InvalidArgumentError("a MoE model needs an expert dispatcher");
  }
  const KvShape& ks = kv->shape();
  if (ks.num_layers != config.num_hidden_layers || ks.num_kv_heads != config.num_key_value_heads ||
      ks.head_dim != config.head_dim) {
    return absl::InvalidArgumentError("KV storage shape does not match the model");
  }
  ASSIGN_OR_RETURN(RopeTable rope, RopeTable::Create(config));
  return std::unique_ptr<ModelRunner>(
      new ModelRunner(config, weights, backend, dispatcher, kv, limits, std::move(rope)));
}

ModelRunner::ModelRunner(const ModelConfig& c, const ModelWeights* weights,
                         kernels::Backend* backend, MoeDispatcher* dispatcher, KvStorage* kv,
                         const RunnerLimits& limits, RopeTable rope)
    : config_(c),
      weights_(weights),
      backend_(backend),
      dispatcher_(dispatcher),
      kv_(kv),
      limits_(limits),
      rope_(std::move(rope)) {
  const int64_t t = limits.max_tokens_per_step, h = c.hidden_size, hd = c.head_dim;
  const int64_t q_dim = c.num_attention_heads * hd, kv_dim = c.num_key_value_heads * hd;
  const int64_t inter = std::max(c.intermediate_size, int64_t{1});
  const int64_t bs = kv->shape().block_size;
  max_blocks_per_seq_ = (limits.max_context + bs - 1) / bs;
  hidden_.resize(t * h);
  normed_.resize(t * h);
  q_.resize(t * q_dim);
  k_.resize(t * kv_dim);
  v_.resize(t * kv_dim);
  attn_.resize(t * q_dim);
  if (c.num_experts > 0) {
    router_logits_.resize(t * c.num_experts);
    topk_ids_.resize(t * c.num_experts_per_tok);
    topk_weights_.resize(t * c.num_experts_per_tok);
    moe_out_.resize(t * h);
  }
  gate_up_.resize(t * 2 * inter);
  act_.resize(t * inter);
  cos_.resize(t * hd / 2);
  sin_.resize(t * hd / 2);
  attn_workspace_.resize(kernels::AttentionWorkspaceFloats(limits.max_context, limits.num_threads));
  final_rows_.resize(limits.max_seqs_per_step * h);
  token_ids_.resize(t);
  token_seq_.resize(t);
  token_pos_.resize(t);
  slots_.resize(t);
  block_tables_.resize(limits.max_seqs_per_step * max_blocks_per_seq_);
  logit_rows_.reserve(limits.max_seqs_per_step);
}

absl::Status ModelRunner::Forward(std::span<const SequenceChunk> chunks, float* logits) {
  const int64_t seqs = static_cast<int64_t>(chunks.size());
  if (seqs == 0) return absl::OkStatus();
  if (seqs > limits_.max_seqs_per_step) {
    return absl::InvalidArgumentError(
        absl::StrCat("step has ", seqs, " chunks, limit ", limits_.max_seqs_per_step));
  }
  // Flatten the step: token ids, positions, owning chunk, cache slots, block tables.
  int64_t tokens = 0;
  logit_rows_.clear();
  for (int64_t s = 0; s < seqs; ++s) {
    const SequenceChunk& c = chunks[s];
    if (c.num_tokens <= 0 || c.start_pos < 0 || c.blocks == nullptr || c.token_ids == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", s, " is empty or malformed"));
    }
    const int64_t end = c.start_pos + c.num_tokens;
    if (end > limits_.max_context) {
      return absl::OutOfRangeError(absl::StrCat("sequence length ", end,
                                                " exceeds the context limit ",
                                                limits_.max_context));
    }
    if (end > c.blocks->capacity()) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", s, " needs ", end,
                                                     " cache positions, blocks hold ",
                                                     c.blocks->capacity()));
    }
    if (tokens + c.num_tokens > limits_.max_tokens_per_step) {
      return absl::InvalidArgumentError(absl::StrCat("step exceeds ", limits_.max_tokens_per_step,
                                                     " tokens"));
    }
    for (int64_t i = 0; i < c.num_tokens; ++i) {
      const int32_t id = c.token_ids[i];
      if (id < 0 || id >= config_.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " is outside the vocabulary [0, ", config_.vocab_size,
                         ")"));
      }
      token_ids_[tokens] = id;
      token_seq_[tokens] = static_cast<int32_t>(s);
      token_pos_[tokens] = static_cast<int32_t>(c.start_pos + i);
      slots_[tokens] = c.blocks->Slot(c.start_pos + i);
      ++tokens;
    }
    const auto& blocks = c.blocks->blocks();
    std::memset(&block_tables_[s * max_blocks_per_seq_], 0xff,
                sizeof(int32_t) * max_blocks_per_seq_);
    std::copy(blocks.begin(),
              blocks.begin() + std::min<int64_t>(blocks.size(), max_blocks_per_seq_),
              &block_tables_[s * max_blocks_per_seq_]);
    if (c.want_logits) logit_rows_.push_back(tokens - 1);
  }

  const int64_t h = config_.hidden_size;
  EmbeddingParams ep;
  ep.table = weights_->embed.data;
  ep.table_type = weights_->embed.type;
  ep.vocab = config_.vocab_size;
  ep.dim = h;
  ep.ids = token_ids_.data();
  ep.tokens = tokens;
  ep.out = hidden_.data();
  ep.ldout = h;
  RETURN_IF_ERROR(backend_->Embedding(ep));
  rope_.Fill(token_pos_.data(), tokens, cos_.data(), sin_.data());

  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    RETURN_IF_ERROR(Layer(layer, tokens, seqs));
  }

  if (logit_rows_.empty()) return absl::OkStatus();
  const int64_t rows = static_cast<int64_t>(logit_rows_.size());
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(&final_rows_[r * h], &hidden_[logit_rows_[r] * h], sizeof(float) * h);
  }
  RETURN_IF_ERROR(Norm(backend_, final_rows_.data(), h, weights_->final_norm, final_rows_.data(),
                       h, rows, h, config_.rms_norm_eps));
  return Linear(backend_, final_rows_.data(), h, weights_->lm_head, logits, config_.vocab_size,
                rows, config_.vocab_size, h, /*accumulate=*/false);
}

absl::Status ModelRunner::Layer(int64_t layer, int64_t tokens, int64_t seqs) {
  const ModelConfig& c = config_;
  const LayerWeights& w = weights_->layers[layer];
  const int64_t h = c.hidden_size, hd = c.head_dim;
  const int64_t nq = c.num_attention_heads, nkv = c.num_key_value_heads;
  const int64_t q_dim = nq * hd, kv_dim = nkv * hd;

  // Attention block.
  RETURN_IF_ERROR(Norm(backend_, hidden_.data(), h, w.input_norm, normed_.data(), h, tokens, h,
                       c.rms_norm_eps));
  RETURN_IF_ERROR(Linear(backend_, normed_.data(), h, w.q_proj, q_.data(), q_dim, tokens, q_dim,
                         h, false));
  RETURN_IF_ERROR(Linear(backend_, normed_.data(), h, w.k_proj, k_.data(), kv_dim, tokens,
                         kv_dim, h, false));
  RETURN_IF_ERROR(Linear(backend_, normed_.data(), h, w.v_proj, v_.data(), kv_dim, tokens,
                         kv_dim, h, false));
  // Per-head q/k RMSNorm (over head_dim), before RoPE.
  RETURN_IF_ERROR(Norm(backend_, q_.data(), hd, w.q_norm, q_.data(), hd, tokens * nq, hd,
                       c.rms_norm_eps));
  RETURN_IF_ERROR(Norm(backend_, k_.data(), hd, w.k_norm, k_.data(), hd, tokens * nkv, hd,
                       c.rms_norm_eps));
  RopeParams rp;
  rp.tokens = tokens;
  rp.head_dim = hd;
  rp.cos = cos_.data();
  rp.sin = sin_.data();
  rp.x = q_.data();
  rp.ldx = q_dim;
  rp.heads = nq;
  RETURN_IF_ERROR(backend_->Rope(rp));
  rp.x = k_.data();
  rp.ldx = kv_dim;
  rp.heads = nkv;
  RETURN_IF_ERROR(backend_->Rope(rp));

  KvWriteParams kw;
  kw.k = k_.data();
  kw.ldk = kv_dim;
  kw.v = v_.data();
  kw.ldv = kv_dim;
  kw.slots = slots_.data();
  kw.tokens = tokens;
  kw.num_kv_heads = nkv;
  kw.head_dim = hd;
  kw.k_cache = kv_->k(layer);
  kw.v_cache = kv_->v(layer);
  RETURN_IF_ERROR(backend_->KvWrite(kw));

  AttentionParams ap;
  ap.q = q_.data();
  ap.ldq = q_dim;
  ap.out = attn_.data();
  ap.ldout = q_dim;
  ap.k_cache = kv_->k(layer);
  ap.v_cache = kv_->v(layer);
  ap.block_tables = block_tables_.data();
  ap.max_blocks_per_seq = max_blocks_per_seq_;
  ap.token_seq = token_seq_.data();
  ap.token_pos = token_pos_.data();
  ap.tokens = tokens;
  ap.num_q_heads = nq;
  ap.num_kv_heads = nkv;
  ap.head_dim = hd;
  ap.block_size = kv_->shape().block_size;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ap.workspace = attn_workspace_.data();
  RETURN_IF_ERROR(backend_->Attention(ap));
  (void)seqs;
  // Residual: hidden += o_proj(attn).
  RETURN_IF_ERROR(Linear(backend_, attn_.data(), q_dim, w.o_proj, hidden_.data(), h, tokens, h,
                         q_dim, /*accumulate=*/true));

  // MLP block.
  RETURN_IF_ERROR(Norm(backend_, hidden_.data(), h, w.post_attention_norm, normed_.data(), h,
                       tokens, h, c.rms_norm_eps));
  if (w.moe) {
    const int64_t e = c.num_experts, k = c.num_experts_per_tok;
    RETURN_IF_ERROR(Linear(backend_, normed_.data(), h, w.router, router_logits_.data(), e,
                           tokens, e, h, false));
    TopKGateParams gp;
    gp.logits = router_logits_.data();
    gp.ldlogits = e;
    gp.tokens = tokens;
    gp.num_experts = e;
    gp.top_k = k;
    gp.renormalize = c.norm_topk_prob;
    gp.topk_ids = topk_ids_.data();
    gp.topk_weights = topk_weights_.data();
    RETURN_IF_ERROR(backend_->TopKGate(gp));
    MoeLayerBatch batch;
    batch.layer = layer;
    batch.tokens = tokens;
    batch.hidden = h;
    batch.top_k = k;
    batch.x = normed_.data();
    batch.topk_ids = topk_ids_.data();
    batch.topk_weights = topk_weights_.data();
    batch.out = moe_out_.data();
    RETURN_IF_ERROR(dispatcher_->Run(batch));
    for (int64_t i = 0; i < tokens * h; ++i) hidden_[i] += static_cast<float>(moe_out_[i]);
  } else {
    const int64_t inter = c.intermediate_size;
    RETURN_IF_ERROR(Linear(backend_, normed_.data(), h, w.mlp_gate, gate_up_.data(), 2 * inter,
                           tokens, inter, h, false));
    RETURN_IF_ERROR(Linear(backend_, normed_.data(), h, w.mlp_up, gate_up_.data() + inter,
                           2 * inter, tokens, inter, h, false));
    SiluMulParams sp;
    sp.gate_up = gate_up_.data();
    sp.ld_gate_up = 2 * inter;
    sp.out = act_.data();
    sp.ldout = inter;
    sp.rows = tokens;
    sp.inter = inter;
    RETURN_IF_ERROR(backend_->SiluMul(sp));
    RETURN_IF_ERROR(Linear(backend_, act_.data(), inter, w.mlp_down, hidden_.data(), h, tokens, h,
                           inter, /*accumulate=*/true));
  }
  return absl::OkStatus();
}

}  // namespace moeserve
