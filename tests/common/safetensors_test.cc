#include "common/safetensors.h"

#include <cstring>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/temp_dir.h"

namespace moeserve {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::ReadFile;
using testutil::TempDir;
using testutil::WriteFile;
using Json = nlohmann::json;

template <typename T>
std::span<const std::byte> Bytes(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

template <typename T>
std::vector<T> Values(const TensorInfo& info) {
  std::vector<T> out(info.nbytes / sizeof(T));
  std::memcpy(out.data(), info.data, info.nbytes);
  return out;
}

// A raw safetensors file: 8-byte length (or `length_override`), header text, data bytes.
std::string RawFile(const std::string& header, const std::string& data,
                    std::optional<uint64_t> length_override = std::nullopt) {
  uint64_t n = length_override.value_or(header.size());
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i, n >>= 8) out[i] = static_cast<char>(n & 0xFF);
  return out + header + data;
}

std::string OpenError(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir);
  if (store.ok()) return "OK";
  const std::string message(store.status().message());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  // Writes `header` (a JSON object text) over `data_bytes` bytes as DIR/model.safetensors.
  void WriteSingle(const std::string& header, size_t data_bytes) {
    WriteFile(dir_.Join("model.safetensors"), RawFile(header, std::string(data_bytes, '\x01')));
  }
  std::string File() const { return dir_.Join("model.safetensors"); }

  TempDir dir_;
};

TEST_F(SafetensorsTest, WriteThenRead) {
  const std::vector<uint16_t> a = {1, 2, 3, 4, 5, 6};  // BF16 bits, [2, 3]
  const std::vector<float> b = {1.5f, -2.0f, 3.25f};   // [3]
  const std::vector<int64_t> c = {7};                  // scalar
  const std::vector<uint8_t> d = {9, 8, 7};            // odd size U8
  ASSERT_TRUE(WriteSafetensors(File(),
                               {{{"w.a", DType::kBF16, {2, 3}}, Bytes(a)},
                                {{"w.b", DType::kF32, {3}}, Bytes(b)},
                                {{"w.c", DType::kI64, {}}, Bytes(c)},
                                {{"w.d", DType::kU8, {3}}, Bytes(d)},
                                {{"w.empty", DType::kF16, {0, 4}}, {}}},
                               {{"format", "pt"}})
                  .ok());
  // Header length is a multiple of 8 and the JSON is plain safetensors.
  const std::string raw = ReadFile(File());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(n % 8, 0u);
  const Json header = Json::parse(raw.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(header["w.a"]["dtype"], "BF16");

  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status();
  const TensorStore& s = **store;
  EXPECT_THAT(s.names(), ElementsAre("w.a", "w.b", "w.c", "w.d", "w.empty"));
  EXPECT_EQ(s.size(), 5u);
  EXPECT_EQ(s.total_bytes(), 12u + 12u + 8u + 3u);
  EXPECT_EQ(s.source(), File());
  EXPECT_THAT(s.files(), ElementsAre(File()));

  absl::StatusOr<TensorInfo> ta = s.Get("w.a");
  ASSERT_TRUE(ta.ok());
  EXPECT_EQ(ta->dtype, DType::kBF16);
  EXPECT_THAT(ta->shape, ElementsAre(2, 3));
  EXPECT_EQ(ta->file, File());
  EXPECT_EQ(Values<uint16_t>(*ta), a);
  EXPECT_EQ(Values<float>(*s.Get("w.b")), b);
  EXPECT_EQ(Values<int64_t>(*s.Get("w.c")), c);
  EXPECT_TRUE(s.Get("w.c")->shape.empty());
  EXPECT_EQ(Values<uint8_t>(*s.Get("w.d")), d);
  EXPECT_EQ(s.Get("w.empty")->nbytes, 0u);
  // Larger dtypes first: every tensor aligned to its element size.
  for (const std::string& name : s.names()) {
    const TensorInfo* t = s.Find(name);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % DTypeSize(t->dtype), 0u) << name;
  }
  EXPECT_TRUE(s.Has("w.b"));
  EXPECT_FALSE(s.Has("w.z"));
  absl::StatusOr<TensorInfo> missing = s.Get("w.z");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("\"w.z\""));
}

TEST_F(SafetensorsTest, WriterIsDeterministicAndRejectsBadInput) {
  const std::vector<float> v = {1, 2};
  const std::string other = dir_.Join("other.safetensors");
  ASSERT_TRUE(WriteSafetensors(File(), {{{"x", DType::kF32, {2}}, Bytes(v)},
                                        {{"y", DType::kF32, {1}}, Bytes(std::vector<float>{3})}})
                  .ok());
  ASSERT_TRUE(WriteSafetensors(other, {{{"y", DType::kF32, {1}}, Bytes(std::vector<float>{3})},
                                       {{"x", DType::kF32, {2}}, Bytes(v)}})
                  .ok());
  EXPECT_EQ(ReadFile(File()), ReadFile(other));

  absl::Status s = WriteSafetensors(other, {{{"x", DType::kF32, {3}}, Bytes(v)}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("tensor \"x\" has 8 bytes"));
  s = WriteSafetensors(other,
                       {{{"x", DType::kF32, {2}}, Bytes(v)}, {{"x", DType::kF32, {2}}, Bytes(v)}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("tensor \"x\" given twice"));
}

TEST_F(SafetensorsTest, Sharded) {
  const std::vector<uint16_t> a = {1, 2}, b = {3, 4, 5}, c = {6};
  ASSERT_TRUE(
      WriteSafetensors(dir_.Join("model-00001-of-00002.safetensors"),
                       {{{"a", DType::kBF16, {2}}, Bytes(a)}, {{"b", DType::kBF16, {3}}, Bytes(b)}})
          .ok());
  ASSERT_TRUE(WriteSafetensors(dir_.Join("model-00002-of-00002.safetensors"),
                               {{{"c", DType::kBF16, {1, 1}}, Bytes(c)}})
                  .ok());
  WriteFile(dir_.Join("model.safetensors.index.json"), R"({
    "metadata": {"total_size": 12},
    "weight_map": {"a": "model-00001-of-00002.safetensors",
                   "b": "model-00001-of-00002.safetensors",
                   "c": "model-00002-of-00002.safetensors"}})");
  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT((*store)->names(), ElementsAre("a", "b", "c"));
  EXPECT_EQ((*store)->source(), dir_.Join("model.safetensors.index.json"));
  EXPECT_THAT((*store)->files(), ElementsAre(dir_.Join("model-00001-of-00002.safetensors"),
                                             dir_.Join("model-00002-of-00002.safetensors")));
  EXPECT_EQ(Values<uint16_t>(*(*store)->Get("b")), b);
  EXPECT_EQ((*store)->Get("c")->file, dir_.Join("model-00002-of-00002.safetensors"));
  EXPECT_EQ((*store)->total_bytes(), 12u);
}

TEST_F(SafetensorsTest, ShardErrors) {
  const std::vector<uint16_t> a = {1, 2};
  const std::string shard1 = "model-00001-of-00002.safetensors";
  const std::string shard2 = "model-00002-of-00002.safetensors";
  const std::string index = dir_.Join("model.safetensors.index.json");
  ASSERT_TRUE(WriteSafetensors(dir_.Join(shard1), {{{"a", DType::kBF16, {2}}, Bytes(a)},
                                                   {{"b", DType::kBF16, {2}}, Bytes(a)}})
                  .ok());

  // Index points at a file that does not exist.
  WriteFile(index, Json({{"weight_map", {{"a", shard1}, {"b", shard1}, {"c", shard2}}}}).dump());
  EXPECT_EQ(OpenError(dir_.path()),
            index + ": tensor \"c\" maps to missing file \"" + shard2 + "\"");

  // Index names a tensor its shard does not hold.
  ASSERT_TRUE(WriteSafetensors(dir_.Join(shard2), {{{"d", DType::kBF16, {2}}, Bytes(a)}}).ok());
  WriteFile(
      index,
      Json({{"weight_map", {{"a", shard1}, {"b", shard1}, {"c", shard2}, {"d", shard2}}}}).dump());
  EXPECT_EQ(OpenError(dir_.path()), index + ": tensor \"c\" is not in \"" + shard2 + "\"");

  // Index maps a tensor to the wrong shard.
  WriteFile(index, Json({{"weight_map", {{"a", shard1}, {"b", shard2}, {"d", shard2}}}}).dump());
  EXPECT_EQ(OpenError(dir_.path()),
            index + ": tensor \"b\" maps to \"" + shard2 + "\" but is in " + dir_.Join(shard1));

  // A shard holds a tensor the index does not list.
  WriteFile(index, Json({{"weight_map", {{"a", shard1}, {"d", shard2}}}}).dump());
  EXPECT_EQ(OpenError(dir_.path()), dir_.Join(shard1) + ": tensor \"b\" is not listed in " + index);

  // The same tensor in two shards.
  ASSERT_TRUE(WriteSafetensors(dir_.Join(shard2), {{{"b", DType::kBF16, {2}}, Bytes(a)}}).ok());
  WriteFile(index, Json({{"weight_map", {{"a", shard1}, {"b", shard2}}}}).dump());
  EXPECT_EQ(OpenError(dir_.path()),
            dir_.Join(shard2) + ": tensor \"b\" is also in " + dir_.Join(shard1));

  // Bad index files.
  WriteFile(index, "{\"weight_map\": ");
  EXPECT_THAT(OpenError(dir_.path()), HasSubstr(index + ": invalid JSON"));
  WriteFile(index, R"({"metadata": {}})");
  EXPECT_EQ(OpenError(dir_.path()), index + ": field \"weight_map\" must be a non-empty object");
  WriteFile(index, R"({"weight_map": {"a": "../elsewhere.safetensors"}})");
  EXPECT_THAT(OpenError(dir_.path()), HasSubstr(index + ": tensor \"a\" maps to a bad file name"));
  WriteFile(index, R"({"weight_map": {"a": 3}})");
  EXPECT_THAT(OpenError(dir_.path()), HasSubstr(index + ": tensor \"a\" maps to a non-string"));
}

TEST_F(SafetensorsTest, NoModelFiles) {
  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr("no model.safetensors or model.safetensors.index.json"));
}

TEST_F(SafetensorsTest, HeaderErrors) {
  const std::string w = "model.layers.3.mlp.gate.weight";
  struct Case {
    std::string header;
    size_t data_bytes;
    std::string expected;  // after "<file>: "
  };
  const std::vector<Case> cases = {
      {"{\"x\": ", 0, "header is not valid JSON: "},
      {"[1, 2]", 0, "header is not a JSON object"},
      {R"({"t": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 2]}})", 2,
       "tensor \"t\" has unknown dtype \"Q4\""},
      {R"({"t": {"shape": [2], "data_offsets": [0, 2]}})", 2, "tensor \"t\" has no \"dtype\""},
      {R"({"t": {"dtype": "BF16", "shape": [-2], "data_offsets": [0, 4]}})", 4,
       "tensor \"t\" has a bad shape [-2]"},
      {R"({"t": {"dtype": "BF16", "shape": [2], "data_offsets": [0]}})", 4,
       "tensor \"t\" has no \"data_offsets\" pair"},
      {R"({"t": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 4]}})", 4,
       "tensor \"t\" shape [3] x BF16 (2 bytes) = 6 bytes but data_offsets [0, 4] span 4"},
      {R"({"t": {"dtype": "BF16", "shape": [2], "data_offsets": [4, 0]}})", 4,
       "tensor \"t\" data_offsets [4, 0] are reversed"},
      {R"({")" + w + R"(": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}})", 4,
       "tensor \"" + w + "\" data_offsets [0, 8] exceed the data region (4 bytes"},
      {R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
           "b": {"dtype": "BF16", "shape": [2], "data_offsets": [2, 6]}})",
       6, "tensor \"b\" data_offsets [2, 6] overlap tensor \"a\""},
      {R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
           "b": {"dtype": "BF16", "shape": [2], "data_offsets": [6, 10]}})",
       10, "tensor \"b\" data_offsets [6, 10] leave a gap of 2 bytes after \"a\""},
      {R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [2, 6]}})", 6,
       "tensor \"a\" data_offsets [2, 6] leave a gap of 2 bytes after the header"},
      {R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", 6,
       "data region has 2 bytes after the last tensor"},
      {R"({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]},
           "a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}})",
       2, "tensor \"a\" appears twice in the header"},
      {R"({"__metadata__": {"format": 1}})", 0, "\"__metadata__\" value for \"format\" is not"},
  };
  for (const Case& c : cases) {
    WriteSingle(c.header, c.data_bytes);
    EXPECT_THAT(OpenError(dir_.path()), HasSubstr(File() + ": " + c.expected)) << c.header;
  }
}

TEST_F(SafetensorsTest, CorruptFiles) {
  WriteFile(File(), "abc");
  EXPECT_EQ(OpenError(dir_.path()),
            File() + ": file is too small for a safetensors header (3 bytes)");

  WriteFile(File(), RawFile("{}", "", /*length_override=*/1000));
  EXPECT_EQ(OpenError(dir_.path()),
            File() +
                ": header length 1000 exceeds file size 10 (truncated or not a safetensors "
                "file)");

  WriteFile(File(), RawFile("", ""));
  EXPECT_THAT(OpenError(dir_.path()), HasSubstr(File() + ": header length 0 is out of range"));

  // A good file, truncated: the last tensor's offsets run past the end.
  const std::vector<uint16_t> v(100, 7);
  ASSERT_TRUE(WriteSafetensors(File(), {{{"a", DType::kBF16, {100}}, Bytes(v)},
                                        {{"b", DType::kBF16, {100}}, Bytes(v)}})
                  .ok());
  std::filesystem::resize_file(File(), std::filesystem::file_size(File()) - 10);
  EXPECT_THAT(OpenError(dir_.path()),
              HasSubstr(File() + ": tensor \"b\" data_offsets [200, 400] exceed the data region "
                                 "(390 bytes"));
}

TEST_F(SafetensorsTest, PopulateSelectedWithProgress) {
  const std::vector<uint16_t> big(300'000, 1), small(10, 2);
  ASSERT_TRUE(WriteSafetensors(File(), {{{"expert.0", DType::kBF16, {300'000}}, Bytes(big)},
                                        {{"expert.1", DType::kBF16, {300'000}}, Bytes(big)},
                                        {{"attn", DType::kBF16, {10}}, Bytes(small)}})
                  .ok());
  std::ostringstream progress;
  OpenOptions options;
  options.populate = [](std::string_view name) { return name.substr(0, 6) == "expert"; };
  options.progress = true;
  options.progress_stream = &progress;
  options.populate_threads = 3;
  absl::StatusOr<std::unique_ptr<TensorStore>> store = TensorStore::Open(dir_.path(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(progress.str(), HasSubstr("loading weights: done 1 files, 1.2 MB in "));

  options.progress = false;
  options.populate = [](std::string_view name) { return name == "attn"; };
  absl::StatusOr<PopulateStats> stats = (*store)->Populate(options);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->tensors, 1);
  EXPECT_EQ(stats->bytes, 20);
  EXPECT_EQ(stats->files, 1);

  options.populate = nullptr;  // everything
  stats = (*store)->Populate(options);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->tensors, 3);
  EXPECT_EQ(stats->bytes, 1'200'020);

  options.populate_threads = 0;
  EXPECT_FALSE((*store)->Populate(options).ok());
}

TEST(DType, NamesAndSizes) {
  EXPECT_EQ(DTypeName(DType::kBF16), "BF16");
  EXPECT_EQ(DTypeName(DType::kF8E4M3), "F8_E4M3");
  EXPECT_EQ(ParseDType("F8_E5M2"), DType::kF8E5M2);
  EXPECT_EQ(ParseDType("bf16"), std::nullopt);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(ShapeToString({151936, 4096}), "[151936, 4096]");
  EXPECT_EQ(NumElements({}), 1);
  EXPECT_EQ(NumElements({3, 0}), 0);
  EXPECT_EQ(NumElements({-1}), std::nullopt);
  EXPECT_EQ(NumElements({int64_t{1} << 40, int64_t{1} << 40}), std::nullopt);
}

}  // namespace
}  // namespace moeserve
