#include "kernels/validate.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace moeserve::kernels {
namespace {

absl::Status Bad(const char* op, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(op, ": ", what));
}

#define MOESERVE_CHECK_ARG(op, cond, ...) \
  if (!(cond)) return Bad(op, absl::StrCat(__VA_ARGS__))

bool ValidType(WeightType t) {
  return t == WeightType::kBF16 || t == WeightType::kF16 || t == WeightType::kF32;
}

}  // namespace

absl::Status ValidateMatmul(const MatmulParams& p) {
  constexpr const char* kOp = "Matmul";
  MOESERVE_CHECK_ARG(kOp, p.x && p.w && p.y, "x, w and y must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.m > 0 && p.n > 0 && p.k > 0, "m, n, k must be positive, got m=", p.m,
                     " n=", p.n, " k=", p.k);
  MOESERVE_CHECK_ARG(kOp, p.ldx >= p.k, "ldx=", p.ldx, " < k=", p.k);
  MOESERVE_CHECK_ARG(kOp, p.ldw >= p.k, "ldw=", p.ldw, " < k=", p.k);
  MOESERVE_CHECK_ARG(kOp, p.ldy >= p.n, "ldy=", p.ldy, " < n=", p.n);
  MOESERVE_CHECK_ARG(kOp, ValidType(p.w_type), "unknown w_type");
  return absl::OkStatus();
}

absl::Status ValidateRmsNorm(const RmsNormParams& p) {
  constexpr const char* kOp = "RmsNorm";
  MOESERVE_CHECK_ARG(kOp, p.x && p.weight && p.out, "x, weight and out must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.rows > 0 && p.dim > 0,
                     "rows and dim must be positive, got rows=", p.rows, " dim=", p.dim);
  MOESERVE_CHECK_ARG(kOp, p.ldx >= p.dim, "ldx=", p.ldx, " < dim=", p.dim);
  MOESERVE_CHECK_ARG(kOp, p.ldout >= p.dim, "ldout=", p.ldout, " < dim=", p.dim);
  MOESERVE_CHECK_ARG(kOp, ValidType(p.weight_type), "unknown weight_type");
  MOESERVE_CHECK_ARG(kOp, p.eps >= 0.0f, "eps must be non-negative, got ", p.eps);
  return absl::OkStatus();
}

absl::Status ValidateRope(const RopeParams& p) {
  constexpr const char* kOp = "Rope";
  MOESERVE_CHECK_ARG(kOp, p.x && p.cos && p.sin, "x, cos and sin must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.tokens > 0 && p.heads > 0 && p.head_dim > 0,
                     "tokens, heads, head_dim must be positive, got tokens=", p.tokens,
                     " heads=", p.heads, " head_dim=", p.head_dim);
  MOESERVE_CHECK_ARG(kOp, p.head_dim % 2 == 0, "head_dim must be even, got ", p.head_dim);
  MOESERVE_CHECK_ARG(kOp, p.ldx >= p.heads * p.head_dim, "ldx=", p.ldx,
                     " < heads*head_dim=", p.heads * p.head_dim);
  return absl::OkStatus();
}

absl::Status ValidateKvWrite(const KvWriteParams& p) {
  constexpr const char* kOp = "KvWrite";
  MOESERVE_CHECK_ARG(kOp, p.k && p.v && p.slots && p.k_cache && p.v_cache,
                     "k, v, slots, k_cache and v_cache must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.tokens > 0 && p.num_kv_heads > 0 && p.head_dim > 0,
                     "tokens, num_kv_heads, head_dim must be positive, got tokens=", p.tokens,
                     " num_kv_heads=", p.num_kv_heads, " head_dim=", p.head_dim);
  const int64_t row = p.num_kv_heads * p.head_dim;
  MOESERVE_CHECK_ARG(kOp, p.ldk >= row, "ldk=", p.ldk, " < num_kv_heads*head_dim=", row);
  MOESERVE_CHECK_ARG(kOp, p.ldv >= row, "ldv=", p.ldv, " < num_kv_heads*head_dim=", row);
  for (int64_t t = 0; t < p.tokens; ++t) {
    MOESERVE_CHECK_ARG(kOp, p.slots[t] >= 0, "slots[", t, "]=", p.slots[t], " is negative");
  }
  return absl::OkStatus();
}

absl::Status ValidateAttention(const AttentionParams& p) {
  constexpr const char* kOp = "Attention";
  MOESERVE_CHECK_ARG(kOp,
                     p.q && p.out && p.k_cache && p.v_cache && p.block_tables && p.token_seq &&
                         p.token_pos && p.workspace,
                     "q, out, k_cache, v_cache, block_tables, token_seq, token_pos and workspace "
                     "must be non-null");
  MOESERVE_CHECK_ARG(kOp,
                     p.tokens > 0 && p.num_q_heads > 0 && p.num_kv_heads > 0 && p.head_dim > 0 &&
                         p.block_size > 0 && p.max_blocks_per_seq > 0,
                     "tokens, num_q_heads, num_kv_heads, head_dim, block_size, "
                     "max_blocks_per_seq must be positive, got tokens=",
                     p.tokens, " num_q_heads=", p.num_q_heads, " num_kv_heads=", p.num_kv_heads,
                     " head_dim=", p.head_dim, " block_size=", p.block_size,
                     " max_blocks_per_seq=", p.max_blocks_per_seq);
  MOESERVE_CHECK_ARG(kOp, p.num_q_heads % p.num_kv_heads == 0, "num_q_heads=", p.num_q_heads,
                     " is not a multiple of num_kv_heads=", p.num_kv_heads);
  const int64_t row = p.num_q_heads * p.head_dim;
  MOESERVE_CHECK_ARG(kOp, p.ldq >= row, "ldq=", p.ldq, " < num_q_heads*head_dim=", row);
  MOESERVE_CHECK_ARG(kOp, p.ldout >= row, "ldout=", p.ldout, " < num_q_heads*head_dim=", row);
  for (int64_t t = 0; t < p.tokens; ++t) {
    const int64_t seq = p.token_seq[t], pos = p.token_pos[t];
    MOESERVE_CHECK_ARG(kOp, seq >= 0, "token_seq[", t, "]=", seq, " is negative");
    MOESERVE_CHECK_ARG(kOp, pos >= 0, "token_pos[", t, "]=", pos, " is negative");
    const int64_t blocks = pos / p.block_size + 1;
    MOESERVE_CHECK_ARG(kOp, blocks <= p.max_blocks_per_seq, "token_pos[", t, "]=", pos, " needs ",
                       blocks, " blocks > max_blocks_per_seq=", p.max_blocks_per_seq);
    const int32_t* table = p.block_tables + seq * p.max_blocks_per_seq;
    for (int64_t b = 0; b < blocks; ++b) {
      MOESERVE_CHECK_ARG(kOp, table[b] >= 0, "block_tables[", seq, "][", b, "]=", table[b],
                         " is negative (token ", t, " at position ", pos, ")");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSiluMul(const SiluMulParams& p) {
  constexpr const char* kOp = "SiluMul";
  MOESERVE_CHECK_ARG(kOp, p.gate_up && p.out, "gate_up and out must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.rows > 0 && p.inter > 0,
                     "rows and inter must be positive, got rows=", p.rows, " inter=", p.inter);
  MOESERVE_CHECK_ARG(kOp, p.ld_gate_up >= 2 * p.inter, "ld_gate_up=", p.ld_gate_up,
                     " < 2*inter=", 2 * p.inter);
  MOESERVE_CHECK_ARG(kOp, p.ldout >= p.inter, "ldout=", p.ldout, " < inter=", p.inter);
  return absl::OkStatus();
}

absl::Status ValidateTopKGate(const TopKGateParams& p) {
  constexpr const char* kOp = "TopKGate";
  MOESERVE_CHECK_ARG(kOp, p.logits && p.topk_ids && p.topk_weights,
                     "logits, topk_ids and topk_weights must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.tokens > 0 && p.num_experts > 0,
                     "tokens and num_experts must be positive, got tokens=", p.tokens,
                     " num_experts=", p.num_experts);
  MOESERVE_CHECK_ARG(kOp, p.top_k > 0 && p.top_k <= p.num_experts, "top_k=", p.top_k,
                     " must be in [1, num_experts=", p.num_experts, "]");
  MOESERVE_CHECK_ARG(kOp, p.ldlogits >= p.num_experts, "ldlogits=", p.ldlogits,
                     " < num_experts=", p.num_experts);
  return absl::OkStatus();
}

absl::Status ValidateEmbedding(const EmbeddingParams& p) {
  constexpr const char* kOp = "Embedding";
  MOESERVE_CHECK_ARG(kOp, p.table && p.ids && p.out, "table, ids and out must be non-null");
  MOESERVE_CHECK_ARG(kOp, p.vocab > 0 && p.dim > 0 && p.tokens > 0,
                     "vocab, dim, tokens must be positive, got vocab=", p.vocab, " dim=", p.dim,
                     " tokens=", p.tokens);
  MOESERVE_CHECK_ARG(kOp, p.ldout >= p.dim, "ldout=", p.ldout, " < dim=", p.dim);
  MOESERVE_CHECK_ARG(kOp, ValidType(p.table_type), "unknown table_type");
  for (int64_t t = 0; t < p.tokens; ++t) {
    MOESERVE_CHECK_ARG(kOp, p.ids[t] >= 0 && p.ids[t] < p.vocab, "ids[", t, "]=", p.ids[t],
                       " is outside [0, vocab=", p.vocab, ")");
  }
  return absl::OkStatus();
}

#undef MOESERVE_CHECK_ARG

}  // namespace moeserve::kernels
