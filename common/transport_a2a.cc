#include "common/transport_a2a.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace moeserve::a2a {
namespace {

size_t TagsOffset() { return sizeof(Header); }
size_t XOffset(int64_t rows) { return TagsOffset() + rows * sizeof(RowTag); }
size_t IdsOffset(int64_t rows, int64_t hidden) { return XOffset(rows) + rows * hidden * 4; }
size_t WeightsOffset(int64_t rows, int64_t hidden, int64_t top_k) {
  return IdsOffset(rows, hidden) + rows * top_k * 4;
}

template <typename T>
T* At(std::byte* base, size_t offset) {
  return reinterpret_cast<T*>(base + offset);
}
template <typename T>
const T* At(const std::byte* base, size_t offset) {
  return reinterpret_cast<const T*>(base + offset);
}

void PutHeader(Header header, Kind kind, std::vector<std::byte>* buffer) {
  header.magic = kMagic;
  header.version = kVersion;
  header.kind = static_cast<uint16_t>(kind);
  std::memcpy(buffer->data(), &header, sizeof(header));
}

}  // namespace

size_t DispatchBytes(int64_t rows, int64_t hidden, int64_t top_k) {
  return WeightsOffset(rows, hidden, top_k) + rows * top_k * 4;
}
size_t CombineBytes(int64_t rows, int64_t hidden) { return XOffset(rows) + rows * hidden * 8; }

MutableDispatchView StartDispatch(const Header& header, std::vector<std::byte>* buffer) {
  const int64_t r = header.rows, h = header.hidden, k = header.top_k;
  buffer->resize(DispatchBytes(r, h, k));
  PutHeader(header, Kind::kDispatch, buffer);
  std::byte* base = buffer->data();
  return {At<RowTag>(base, TagsOffset()), At<float>(base, XOffset(r)),
          At<int32_t>(base, IdsOffset(r, h)), At<float>(base, WeightsOffset(r, h, k))};
}

MutableCombineView StartCombine(const Header& header, std::vector<std::byte>* buffer) {
  const int64_t r = header.rows, h = header.hidden;
  buffer->resize(CombineBytes(r, h));
  Header out = header;
  out.top_k = 0;
  PutHeader(out, Kind::kCombine, buffer);
  std::byte* base = buffer->data();
  return {At<RowTag>(base, TagsOffset()), At<double>(base, XOffset(r))};
}

void WriteError(const Header& request, const absl::Status& error, std::vector<std::byte>* buffer) {
  Header out = request;
  out.rows = 0;
  out.top_k = 0;
  out.error_code = static_cast<int32_t>(error.ok() ? absl::StatusCode::kUnknown : error.code());
  const absl::string_view text = error.message();
  buffer->resize(sizeof(Header) + text.size());
  PutHeader(out, Kind::kError, buffer);
  std::memcpy(buffer->data() + sizeof(Header), text.data(), text.size());
}

absl::StatusOr<Header> ReadHeader(std::span<const std::byte> message) {
  if (message.size() < sizeof(Header)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a2a message of ", message.size(), " bytes is shorter than its header"));
  }
  Header h;
  std::memcpy(&h, message.data(), sizeof(h));
  if (h.magic != kMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("a2a message: bad magic 0x", absl::Hex(h.magic)));
  }
  if (h.version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("a2a message: version ", h.version, ", expected ", kVersion));
  }
  if (h.rows < 0 || h.rows > kMaxRows || h.hidden < 0 || h.hidden > kMaxHidden || h.top_k < 0 ||
      h.top_k > kMaxTopK) {
    return absl::InvalidArgumentError(absl::StrCat("a2a message: shape out of range (rows ", h.rows,
                                                   ", hidden ", h.hidden, ", top_k ", h.top_k,
                                                   ")"));
  }
  size_t expected = 0;
  switch (static_cast<Kind>(h.kind)) {
    case Kind::kDispatch:
      expected = DispatchBytes(h.rows, h.hidden, h.top_k);
      break;
    case Kind::kCombine:
      expected = CombineBytes(h.rows, h.hidden);
      break;
    case Kind::kError:
      return h;  // any length of text
    default:
      return absl::InvalidArgumentError(absl::StrCat("a2a message: unknown kind ", h.kind));
  }
  if (message.size() != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("a2a message: ", message.size(), " bytes, its header declares ", expected));
  }
  return h;
}

absl::StatusOr<DispatchView> ParseDispatch(std::span<const std::byte> message) {
  auto header = ReadHeader(message);
  if (!header.ok()) return header.status();
  if (header->kind != static_cast<uint16_t>(Kind::kDispatch)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a2a message: kind ", header->kind, " where a dispatch was expected"));
  }
  const int64_t r = header->rows, h = header->hidden, k = header->top_k;
  const std::byte* base = message.data();
  return DispatchView{*header, At<RowTag>(base, TagsOffset()), At<float>(base, XOffset(r)),
                      At<int32_t>(base, IdsOffset(r, h)), At<float>(base, WeightsOffset(r, h, k))};
}

absl::StatusOr<CombineView> ParseCombine(std::span<const std::byte> message) {
  auto header = ReadHeader(message);
  if (!header.ok()) return header.status();
  if (header->kind == static_cast<uint16_t>(Kind::kError)) {
    const auto* text = reinterpret_cast<const char*>(message.data() + sizeof(Header));
    int code = header->error_code;
    if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
      code = static_cast<int>(absl::StatusCode::kUnknown);
    }
    return absl::Status(static_cast<absl::StatusCode>(code),
                        absl::string_view(text, message.size() - sizeof(Header)));
  }
  if (header->kind != static_cast<uint16_t>(Kind::kCombine)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a2a message: kind ", header->kind, " where a combine was expected"));
  }
  const std::byte* base = message.data();
  return CombineView{*header, At<RowTag>(base, TagsOffset()),
                     At<double>(base, XOffset(header->rows))};
}

std::vector<int32_t> EvenPlacement(int64_t num_experts, int64_t num_shards) {
  std::vector<int32_t> placement(num_experts);
  for (int64_t s = 0; s < num_shards; ++s) {
    for (int64_t e = s * num_experts / num_shards; e < (s + 1) * num_experts / num_shards; ++e) {
      placement[e] = static_cast<int32_t>(s);
    }
  }
  return placement;
}

absl::Status ValidatePlacement(std::span<const int32_t> placement, int64_t num_experts,
                               int64_t num_shards) {
  if (num_shards <= 0) return absl::InvalidArgumentError("placement: no shards");
  if (static_cast<int64_t>(placement.size()) != num_experts) {
    return absl::InvalidArgumentError(
        absl::StrCat("placement has ", placement.size(), " entries for ", num_experts, " experts"));
  }
  std::vector<int64_t> hosted(num_shards, 0);
  for (int64_t e = 0; e < num_experts; ++e) {
    if (placement[e] < 0 || placement[e] >= num_shards) {
      return absl::InvalidArgumentError(
          absl::StrCat("placement: expert ", e, " on shard ", placement[e], " of ", num_shards));
    }
    ++hosted[placement[e]];
  }
  for (int64_t s = 0; s < num_shards; ++s) {
    if (hosted[s] == 0) {
      return absl::InvalidArgumentError(absl::StrCat("placement: shard ", s, " hosts no expert"));
    }
  }
  return absl::OkStatus();
}

std::vector<bool> OwnedExperts(std::span<const int32_t> placement, int64_t shard) {
  std::vector<bool> owned(placement.size());
  for (size_t e = 0; e < placement.size(); ++e) owned[e] = placement[e] == shard;
  return owned;
}

}  // namespace moeserve::a2a
