// Shared entry of the cluster role commands (`router`, `worker`, `expert`): reads the cluster
// config (--config FILE, --set key=value overrides), the member index, installs SIGINT/SIGTERM
// handlers that request a clean stop, and maps the result to an exit code.
#ifndef MOESERVE_CLI_ROLE_MAIN_H_
#define MOESERVE_CLI_ROLE_MAIN_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/cluster_config.h"

namespace moeserve::cli {

using RoleBody =
    std::function<absl::Status(const ClusterConfig&, int index, const std::atomic<bool>* stop)>;

int RunRole(const std::string& command, const std::vector<std::string>& args,
            const RoleBody& body);

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_ROLE_MAIN_H_
