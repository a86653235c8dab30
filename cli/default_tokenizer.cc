#include "cli/default_tokenizer.h"

#include <vector>

namespace moeserve::cli {
namespace fs = std::filesystem;

std::optional<fs::path> FindDefaultQwen3Tokenizer() {
  std::vector<fs::path> starts;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  const fs::path cwd = fs::current_path(ec);
  if (!ec) starts.push_back(cwd);
  for (const fs::path& start : starts) {
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      const fs::path candidate = p / ".cache" / "qwen3-tokenizer";
      if (fs::is_regular_file(candidate / "tokenizer.json", ec) &&
          fs::is_regular_file(candidate / "tokenizer_config.json", ec)) {
        return candidate;
      }
      if (p == p.parent_path()) break;
    }
  }
  return std::nullopt;
}

}  // namespace moeserve::cli
