#include "common/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/progress.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace moeserve {

using Json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100 * 1000 * 1000;  // the Rust library's limit
constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::kBool, "BOOL", 1},      {DType::kU8, "U8", 1},          {DType::kI8, "I8", 1},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},        {DType::kF16, "F16", 2},        {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},        {DType::kU32, "U32", 4},        {DType::kF32, "F32", 4},
    {DType::kI64, "I64", 8},        {DType::kU64, "U64", 8},        {DType::kF64, "F64", 8},
};

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Quote(std::string_view s) { return absl::StrCat("\"", Sv(s), "\""); }

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// Closes a file descriptor on scope exit.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

// A whole file mapped read-only; unmapped on destruction. Holds the parsed tensor list.
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot open (", std::strerror(errno), ")"));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      return absl::InternalError(absl::StrCat(path, ": fstat failed (", std::strerror(errno), ")"));
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
    }
    const size_t size = static_cast<size_t>(st.st_size);
    if (size < 8) {
      return absl::DataLossError(
          absl::StrCat(path, ": file is too small for a safetensors header (", size, " bytes)"));
    }
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) {
      return absl::InternalError(absl::StrCat(path, ": mmap failed (", std::strerror(errno), ")"));
    }
    return std::unique_ptr<MappedFile>(new MappedFile(path, static_cast<const uint8_t*>(p), size));
  }

  ~MappedFile() { ::munmap(const_cast<uint8_t*>(data_), size_); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Parses and validates the header; fills `tensors` (data pointers into this mapping).
  absl::Status Parse(std::vector<TensorInfo>& tensors) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

absl::Status MappedFile::Parse(std::vector<TensorInfo>& tensors) const {
  auto error = [&](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path_, ": ", Sv(what)));
  };
  auto tensor_error = [&](std::string_view name, std::string_view what) {
    return absl::DataLossError(absl::StrCat(path_, ": tensor ", Quote(name), " ", Sv(what)));
  };
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data_[i];
  if (header_len > size_ - 8) {
    return error(absl::StrCat("header length ", header_len, " exceeds file size ", size_,
                              " (truncated or not a safetensors file)"));
  }
  if (header_len == 0 || header_len > kMaxHeaderBytes) {
    return error(
        absl::StrCat("header length ", header_len, " is out of range [1, ", kMaxHeaderBytes, "]"));
  }
  const std::string_view header(reinterpret_cast<const char*>(data_ + 8), header_len);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_len = size_ - data_start;

  // Duplicate top-level keys would silently collapse in the parsed object: catch them here.
  std::set<std::string> seen;
  std::string duplicate;
  Json::parser_callback_t on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  Json j;
  try {
    j = Json::parse(header.begin(), header.end(), on_event);
  } catch (const Json::exception& e) {
    return error(absl::StrCat("header is not valid JSON: ", OneLine(e.what())));
  }
  if (!j.is_object()) return error("header is not a JSON object");
  if (!duplicate.empty()) return tensor_error(duplicate, "appears twice in the header");

  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const Json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return error("\"__metadata__\" is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return error(
              absl::StrCat("\"__metadata__\" value for ", Quote(m.key()), " is not a string"));
        }
      }
      continue;
    }
    if (!v.is_object()) return tensor_error(name, "entry is not an object");
    auto dtype_it = v.find("dtype");
    if (dtype_it == v.end() || !dtype_it->is_string()) {
      return tensor_error(name, "has no \"dtype\" string");
    }
    const std::optional<DType> dtype = ParseDType(dtype_it->get<std::string>());
    if (!dtype) {
      return tensor_error(name, absl::StrCat("has unknown dtype ", dtype_it->dump()));
    }
    auto shape_it = v.find("shape");
    if (shape_it == v.end() || !shape_it->is_array()) {
      return tensor_error(name, "has no \"shape\" list");
    }
    std::vector<int64_t> shape;
    for (const Json& d : *shape_it) {
      if (!d.is_number_unsigned()) {
        return tensor_error(name, absl::StrCat("has a bad shape ", shape_it->dump()));
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 62)) {
        return tensor_error(name, absl::StrCat("has a bad shape ", shape_it->dump()));
      }
      shape.push_back(static_cast<int64_t>(dim));
    }
    auto off_it = v.find("data_offsets");
    if (off_it == v.end() || !off_it->is_array() || off_it->size() != 2 ||
        !(*off_it)[0].is_number_unsigned() || !(*off_it)[1].is_number_unsigned()) {
      return tensor_error(name, "has no \"data_offsets\" pair of non-negative integers");
    }
    const uint64_t begin = (*off_it)[0].get<uint64_t>();
    const uint64_t end = (*off_it)[1].get<uint64_t>();
    const std::string offsets = absl::StrCat("data_offsets [", begin, ", ", end, "]");
    if (begin > end) return tensor_error(name, absl::StrCat(offsets, " are reversed"));
    if (end > data_len) {
      return tensor_error(
          name, absl::StrCat(offsets, " exceed the data region (", data_len, " bytes after the ",
                             data_start, "-byte header; file size ", size_, ")"));
    }
    const std::optional<int64_t> numel = NumElements(shape);
    const size_t elem = DTypeSize(*dtype);
    if (!numel || static_cast<uint64_t>(*numel) > (uint64_t{1} << 62) / elem) {
      return tensor_error(name, absl::StrCat("shape ", ShapeToString(shape), " is too large"));
    }
    const uint64_t nbytes = static_cast<uint64_t>(*numel) * elem;
    if (nbytes != end - begin) {
      return tensor_error(
          name,
          absl::StrCat("shape ", ShapeToString(shape), " x ", Sv(DTypeName(*dtype)), " (", elem,
                       " bytes) = ", nbytes, " bytes but ", offsets, " span ", end - begin));
    }
    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    info.shape = std::move(shape);
    info.data = data_ + data_start + begin;
    info.nbytes = static_cast<size_t>(nbytes);
    info.file = path_;
    spans.push_back({begin, end, tensors.size()});
    tensors.push_back(std::move(info));
  }

  // Tensors must tile the data region exactly, like the reference implementation requires.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (const Span& s : spans) {
    const TensorInfo& t = tensors[s.index];
    if (s.begin < expected) {
      return tensor_error(t.name, absl::StrCat("data_offsets [", s.begin, ", ", s.end,
                                               "] overlap tensor ", Quote(previous->name)));
    }
    if (s.begin > expected) {
      return tensor_error(t.name,
                          absl::StrCat("data_offsets [", s.begin, ", ", s.end, "] leave a gap of ",
                                       s.begin - expected, " bytes after ",
                                       previous ? Quote(previous->name) : "the header"));
    }
    expected = s.end;
    previous = &t;
  }
  if (expected != data_len) {
    return error(absl::StrCat("data region has ", data_len - expected,
                              " bytes after the last tensor (", data_len, " bytes, tensors end at ",
                              expected, ")"));
  }
  return absl::OkStatus();
}

size_t DTypeSize(DType dtype) {
  for (const DTypeEntry& e : kDTypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

std::string_view DTypeName(DType dtype) {
  for (const DTypeEntry& e : kDTypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  for (const DTypeEntry& e : kDTypes) {
    if (name == e.name) return e.dtype;
  }
  return std::nullopt;
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::optional<int64_t> NumElements(const std::vector<int64_t>& shape) {
  constexpr int64_t kLimit = int64_t{1} << 62;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > kLimit / d) return std::nullopt;
    n *= d;
  }
  return n;
}

TensorStore::~TensorStore() = default;

absl::Status TensorStore::AddFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  std::vector<TensorInfo> infos;
  RETURN_IF_ERROR(file->Parse(infos));
  for (TensorInfo& info : infos) {
    auto it = tensors_.find(info.name);
    if (it != tensors_.end()) {
      return absl::DataLossError(
          absl::StrCat(path, ": tensor ", Quote(info.name), " is also in ", it->second.file));
    }
    total_bytes_ += info.nbytes;
    std::string name = info.name;
    tensors_.emplace(std::move(name), std::move(info));
  }
  files_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TensorStore>> TensorStore::Open(const std::string& dir,
                                                               const OpenOptions& options) {
  namespace fs = std::filesystem;
  std::unique_ptr<TensorStore> store(new TensorStore());
  store->dir_ = dir;
  const std::string single = (fs::path(dir) / kSingleFile).string();
  const std::string index = (fs::path(dir) / kIndexFile).string();
  std::error_code ec;
  if (fs::exists(single, ec)) {
    store->source_ = single;
    RETURN_IF_ERROR(store->AddFile(single));
  } else if (fs::exists(index, ec)) {
    store->source_ = index;
    std::ifstream in(index, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat(index, ": cannot open (", std::strerror(errno), ")"));
    }
    std::ostringstream text;
    text << in.rdbuf();
    Json j;
    try {
      j = Json::parse(text.str());
    } catch (const Json::exception& e) {
      return absl::DataLossError(absl::StrCat(index, ": invalid JSON: ", OneLine(e.what())));
    }
    auto wm = j.is_object() ? j.find("weight_map") : j.end();
    if (!j.is_object() || wm == j.end() || !wm->is_object() || wm->empty()) {
      return absl::DataLossError(
          absl::StrCat(index, ": field \"weight_map\" must be a non-empty object"));
    }
    // Shard order: first appearance in sorted file-name order (model-00001-of-N, ...).
    std::map<std::string, std::string> weight_map;  // tensor -> shard file name
    std::set<std::string> shard_names;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string()) {
        return absl::DataLossError(absl::StrCat(index, ": tensor ", Quote(it.key()),
                                                " maps to a non-string ", it.value().dump()));
      }
      const std::string shard = it.value().get<std::string>();
      const fs::path p(shard);
      if (shard.empty() || p.is_absolute() ||
          std::any_of(p.begin(), p.end(), [](const fs::path& c) { return c == ".."; })) {
        return absl::DataLossError(absl::StrCat(index, ": tensor ", Quote(it.key()),
                                                " maps to a bad file name ", Quote(shard)));
      }
      weight_map[it.key()] = shard;
      shard_names.insert(shard);
    }
    for (const std::string& shard : shard_names) {
      const std::string path = (fs::path(dir) / shard).string();
      if (!fs::exists(path, ec)) {
        const auto example = std::find_if(weight_map.begin(), weight_map.end(),
                                          [&](const auto& kv) { return kv.second == shard; });
        return absl::NotFoundError(absl::StrCat(index, ": tensor ", Quote(example->first),
                                                " maps to missing file ", Quote(shard)));
      }
      RETURN_IF_ERROR(store->AddFile(path));
    }
    for (const auto& [name, shard] : weight_map) {
      const TensorInfo* info = store->Find(name);
      const std::string path = (fs::path(dir) / shard).string();
      if (info == nullptr) {
        return absl::DataLossError(
            absl::StrCat(index, ": tensor ", Quote(name), " is not in ", Quote(shard)));
      }
      if (info->file != path) {
        return absl::DataLossError(absl::StrCat(index, ": tensor ", Quote(name), " maps to ",
                                                Quote(shard), " but is in ", info->file));
      }
    }
    for (const auto& [name, info] : store->tensors_) {
      if (!weight_map.count(name)) {
        return absl::DataLossError(
            absl::StrCat(info.file, ": tensor ", Quote(name), " is not listed in ", index));
      }
    }
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no ", kSingleFile, " or ", kIndexFile, " in the model directory"));
  }
  if (options.populate) {
    RETURN_IF_ERROR(store->Populate(options).status());
  }
  return store;
}

const TensorInfo* TensorStore::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::StatusOr<TensorInfo> TensorStore::Get(std::string_view name) const {
  const TensorInfo* info = Find(name);
  if (info == nullptr) {
    return absl::NotFoundError(absl::StrCat(source_, ": no tensor ", Quote(name)));
  }
  return *info;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, info] : tensors_) out.push_back(name);
  return out;
}

std::vector<std::string> TensorStore::files() const {
  std::vector<std::string> out;
  for (const auto& f : files_) out.push_back(f->path());
  return out;
}

absl::StatusOr<PopulateStats> TensorStore::Populate(const OpenOptions& options) const {
  if (options.populate_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("populate_threads must be >= 1 (got ", options.populate_threads, ")"));
  }
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  constexpr size_t kWindow = size_t{64} << 20;

  // Selected byte ranges per file, merged where tensors are adjacent, cut into windows.
  struct Work {
    size_t file;
    size_t begin, end;  // offsets in the file
  };
  std::vector<Work> work;
  std::vector<int64_t> windows_per_file(files_.size(), 0);
  PopulateStats stats;
  std::map<std::string, size_t> file_index;
  for (size_t i = 0; i < files_.size(); ++i) file_index[files_[i]->path()] = i;
  std::vector<std::vector<std::pair<size_t, size_t>>> ranges(files_.size());
  for (const auto& [name, info] : tensors_) {
    if (options.populate && !options.populate(name)) continue;
    const size_t f = file_index.at(info.file);
    const size_t begin = static_cast<const uint8_t*>(info.data) - files_[f]->data();
    ranges[f].emplace_back(begin, begin + info.nbytes);
    ++stats.tensors;
    stats.bytes += static_cast<int64_t>(info.nbytes);
  }
  for (size_t f = 0; f < files_.size(); ++f) {
    auto& r = ranges[f];
    std::sort(r.begin(), r.end());
    std::vector<std::pair<size_t, size_t>> merged;
    for (const auto& [b, e] : r) {
      if (b == e) continue;
      if (!merged.empty() && merged.back().second == b) {
        merged.back().second = e;
      } else {
        merged.emplace_back(b, e);
      }
    }
    for (const auto& [b, e] : merged) {
      for (size_t w = b; w < e; w += kWindow) {
        work.push_back({f, w, std::min(e, w + kWindow)});
        ++windows_per_file[f];
      }
    }
    if (windows_per_file[f] > 0) ++stats.files;
  }

  std::unique_ptr<ProgressReporter> reporter;
  if (options.progress) {
    ProgressOptions po;
    po.label = "loading weights";
    po.unit_name = "files";
    po.total_units = stats.files;
    po.total_bytes = stats.bytes;
    std::ostream* out = options.progress_stream;
    po.tty = options.progress_tty;
    if (out == nullptr) {
      out = &std::cerr;
      po.tty = ::isatty(STDERR_FILENO) == 1;
    }
    reporter = std::make_unique<ProgressReporter>(out, po);
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::atomic<int64_t>> remaining(files_.size());
  for (size_t f = 0; f < files_.size(); ++f) remaining[f] = windows_per_file[f];
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> sink{0};
  auto run = [&] {
    uint64_t local = 0;
    for (size_t i = next++; i < work.size(); i = next++) {
      const Work& w = work[i];
      const uint8_t* base = files_[w.file]->data();
      const size_t aligned = w.begin / page * page;
      // Advisory only: a failure just means no read-ahead.
      ::madvise(const_cast<uint8_t*>(base + aligned), w.end - aligned, MADV_WILLNEED);
      const volatile uint8_t* p = base;
      for (size_t off = w.begin; off < w.end; off = (off / page + 1) * page) local += p[off];
      if (reporter) {
        reporter->AddBytes(static_cast<int64_t>(w.end - w.begin));
        if (--remaining[w.file] == 0) reporter->AddUnit();
      }
    }
    sink += local;
  };
  const int threads = static_cast<int>(std::min<size_t>(
      static_cast<size_t>(options.populate_threads), std::max<size_t>(work.size(), 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run);
  run();
  for (std::thread& t : pool) t.join();
  if (reporter) reporter->Finish();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

namespace {

// The header for `tensors` laid end to end in order, padded with spaces to a multiple of 8.
std::string BuildHeader(const std::vector<TensorSpec>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  Json j = Json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorSpec& t : tensors) {
    const uint64_t nbytes = static_cast<uint64_t>(*NumElements(t.shape)) * DTypeSize(t.dtype);
    j[t.name] = {{"dtype", DTypeName(t.dtype)},
                 {"shape", t.shape},
                 {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string header = j.dump();
  header.resize((header.size() + 7) / 8 * 8, ' ');
  return header;
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, std::vector<TensorSpec> tensors,
                              const TensorFiller& fill,
                              const std::map<std::string, std::string>& metadata) {
  std::set<std::string_view> names;
  for (const TensorSpec& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat(path, ": bad tensor name ", Quote(t.name)));
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor ", Quote(t.name), " given twice"));
    }
    const std::optional<int64_t> n = NumElements(t.shape);
    if (!n) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", Quote(t.name),
                                                     " has a bad shape ", ShapeToString(t.shape)));
    }
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorSpec& a, const TensorSpec& b) {
    const size_t sa = DTypeSize(a.dtype), sb = DTypeSize(b.dtype);
    return sa != sb ? sa > sb : a.name < b.name;
  });
  const std::string header = BuildHeader(tensors, metadata);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return absl::PermissionDeniedError(
          absl::StrCat(tmp, ": cannot create (", std::strerror(errno), ")"));
    }
    char len[8];
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i, n >>= 8) len[i] = static_cast<char>(n & 0xFF);
    out.write(len, 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<std::byte> buffer;
    for (const TensorSpec& t : tensors) {
      buffer.assign(static_cast<size_t>(*NumElements(t.shape)) * DTypeSize(t.dtype), std::byte{0});
      absl::Status s = fill(t, std::span<std::byte>(buffer));
      if (!s.ok()) {
        out.close();
        std::remove(tmp.c_str());
        return s;
      }
      out.write(reinterpret_cast<const char*>(buffer.data()),
                static_cast<std::streamsize>(buffer.size()));
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return absl::DataLossError(absl::StrCat(tmp, ": write failed (", std::strerror(errno), ")"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat(path, ": rename from .tmp failed (", std::strerror(errno), ")"));
  }
  return absl::OkStatus();
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  std::map<std::string, std::span<const std::byte>, std::less<>> bytes;
  for (const TensorData& t : tensors) {
    specs.push_back(t.spec);
    bytes[t.spec.name] = t.bytes;
  }
  return WriteSafetensors(
      path, std::move(specs),
      [&](const TensorSpec& spec, std::span<std::byte> out) -> absl::Status {
        const std::span<const std::byte> in = bytes.at(spec.name);
        if (in.size() != out.size()) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": tensor ", Quote(spec.name), " has ", in.size(), " bytes, shape ",
              ShapeToString(spec.shape), " x ", Sv(DTypeName(spec.dtype)), " needs ", out.size()));
        }
        std::copy(in.begin(), in.end(), out.begin());
        return absl::OkStatus();
      },
      metadata);
}

}  // namespace moeserve
