// Flags shared by the commands that read the cluster configuration (validate-config, up, and the
// router/worker/expert subcommands): repeatable `--set key=value` overrides.
#ifndef MOESERVE_CLI_CLUSTER_FLAGS_H_
#define MOESERVE_CLI_CLUSTER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve::cli {

// Removes every `--set key=value` and `--set=key=value` from `args` and returns the overrides in
// order (for LoadClusterConfig); the remaining arguments are left for Flags::Parse.
// InvalidArgument when a --set has no value.
absl::StatusOr<std::vector<std::string>> ExtractSetFlags(std::vector<std::string>* args);

// `text` as a YAML double-quoted scalar, so that a flag value (a path, a host) becomes an override
// that YAML reads back verbatim: YamlQuote("a: b") == "\"a: b\"".
std::string YamlQuote(const std::string& text);

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_CLUSTER_FLAGS_H_
