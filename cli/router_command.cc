// `moeserve router --config FILE [--set key=value]`: the router process.
#include "cli/commands.h"
#include "cli/role_main.h"
#include "router/cluster/router_process.h"

namespace moeserve::cli {

int RunRouter(const std::vector<std::string>& args) {
  return RunRole("router", args,
                 [](const ClusterConfig& config, int, const std::atomic<bool>* stop) {
                   return router::RunRouterProcess(config, stop);
                 });
}

}  // namespace moeserve::cli
