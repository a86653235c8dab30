// Which expert shard hosts which expert.
//
// PlacementSpec is what the cluster configuration says (even split, or an explicit
// shard -> experts map); ExpertPlacement is the resolved, validated map for a model with
// `num_experts` experts per MoE layer: every expert is hosted by exactly one shard and every shard
// hosts at least one expert. The same map applies to every MoE layer (the wire format,
// moeserve.cluster.v1.Placement, can also carry one map per layer).
//
// Error messages name the expert or shard and leave the config path to the caller, e.g.
// "expert 17 is assigned to no shard" (cluster_config prefixes "expert_shards.placement: ").
// Values are immutable after construction and safe to share between threads.
#ifndef MOESERVE_COMMON_PLACEMENT_H_
#define MOESERVE_COMMON_PLACEMENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace moeserve {

namespace cluster::v1 {
class Placement;
}  // namespace cluster::v1

struct PlacementSpec {
  // Empty: the even contiguous split. Otherwise shard index -> expert ids it hosts.
  std::map<int, std::vector<int>> explicit_map;

  bool is_even() const { return explicit_map.empty(); }
  // The checks possible without the model: shard indices in [0, num_shards), every shard
  // listed, non-negative expert ids, no expert listed twice.
  absl::Status Validate(int num_shards) const;
  bool operator==(const PlacementSpec&) const = default;
};

class ExpertPlacement {
 public:
  // Contiguous ranges, the first num_experts % num_shards shards one expert larger:
  // 128 experts on 3 shards -> 0-42, 43-85, 86-127. InvalidArgument when num_shards < 1,
  // num_experts < 1 or num_shards > num_experts.
  static absl::StatusOr<ExpertPlacement> Even(int num_experts, int num_shards);
  // `map`: shard index -> experts. InvalidArgument naming the first expert assigned to no shard
  // or to two shards, an expert id out of range, a shard out of range or with no expert.
  static absl::StatusOr<ExpertPlacement> Explicit(int num_experts, int num_shards,
                                                  const std::map<int, std::vector<int>>& map);
  static absl::StatusOr<ExpertPlacement> Resolve(const PlacementSpec& spec, int num_experts,
                                                 int num_shards);
  // From expert_to_shard[e] = shard (the wire form); the same checks as Explicit.
  static absl::StatusOr<ExpertPlacement> FromExpertToShard(const std::vector<int>& expert_to_shard,
                                                           int num_shards);

  int num_experts() const { return static_cast<int>(expert_to_shard_.size()); }
  int num_shards() const { return static_cast<int>(shard_experts_.size()); }
  int ShardOf(int expert) const { return expert_to_shard_.at(expert); }
  // Ascending expert ids hosted by `shard`.
  const std::vector<int>& ExpertsOf(int shard) const { return shard_experts_.at(shard); }
  const std::vector<int>& expert_to_shard() const { return expert_to_shard_; }
  // "shard 0: experts 0-42; shard 1: experts 43-85; ..."
  std::string Describe() const;

  bool operator==(const ExpertPlacement&) const = default;

 private:
  ExpertPlacement() = default;
  std::vector<int> expert_to_shard_;             // [num_experts]
  std::vector<std::vector<int>> shard_experts_;  // [num_shards]
};

// "0-3,7,9-10" for {0,1,2,3,7,9,10} (input sorted ascending).
std::string FormatExpertRanges(const std::vector<int>& sorted_ids);

// Fills version, num_experts, num_shards and the uniform expert_to_shard; shard endpoints are the
// caller's (the router knows them). Clears any per-layer entries.
void PlacementToProto(const ExpertPlacement& placement, uint64_t version,
                      cluster::v1::Placement* proto);

// The map for MoE layer `layer` from a received Placement (uniform or per layer), checked as
// FromExpertToShard does. NotFound when a per-layer placement has no entry for `layer`;
// InvalidArgument when it is inconsistent (sizes, shard out of range, both forms given).
absl::StatusOr<ExpertPlacement> PlacementForLayer(const cluster::v1::Placement& proto, int layer);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_PLACEMENT_H_
