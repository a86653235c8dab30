// The MoE all-to-all protocol over a Transport: message layouts, tags and expert placement,
// shared by the worker's RemoteDispatcher (worker/remote_dispatcher.h) and the shard's
// ShardServer (expert_shard/shard_server.h).
//
// One MoE layer of one worker step is one dispatch message per shard that has rows, answered by
// one combine (or error) message. Little-endian, native layout (x86-64 and AArch64 alike):
//
//   dispatch  (worker -> shard, tag kDispatchTag)
//     Header                     64 B   kind kDispatch; rows, hidden, top_k, layer, sequence
//     RowTag   tags[rows]         8 B   (source rank, token index in the worker's batch)
//     float    x[rows][hidden]          the rows' normed activations
//     int32    ids[rows][top_k]         expert ids; -1 marks a slot placed on another shard
//     float    weights[rows][top_k]     gate weights; 0 in marked slots
//   combine   (shard -> worker, tag kCombineTag)
//     Header                     64 B   kind kCombine; echoes source_rank, shard, sequence, layer,
//                                       rows, hidden of the dispatch
//     RowTag   tags[rows]               echoed, same order
//     double   partial[rows][hidden]    Σ over the row's slots hosted there of weight·expert(x)
//   error     (shard -> worker, tag kCombineTag)
//     Header                     64 B   kind kError; echoes what could be read; error_code is an
//                                       absl::StatusCode; rows 0
//     char     message[]                the rest of the message, UTF-8
//
// Every offset is a multiple of the element size when the buffer is 8-byte aligned.
//
// Thread-safety: free functions of their arguments.
#ifndef MOESERVE_COMMON_TRANSPORT_A2A_H_
#define MOESERVE_COMMON_TRANSPORT_A2A_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace moeserve::a2a {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian");

inline constexpr uint32_t kDispatchTag = 0x4d450001;  // worker -> shard
inline constexpr uint32_t kCombineTag = 0x4d450002;   // shard -> worker
inline constexpr uint32_t kMagic = 0x31454f4d;        // "MOE1"
inline constexpr uint16_t kVersion = 1;

enum class Kind : uint16_t { kDispatch = 1, kCombine = 2, kError = 3 };

struct Header {
  uint32_t magic = kMagic;
  uint16_t version = kVersion;
  uint16_t kind = 0;         // Kind
  uint32_t source_rank = 0;  // the worker that sent the dispatch
  uint32_t shard = 0;        // the shard index the dispatch is addressed to
  uint64_t sequence = 0;     // the worker's Run number (stale replies are recognised by it)
  int64_t layer = 0;
  int64_t rows = 0;
  int64_t hidden = 0;
  int64_t top_k = 0;       // dispatch only
  int32_t error_code = 0;  // error only: absl::StatusCode
  uint32_t reserved = 0;
};
static_assert(sizeof(Header) == 64);

struct RowTag {
  uint32_t source_rank = 0;
  uint32_t token = 0;  // the row's index in the worker's MoeLayerBatch
};
static_assert(sizeof(RowTag) == 8);

// Sizes of whole messages.
size_t DispatchBytes(int64_t rows, int64_t hidden, int64_t top_k);
size_t CombineBytes(int64_t rows, int64_t hidden);

// Typed views into a message buffer (pointers into it; valid while it is).
struct DispatchView {
  Header header;
  const RowTag* tags = nullptr;    // [rows]
  const float* x = nullptr;        // [rows, hidden]
  const int32_t* ids = nullptr;    // [rows, top_k]
  const float* weights = nullptr;  // [rows, top_k]
};
struct MutableDispatchView {
  RowTag* tags = nullptr;
  float* x = nullptr;
  int32_t* ids = nullptr;
  float* weights = nullptr;
};
struct CombineView {
  Header header;
  const RowTag* tags = nullptr;     // [rows]
  const double* partial = nullptr;  // [rows, hidden]
};
struct MutableCombineView {
  RowTag* tags = nullptr;
  double* partial = nullptr;
};

// Resizes *buffer to the message `header` describes, writes the header (kind set here) and
// returns where the arrays go. header.rows/hidden/top_k must be non-negative.
MutableDispatchView StartDispatch(const Header& header, std::vector<std::byte>* buffer);
MutableCombineView StartCombine(const Header& header, std::vector<std::byte>* buffer);
// Writes an error message answering `request` (whatever of its header was readable).
void WriteError(const Header& request, const absl::Status& error, std::vector<std::byte>* buffer);

// Reads and checks a message's header: magic, version, kind, and that the size matches the
// shape it declares. InvalidArgument naming what is wrong otherwise. Limits guard the size
// arithmetic against absurd shapes.
inline constexpr int64_t kMaxRows = int64_t{1} << 24;
inline constexpr int64_t kMaxHidden = int64_t{1} << 20;
inline constexpr int64_t kMaxTopK = 1024;
absl::StatusOr<Header> ReadHeader(std::span<const std::byte> message);
// A dispatch message's arrays (after ReadHeader's checks; kind must be kDispatch).
absl::StatusOr<DispatchView> ParseDispatch(std::span<const std::byte> message);
// A combine message's arrays, or the error an error message carries (its code and text).
absl::StatusOr<CombineView> ParseCombine(std::span<const std::byte> message);

// Expert placement: placement[e] is the shard index hosting expert e (the same in every MoE
// layer). Even: shard s hosts the contiguous range [s·E/N, (s+1)·E/N).
std::vector<int32_t> EvenPlacement(int64_t num_experts, int64_t num_shards);
// InvalidArgument unless placement has num_experts entries in [0, num_shards) and every shard
// hosts at least one expert.
absl::Status ValidatePlacement(std::span<const int32_t> placement, int64_t num_experts,
                               int64_t num_shards);
// owned[e] = (placement[e] == shard), the form ExpertStore::Load takes.
std::vector<bool> OwnedExperts(std::span<const int32_t> placement, int64_t shard);

}  // namespace moeserve::a2a

#endif  // MOESERVE_COMMON_TRANSPORT_A2A_H_
