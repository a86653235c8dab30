#include <cstdio>

#include "cli/commands.h"

namespace moeserve::cli {

int RunVersion(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "moeserve version: takes no arguments\n");
    return 2;
  }
  std::printf("moeserve 0.1.0\n");
  return 0;
}

}  // namespace moeserve::cli
