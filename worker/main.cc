// moeserve-worker: the worker role as its own binary (the same as `moeserve worker`).
//   moeserve-worker --config FILE --index I [--set key=value]
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  return moeserve::cli::RunWorker(std::vector<std::string>(argv + 1, argv + argc));
}
