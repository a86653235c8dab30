// Row-range implementations of the non-matmul ops, shared by every CPU ISA (internal).
//
// Each function processes items [begin, end) of an already validated params struct and writes
// only those items' outputs, so CpuBackend can split the items across threads. Reductions run
// in a fixed order inside one item: 16 fp32 lanes over the reduced dimension, then a fixed
// tree, or a plain ascending loop (softmax sums, attention over positions).
#ifndef MOESERVE_KERNELS_CPU_OPS_H_
#define MOESERVE_KERNELS_CPU_OPS_H_

#include <cstdint>

#include "kernels/backend.h"

namespace moeserve::kernels::cpu {

void RmsNormRows(const RmsNormParams& p, int64_t begin, int64_t end);        // rows
void RopeTokens(const RopeParams& p, int64_t begin, int64_t end);            // tokens
void KvWriteTokens(const KvWriteParams& p, int64_t begin, int64_t end);      // tokens
void SiluMulRows(const SiluMulParams& p, int64_t begin, int64_t end);        // rows
void TopKGateTokens(const TopKGateParams& p, int64_t begin, int64_t end);    // tokens
void EmbeddingTokens(const EmbeddingParams& p, int64_t begin, int64_t end);  // tokens

// Items are (token, q head) pairs, item = token * num_q_heads + head. `scores` holds at least
// max position + 1 floats, private to the calling thread.
void AttentionItems(const AttentionParams& p, int64_t begin, int64_t end, float* scores);

// Floats of `scores` each thread needs for contexts up to max_context tokens.
int64_t AttentionScoresFloats(int64_t max_context);

}  // namespace moeserve::kernels::cpu

#endif  // MOESERVE_KERNELS_CPU_OPS_H_
