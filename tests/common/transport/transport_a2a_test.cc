#include "common/transport_a2a.h"

#include <cstring>

#include "gtest/gtest.h"

namespace moeserve::a2a {
namespace {

Header Shape(int64_t rows, int64_t hidden, int64_t top_k) {
  Header h;
  h.source_rank = 3;
  h.shard = 1;
  h.sequence = 77;
  h.layer = 5;
  h.rows = rows;
  h.hidden = hidden;
  h.top_k = top_k;
  return h;
}

TEST(A2aWire, DispatchRoundTrips) {
  std::vector<std::byte> buffer;
  MutableDispatchView m = StartDispatch(Shape(2, 3, 2), &buffer);
  EXPECT_EQ(buffer.size(), DispatchBytes(2, 3, 2));
  EXPECT_EQ(buffer.size(), 64u + 2 * 8 + 2 * 3 * 4 + 2 * 2 * 4 * 2);
  for (int i = 0; i < 2; ++i) m.tags[i] = {3, static_cast<uint32_t>(10 + i)};
  for (int i = 0; i < 6; ++i) m.x[i] = i * 0.5f;
  for (int i = 0; i < 4; ++i) m.ids[i] = i % 2 ? -1 : i;
  for (int i = 0; i < 4; ++i) m.weights[i] = i * 0.25f;
  auto v = ParseDispatch(buffer);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header.kind, static_cast<uint16_t>(Kind::kDispatch));
  EXPECT_EQ(v->header.sequence, 77u);
  EXPECT_EQ(v->tags[1].token, 11u);
  EXPECT_EQ(v->x[5], 2.5f);
  EXPECT_EQ(v->ids[1], -1);
  EXPECT_EQ(v->weights[3], 0.75f);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCombine(buffer).status()));
}

TEST(A2aWire, CombineAndErrorRoundTrip) {
  std::vector<std::byte> buffer;
  MutableCombineView c = StartCombine(Shape(2, 3, 8), &buffer);
  EXPECT_EQ(buffer.size(), CombineBytes(2, 3));
  c.tags[0] = {3, 4};
  c.partial[5] = 1.0 / 3.0;
  auto v = ParseCombine(buffer);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->header.top_k, 0);
  EXPECT_EQ(v->tags[0].token, 4u);
  EXPECT_EQ(v->partial[5], 1.0 / 3.0);

  WriteError(Shape(2, 3, 8), absl::NotFoundError("no such layer"), &buffer);
  auto e = ParseCombine(buffer);
  EXPECT_TRUE(absl::IsNotFound(e.status()));
  EXPECT_EQ(e.status().message(), "no such layer");
  auto h = ReadHeader(buffer);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->sequence, 77u);
}

TEST(A2aWire, RejectsMalformedMessages) {
  std::vector<std::byte> buffer;
  StartDispatch(Shape(2, 3, 2), &buffer);
  auto corrupt = [&](size_t offset, uint32_t value) {
    std::vector<std::byte> copy = buffer;
    std::memcpy(copy.data() + offset, &value, 4);
    return ReadHeader(copy).status();
  };
  EXPECT_TRUE(absl::IsInvalidArgument(corrupt(0, 0xdeadbeef)));     // magic
  EXPECT_TRUE(absl::IsInvalidArgument(corrupt(4, 2)));              // version 2, kind 0
  EXPECT_TRUE(absl::IsInvalidArgument(corrupt(4, 1 | (9 << 16))));  // kind 9
  std::vector<std::byte> short_copy(buffer.begin(), buffer.end() - 1);
  EXPECT_TRUE(absl::IsInvalidArgument(ReadHeader(short_copy).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadHeader({buffer.data(), 10}).status()));
  Header huge = Shape(1, 3, 2);
  huge.rows = int64_t{1} << 40;
  std::memcpy(buffer.data(), &huge, sizeof(huge));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadHeader(buffer).status()));
  huge.rows = -1;
  std::memcpy(buffer.data(), &huge, sizeof(huge));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadHeader(buffer).status()));
}

TEST(A2aPlacement, EvenSplitIsContiguousAndValid) {
  const auto p = EvenPlacement(128, 3);
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[41], 0);  // 128 * 1 / 3 = 42
  EXPECT_EQ(p[42], 1);
  EXPECT_EQ(p[127], 2);
  EXPECT_TRUE(ValidatePlacement(p, 128, 3).ok());
  const auto owned = OwnedExperts(p, 1);
  EXPECT_FALSE(owned[41]);
  EXPECT_TRUE(owned[42]);
  EXPECT_TRUE(absl::IsInvalidArgument(ValidatePlacement(p, 127, 3)));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidatePlacement(p, 128, 4)));  // shard 3 hosts none
  EXPECT_TRUE(absl::IsInvalidArgument(ValidatePlacement(p, 128, 2)));  // shard 2 out of range
}

}  // namespace
}  // namespace moeserve::a2a
