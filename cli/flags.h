// Command-line flags for the `moeserve` subcommands: `--name value`, `--name=value` and bare
// boolean `--name`. Unknown flags, missing values and malformed numbers are errors that name
// the flag. Flags are read only in cli/ (never inside libraries).
#ifndef MOESERVE_CLI_FLAGS_H_
#define MOESERVE_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve::cli {

class Flags {
 public:
  // `value_flags` take a value; `bool_flags` take none (or =true/=false).
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& args,
                                     const std::set<std::string>& value_flags,
                                     const std::set<std::string>& bool_flags = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  absl::StatusOr<std::string> GetString(const std::string& name) const;  // required
  std::string GetString(const std::string& name, const std::string& fallback) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, std::optional<int64_t> fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, std::optional<double> fallback) const;
  bool GetBool(const std::string& name) const;
  // Comma-separated integers, e.g. --prompt-ids 1,2,3.
  absl::StatusOr<std::vector<int64_t>> GetIntList(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Prints "moeserve <command>: <message>" as one line on stderr and returns exit code 2.
int UsageError(const std::string& command, const std::string& message);

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_FLAGS_H_
