// moeserve-router: the router role as its own binary (the same as `moeserve router`).
//   moeserve-router --config FILE [--set key=value]
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  return moeserve::cli::RunRouter(std::vector<std::string>(argv + 1, argv + argc));
}
