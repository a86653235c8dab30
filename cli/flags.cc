#include "cli/flags.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace moeserve::cli {

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args,
                                   const std::set<std::string>& value_flags,
                                   const std::set<std::string>& bool_flags) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      f.positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (bool_flags.count(name)) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes true or false, got '", value, "'"));
      }
      f.values_[name] = has_value ? value : "true";
      continue;
    }
    if (!value_flags.count(name)) return absl::InvalidArgumentError("unknown flag --" + name);
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--" + name + " needs a value");
      value = args[++i];
    }
    f.values_[name] = value;
  }
  return f;
}

absl::StatusOr<std::string> Flags::GetString(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return absl::InvalidArgumentError("--" + name + " is required");
  return it->second;
}

std::string Flags::GetString(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> Flags::GetInt(const std::string& name,
                                      std::optional<int64_t> fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError("--" + name + " is required");
  }
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be an integer, got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<double> Flags::GetDouble(const std::string& name,
                                        std::optional<double> fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError("--" + name + " is required");
  }
  double v;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a number, got '", it->second, "'"));
  }
  return v;
}

bool Flags::GetBool(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && it->second == "true";
}

absl::StatusOr<std::vector<int64_t>> Flags::GetIntList(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return absl::InvalidArgumentError("--" + name + " is required");
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(it->second, ',')) {
    int64_t v;
    if (!absl::SimpleAtoi(part, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", part, "' is not an integer"));
    }
    out.push_back(v);
  }
  return out;
}

int UsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "moeserve %s: %s\n", command.c_str(), message.c_str());
  return 2;
}

}  // namespace moeserve::cli
