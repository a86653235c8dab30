// `moeserve expert --config FILE --index J [--set key=value ...]`: one expert-shard process.
#include <csignal>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/role_main.h"
#include "cli/status_exit.h"
#include "expert_shard/shard_process.h"

namespace moeserve::cli {

int RunExpert(const std::vector<std::string>& args) {
  return RunRole("expert", args, [](const ClusterConfig& config, int index,
                                    const std::atomic<bool>* stop) {
    return RunExpertShardProcess(config, index, stop);
  });
}

}  // namespace moeserve::cli
