#include "common/placement.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "moeserve/cluster/v1/cluster.pb.h"

namespace moeserve {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status CheckCounts(int num_experts, int num_shards) {
  if (num_experts < 1) return Invalid(absl::StrCat("num_experts must be >= 1, got ", num_experts));
  if (num_shards < 1) return Invalid(absl::StrCat("need at least 1 shard, got ", num_shards));
  if (num_shards > num_experts) {
    return Invalid(absl::StrCat(num_shards, " shards for ", num_experts, " experts: shard ",
                                num_experts, " would host no expert"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PlacementSpec::Validate(int num_shards) const {
  if (is_even()) return absl::OkStatus();
  std::map<int, int> owner;  // expert -> shard
  for (const auto& [shard, experts] : explicit_map) {
    if (shard < 0 || shard >= num_shards) {
      return Invalid(absl::StrCat("shard ", shard, " is out of range: expert_shards.count is ",
                                  num_shards, " (shards 0..", num_shards - 1, ")"));
    }
    if (experts.empty()) return Invalid(absl::StrCat("shard ", shard, " hosts no expert"));
    for (int e : experts) {
      if (e < 0) return Invalid(absl::StrCat("shard ", shard, ": expert id ", e, " is negative"));
      auto [it, inserted] = owner.emplace(e, shard);
      if (!inserted) {
        return Invalid(it->second == shard
                           ? absl::StrCat("expert ", e, " is listed twice for shard ", shard)
                           : absl::StrCat("expert ", e, " is assigned to shards ", it->second,
                                          " and ", shard));
      }
    }
  }
  for (int s = 0; s < num_shards; ++s) {
    if (!explicit_map.count(s)) {
      return Invalid(absl::StrCat("shard ", s, " is not listed (every shard 0..", num_shards - 1,
                                  " needs at least one expert)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ExpertPlacement> ExpertPlacement::Even(int num_experts, int num_shards) {
  if (absl::Status s = CheckCounts(num_experts, num_shards); !s.ok()) return s;
  std::vector<int> expert_to_shard(num_experts);
  const int base = num_experts / num_shards, extra = num_experts % num_shards;
  int e = 0;
  for (int s = 0; s < num_shards; ++s) {
    const int n = base + (s < extra ? 1 : 0);
    for (int i = 0; i < n; ++i) expert_to_shard[e++] = s;
  }
  return FromExpertToShard(expert_to_shard, num_shards);
}

absl::StatusOr<ExpertPlacement> ExpertPlacement::Explicit(
    int num_experts, int num_shards, const std::map<int, std::vector<int>>& map) {
  if (absl::Status s = CheckCounts(num_experts, num_shards); !s.ok()) return s;
  PlacementSpec spec{map};
  if (spec.is_even()) return Invalid("the explicit map is empty");
  if (absl::Status s = spec.Validate(num_shards); !s.ok()) return s;
  std::vector<int> expert_to_shard(num_experts, -1);
  for (const auto& [shard, experts] : map) {
    for (int e : experts) {
      if (e >= num_experts) {
        return Invalid(absl::StrCat("shard ", shard, ": expert ", e,
                                    " does not exist (the model has experts 0..", num_experts - 1,
                                    ")"));
      }
      expert_to_shard[e] = shard;
    }
  }
  return FromExpertToShard(expert_to_shard, num_shards);
}

absl::StatusOr<ExpertPlacement> ExpertPlacement::Resolve(const PlacementSpec& spec, int num_experts,
                                                         int num_shards) {
  return spec.is_even() ? Even(num_experts, num_shards)
                        : Explicit(num_experts, num_shards, spec.explicit_map);
}

absl::StatusOr<ExpertPlacement> ExpertPlacement::FromExpertToShard(
    const std::vector<int>& expert_to_shard, int num_shards) {
  if (expert_to_shard.empty()) return Invalid("the placement has no experts");
  if (num_shards < 1) return Invalid(absl::StrCat("need at least 1 shard, got ", num_shards));
  ExpertPlacement p;
  p.expert_to_shard_ = expert_to_shard;
  p.shard_experts_.resize(num_shards);
  for (size_t e = 0; e < expert_to_shard.size(); ++e) {
    const int s = expert_to_shard[e];
    if (s == -1) return Invalid(absl::StrCat("expert ", e, " is assigned to no shard"));
    if (s < 0 || s >= num_shards) {
      return Invalid(absl::StrCat("expert ", e, " is assigned to shard ", s, ", out of range 0..",
                                  num_shards - 1));
    }
    p.shard_experts_[s].push_back(static_cast<int>(e));
  }
  for (int s = 0; s < num_shards; ++s) {
    if (p.shard_experts_[s].empty()) return Invalid(absl::StrCat("shard ", s, " hosts no expert"));
  }
  return p;
}

std::string ExpertPlacement::Describe() const {
  std::vector<std::string> parts;
  for (int s = 0; s < num_shards(); ++s) {
    parts.push_back(absl::StrCat("shard ", s, ": experts ", FormatExpertRanges(shard_experts_[s])));
  }
  return absl::StrJoin(parts, "; ");
}

std::string FormatExpertRanges(const std::vector<int>& ids) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    parts.push_back(j == i ? absl::StrCat(ids[i]) : absl::StrCat(ids[i], "-", ids[j]));
    i = j + 1;
  }
  return absl::StrJoin(parts, ",");
}

void PlacementToProto(const ExpertPlacement& placement, uint64_t version,
                      cluster::v1::Placement* proto) {
  proto->set_version(version);
  proto->set_num_experts(placement.num_experts());
  proto->set_num_shards(placement.num_shards());
  proto->clear_expert_to_shard();
  proto->clear_layers();
  for (int s : placement.expert_to_shard()) proto->add_expert_to_shard(s);
}

absl::StatusOr<ExpertPlacement> PlacementForLayer(const cluster::v1::Placement& proto, int layer) {
  const bool uniform = proto.expert_to_shard_size() > 0;
  if (uniform && proto.layers_size() > 0) {
    return Invalid("placement: both a uniform expert_to_shard and per-layer entries are set");
  }
  const google::protobuf::RepeatedField<uint32_t>* map = nullptr;
  if (uniform) {
    map = &proto.expert_to_shard();
  } else {
    for (const cluster::v1::LayerPlacement& l : proto.layers()) {
      if (static_cast<int>(l.layer()) == layer) {
        map = &l.expert_to_shard();
        break;
      }
    }
    if (map == nullptr) {
      return absl::NotFoundError(absl::StrCat("placement: no entry for layer ", layer));
    }
  }
  if (static_cast<uint32_t>(map->size()) != proto.num_experts()) {
    return Invalid(absl::StrCat("placement: layer ", layer, " maps ", map->size(),
                                " experts, num_experts is ", proto.num_experts()));
  }
  if (proto.num_shards() == 0) return Invalid("placement: num_shards is 0");
  std::vector<int> expert_to_shard;
  expert_to_shard.reserve(map->size());
  for (int e = 0; e < map->size(); ++e) {
    const uint32_t s = map->Get(e);
    if (s >= proto.num_shards()) {
      return Invalid(absl::StrCat("placement: layer ", layer, ": expert ", e,
                                  " is assigned to shard ", s, ", out of range 0..",
                                  proto.num_shards() - 1));
    }
    expert_to_shard.push_back(static_cast<int>(s));
  }
  auto p =
      ExpertPlacement::FromExpertToShard(expert_to_shard, static_cast<int>(proto.num_shards()));
  if (!p.ok()) return Invalid(absl::StrCat("placement: ", p.status().message()));
  return p;
}

}  // namespace moeserve
