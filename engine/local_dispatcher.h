// The in-process placement: a MoeDispatcher that runs experts in the same process, on the
// calling thread, through the same ExpertCompute an expert-shard process uses.
#ifndef MOESERVE_ENGINE_LOCAL_DISPATCHER_H_
#define MOESERVE_ENGINE_LOCAL_DISPATCHER_H_

#include "common/moe_dispatch.h"
#include "expert_shard/expert_compute.h"

namespace moeserve {

class LocalDispatcher : public MoeDispatcher {
 public:
  explicit LocalDispatcher(ExpertCompute* compute) : compute_(compute) {}
  absl::Status Run(const MoeLayerBatch& batch) override { return compute_->Run(batch); }

 private:
  ExpertCompute* compute_;
};

}  // namespace moeserve

#endif  // MOESERVE_ENGINE_LOCAL_DISPATCHER_H_
