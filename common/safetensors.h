// Reading and writing Hugging Face safetensors checkpoints.
//
// TensorStore opens a model directory: `model.safetensors` (one file) or, when that is absent,
// `model.safetensors.index.json` whose weight_map names the shard of every tensor (the order
// transformers uses). Every file is mapped read-only (PROT_READ, MAP_PRIVATE) for the store's
// lifetime and validated strictly, like the reference Rust implementation: header length within
// the file, valid JSON, known dtype, shape x dtype size == data_offsets span, tensors laid end to
// end over exactly the data region (no overlap, gap or trailing bytes), no name twice (within a
// header or across shards), and an index that agrees with the shards. Every error is one line
// naming the file and, where there is one, the tensor.
//
// TensorInfo::data points into the mapping; it is valid while the store lives. Populate reads
// the selected tensors' pages in (madvise(MADV_WILLNEED), then one byte per page), with an
// optional progress display, so the first forward pass does not stall on page faults.
// Truncating a file while it is mapped makes later reads raise SIGBUS; checkpoints are
// treated as immutable.
//
// Thread-safety: a TensorStore is immutable after Open; its const methods may be called from
// any thread. Populate may run concurrently with reads.
//
// WriteSafetensors writes the same format (header padded with spaces to a multiple of 8 bytes;
// tensors sorted by dtype size, largest first, then by name, as the Rust library does, so every
// tensor's data is aligned to its element size). Output bytes depend only on the arguments.
#ifndef MOESERVE_COMMON_SAFETENSORS_H_
#define MOESERVE_COMMON_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve {

// Element types of the safetensors format.
enum class DType {
  kBool,
  kU8,
  kI8,
  kF8E4M3,
  kF8E5M2,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kI64,
  kU64,
  kF64,
};

size_t DTypeSize(DType dtype);
// The safetensors spelling: "BF16", "F8_E4M3", ...
std::string_view DTypeName(DType dtype);
std::optional<DType> ParseDType(std::string_view name);

// "[151936, 4096]".
std::string ShapeToString(const std::vector<int64_t>& shape);
// Product of dims (1 for a scalar), or nullopt on a negative dim or overflow past 2^62.
std::optional<int64_t> NumElements(const std::vector<int64_t>& shape);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kBF16;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // into the store's mapping
  size_t nbytes = 0;
  std::string file;  // path of the safetensors file holding it
};

struct OpenOptions {
  // Tensors whose pages Open reads in before returning (see TensorStore::Populate). Null: none.
  std::function<bool(std::string_view name)> populate;
  // Show progress while populating: on progress_stream, or stderr when that is null.
  bool progress = false;
  std::ostream* progress_stream = nullptr;
  // Redraw one line in place. Ignored for stderr, where it is isatty(2).
  bool progress_tty = false;
  // Threads reading pages in; each takes the next 64 MiB window of the selected bytes.
  int populate_threads = 4;
};

struct PopulateStats {
  int64_t tensors = 0;
  int64_t bytes = 0;  // tensor bytes (not rounded to pages)
  int64_t files = 0;  // files holding at least one selected tensor
  double seconds = 0;
};

class MappedFile;

class TensorStore {
 public:
  // Opens DIR/model.safetensors, else DIR/model.safetensors.index.json and its shards, then
  // populates what options.populate selects.
  static absl::StatusOr<std::unique_ptr<TensorStore>> Open(const std::string& dir,
                                                           const OpenOptions& options = {});
  ~TensorStore();
  TensorStore(const TensorStore&) = delete;
  TensorStore& operator=(const TensorStore&) = delete;

  // NotFound naming the directory and tensor when absent.
  absl::StatusOr<TensorInfo> Get(std::string_view name) const;
  // Null when absent; valid while the store lives.
  const TensorInfo* Find(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  size_t size() const { return tensors_.size(); }
  // Sum of every tensor's nbytes.
  uint64_t total_bytes() const { return total_bytes_; }
  const std::string& dir() const { return dir_; }
  // Paths of the safetensors files, in shard order.
  std::vector<std::string> files() const;
  // What names the set of tensors in errors: the index file, or the single safetensors file.
  const std::string& source() const { return source_; }

  // Reads in the pages of every tensor options.populate selects (all when null), with progress
  // per options. Only fails on a bad option; I/O errors of a mapped file surface as SIGBUS.
  absl::StatusOr<PopulateStats> Populate(const OpenOptions& options) const;

 private:
  TensorStore() = default;
  absl::Status AddFile(const std::string& path);

  std::string dir_;
  std::string source_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorInfo, std::less<>> tensors_;
  uint64_t total_bytes_ = 0;
};

// A tensor to write: its bytes come from a TensorFiller, or from memory (TensorData).
struct TensorSpec {
  std::string name;
  DType dtype = DType::kBF16;
  std::vector<int64_t> shape;
};

// Fills `out` (exactly the tensor's byte size) with the tensor's little-endian bytes.
using TensorFiller = std::function<absl::Status(const TensorSpec& spec, std::span<std::byte> out)>;

// Writes a safetensors file, one tensor in memory at a time. `metadata` becomes the header's
// "__metadata__" (transformers wants {"format": "pt"}). Writes PATH.tmp and renames it.
absl::Status WriteSafetensors(const std::string& path, std::vector<TensorSpec> tensors,
                              const TensorFiller& fill,
                              const std::map<std::string, std::string>& metadata = {});

struct TensorData {
  TensorSpec spec;
  std::span<const std::byte> bytes;  // must be the tensor's exact byte size
};
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace moeserve

#endif  // MOESERVE_COMMON_SAFETENSORS_H_
