#include "cli/role_main.h"

#include <csignal>

#include "cli/flags.h"
#include "cli/status_exit.h"
#include "common/logging.h"

namespace moeserve::cli {
namespace {
std::atomic<bool> g_stop{false};  // set by the signal handler; the only process-wide flag
extern "C" void OnStopSignal(int) { g_stop.store(true); }
}  // namespace

int RunRole(const std::string& command, const std::vector<std::string>& args,
            const RoleBody& body) {
  auto flags = Flags::Parse(args, {"config", "index", "set", "model"});
  if (!flags.ok()) return UsageError(command, std::string(flags.status().message()));
  std::vector<std::string> overrides;
  // --set may be repeated: Flags keeps the last; split on ';' to allow several in one flag.
  if (flags->Has("set")) {
    std::string all = flags->GetString("set", "");
    size_t start = 0;
    while (start <= all.size()) {
      const size_t end = all.find(';', start);
      overrides.push_back(all.substr(start, end == std::string::npos ? end : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  if (flags->Has("model")) overrides.push_back("model=" + flags->GetString("model", ""));
  auto path = flags->GetString("config");
  if (!path.ok()) return UsageError(command, std::string(path.status().message()));
  auto config = LoadClusterConfig(*path, overrides);
  if (!config.ok()) return StatusExit(command, config.status());
  auto index = flags->GetInt("index", 0);
  if (!index.ok()) return UsageError(command, std::string(index.status().message()));
  SetLogThreshold(config->logging.log_level());
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const absl::Status status = body(*config, static_cast<int>(*index), &g_stop);
  if (!status.ok()) return StatusExit(command, status);
  return 0;
}

}  // namespace moeserve::cli
