#include "cli/cluster_flags.h"

#include <cstdio>

namespace moeserve::cli {

absl::StatusOr<std::vector<std::string>> ExtractSetFlags(std::vector<std::string>* args) {
  std::vector<std::string> sets, rest;
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& a = (*args)[i];
    if (a == "--set") {
      if (i + 1 >= args->size()) {
        return absl::InvalidArgumentError("--set needs a value, e.g. --set workers.count=4");
      }
      sets.push_back((*args)[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      sets.push_back(a.substr(6));
    } else {
      rest.push_back(a);
    }
  }
  *args = std::move(rest);
  return sets;
}

std::string YamlQuote(const std::string& text) {
  std::string out = "\"";
  for (const unsigned char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

}  // namespace moeserve::cli
