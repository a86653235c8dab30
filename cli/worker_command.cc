// `moeserve worker --config FILE --index I [--set key=value]`: one attention-worker process.
#include "cli/commands.h"
#include "cli/role_main.h"
#include "worker/worker_process.h"

namespace moeserve::cli {

int RunWorker(const std::vector<std::string>& args) {
  return RunRole("worker", args, [](const ClusterConfig& config, int index,
                                    const std::atomic<bool>* stop) {
    return RunWorkerProcess(config, index, stop);
  });
}

}  // namespace moeserve::cli
