// `moeserve router --config FILE [--set key=value]`: the router process.
#include "cli/commands.h"
#include "cli/default_tokenizer.h"
#include "cli/role_main.h"
#include "router/cluster/router_process.h"

namespace moeserve::cli {

int RunRouter(const std::vector<std::string>& args) {
  return RunRole("router", args,
                 [](const ClusterConfig& config, int, const std::atomic<bool>* stop) {
                   const auto fallback = FindDefaultQwen3Tokenizer();
                   return router::RunRouterProcess(config, fallback ? fallback->string() : "",
                                                   stop);
                 });
}

}  // namespace moeserve::cli
