// Maps an absl::Status from a library to the CLI's contract: bad input (invalid argument, not
// found, out of range, failed precondition, data loss) exits 2, anything else 1; either way
// one line on stderr.
#ifndef MOESERVE_CLI_STATUS_EXIT_H_
#define MOESERVE_CLI_STATUS_EXIT_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"

namespace moeserve::cli {

inline int StatusExit(const std::string& command, const absl::Status& status) {
  std::string msg(status.message());
  for (char& ch : msg)
    if (ch == '\n') ch = ' ';
  std::fprintf(stderr, "moeserve %s: %s\n", command.c_str(), msg.c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      return 2;
    default:
      return 1;
  }
}

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_STATUS_EXIT_H_
