#include "common/placement.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "moeserve/cluster/v1/cluster.pb.h"

namespace moeserve {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ExpertPlacement, EvenSplitIsContiguousWithRemainderFirst) {
  auto p = ExpertPlacement::Even(128, 3);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->num_experts(), 128);
  EXPECT_EQ(p->num_shards(), 3);
  EXPECT_EQ(p->ExpertsOf(0).size(), 43u);
  EXPECT_EQ(p->ExpertsOf(1).size(), 43u);
  EXPECT_EQ(p->ExpertsOf(2).size(), 42u);
  EXPECT_EQ(p->ShardOf(0), 0);
  EXPECT_EQ(p->ShardOf(42), 0);
  EXPECT_EQ(p->ShardOf(43), 1);
  EXPECT_EQ(p->ShardOf(127), 2);
  EXPECT_EQ(p->Describe(),
            "shard 0: experts 0-42; shard 1: experts 43-85; shard 2: experts 86-127");
}

TEST(ExpertPlacement, EvenOneShardHostsAll) {
  auto p = ExpertPlacement::Even(8, 1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ExpertsOf(0).size(), 8u);
}

TEST(ExpertPlacement, EvenRejectsMoreShardsThanExperts) {
  auto p = ExpertPlacement::Even(4, 5);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("5 shards for 4 experts"));
  EXPECT_FALSE(ExpertPlacement::Even(0, 1).ok());
  EXPECT_FALSE(ExpertPlacement::Even(4, 0).ok());
}

TEST(ExpertPlacement, ExplicitMap) {
  auto p = ExpertPlacement::Explicit(6, 2, {{0, {0, 2, 4}}, {1, {5, 3, 1}}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->ExpertsOf(1), ElementsAre(1, 3, 5));
  EXPECT_THAT(p->expert_to_shard(), ElementsAre(0, 1, 0, 1, 0, 1));
  EXPECT_EQ(p->Describe(), "shard 0: experts 0,2,4; shard 1: experts 1,3,5");
}

struct BadMap {
  const char* name;
  int num_experts;
  int num_shards;
  std::map<int, std::vector<int>> map;
  const char* message;
};

class ExplicitErrors : public ::testing::TestWithParam<BadMap> {};

TEST_P(ExplicitErrors, NamesTheProblem) {
  const BadMap& c = GetParam();
  auto p = ExpertPlacement::Explicit(c.num_experts, c.num_shards, c.map);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.status().message(), c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Placement, ExplicitErrors,
    ::testing::Values(
        BadMap{"missing", 4, 2, {{0, {0, 1}}, {1, {2}}}, "expert 3 is assigned to no shard"},
        BadMap{
            "twice", 4, 2, {{0, {0, 1, 2}}, {1, {2, 3}}}, "expert 2 is assigned to shards 0 and 1"},
        BadMap{"same_shard_twice",
               4,
               2,
               {{0, {0, 0}}, {1, {1, 2, 3}}},
               "expert 0 is listed twice for shard 0"},
        BadMap{"out_of_range",
               4,
               2,
               {{0, {0, 1}}, {1, {2, 3, 4}}},
               "shard 1: expert 4 does not exist (the model has experts 0..3)"},
        BadMap{
            "negative", 4, 2, {{0, {-1, 0}}, {1, {1, 2, 3}}}, "shard 0: expert id -1 is negative"},
        BadMap{"shard_out_of_range",
               4,
               2,
               {{0, {0, 1}}, {2, {2, 3}}},
               "shard 2 is out of range: expert_shards.count is 2 (shards 0..1)"},
        BadMap{"shard_unlisted",
               4,
               3,
               {{0, {0, 1}}, {1, {2, 3}}},
               "shard 2 is not listed (every shard 0..2 needs at least one expert)"},
        BadMap{"shard_empty", 4, 2, {{0, {0, 1, 2, 3}}, {1, {}}}, "shard 1 hosts no expert"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ExpertPlacement, ResolveUsesSpec) {
  PlacementSpec even;
  EXPECT_EQ(*ExpertPlacement::Resolve(even, 4, 2), *ExpertPlacement::Even(4, 2));
  PlacementSpec explicit_spec{{{0, {3}}, {1, {0, 1, 2}}}};
  auto p = ExpertPlacement::Resolve(explicit_spec, 4, 2);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ShardOf(3), 0);
}

TEST(PlacementSpec, ValidateWithoutModel) {
  EXPECT_TRUE(PlacementSpec{}.Validate(3).ok());
  EXPECT_TRUE((PlacementSpec{{{0, {0}}, {1, {1}}}}.Validate(2).ok()));
  EXPECT_FALSE((PlacementSpec{{{0, {0}}}}.Validate(2).ok()));
}

TEST(FormatExpertRanges, CollapsesRuns) {
  EXPECT_EQ(FormatExpertRanges({0, 1, 2, 3, 7, 9, 10}), "0-3,7,9-10");
  EXPECT_EQ(FormatExpertRanges({5}), "5");
  EXPECT_EQ(FormatExpertRanges({}), "");
}

TEST(PlacementProto, RoundTripUniform) {
  auto p = ExpertPlacement::Even(10, 4);
  ASSERT_TRUE(p.ok());
  cluster::v1::Placement proto;
  PlacementToProto(*p, 7, &proto);
  EXPECT_EQ(proto.version(), 7u);
  EXPECT_EQ(proto.num_experts(), 10u);
  EXPECT_EQ(proto.num_shards(), 4u);
  for (int layer : {0, 5, 47}) {
    auto back = PlacementForLayer(proto, layer);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, *p);
  }
}

TEST(PlacementProto, PerLayer) {
  cluster::v1::Placement proto;
  proto.set_num_experts(2);
  proto.set_num_shards(2);
  auto* l1 = proto.add_layers();
  l1->set_layer(1);
  l1->add_expert_to_shard(1);
  l1->add_expert_to_shard(0);
  auto p = PlacementForLayer(proto, 1);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ShardOf(0), 1);
  auto missing = PlacementForLayer(proto, 0);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "placement: no entry for layer 0");
}

TEST(PlacementProto, RejectsInconsistentMaps) {
  cluster::v1::Placement proto;
  proto.set_num_experts(3);
  proto.set_num_shards(2);
  proto.add_expert_to_shard(0);
  proto.add_expert_to_shard(1);
  EXPECT_EQ(PlacementForLayer(proto, 0).status().message(),
            "placement: layer 0 maps 2 experts, num_experts is 3");
  proto.add_expert_to_shard(2);
  EXPECT_EQ(PlacementForLayer(proto, 0).status().message(),
            "placement: layer 0: expert 2 is assigned to shard 2, out of range 0..1");
  proto.set_expert_to_shard(2, 1);
  EXPECT_TRUE(PlacementForLayer(proto, 0).ok());
  proto.add_layers();
  EXPECT_THAT(PlacementForLayer(proto, 0).status().message(), HasSubstr("both"));
  proto.clear_layers();
  proto.set_num_shards(3);  // shard 2 hosts nothing
  EXPECT_EQ(PlacementForLayer(proto, 0).status().message(), "placement: shard 2 hosts no expert");
  proto.set_num_shards(0);
  EXPECT_EQ(PlacementForLayer(proto, 0).status().message(), "placement: num_shards is 0");
}

}  // namespace
}  // namespace moeserve
