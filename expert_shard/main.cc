// moeserve-expert: the expert role as its own binary (the same as `moeserve expert`).
//   moeserve-expert --config FILE --index I [--set key=value]
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  return moeserve::cli::RunExpert(std::vector<std::string>(argv + 1, argv + argc));
}
