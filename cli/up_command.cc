// `moeserve up`: one router, M attention workers and N expert shards as child processes of this
// binary (`moeserve router|worker|expert --config FILE [--index I]`), supervised until SIGINT or
// SIGTERM or until one of them dies. docs/configuration.md describes the contract.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/status_exit.h"
#include "cli/supervisor.h"
#include "common/cluster_config.h"
#include "common/grpc_util.h"
#include "common/model_config.h"

namespace moeserve::cli {
namespace {

constexpr char kName[] = "up";

// The supervisor the signal handlers poke; set while `up` supervises.
std::atomic<Supervisor*> g_supervisor{nullptr};

void OnStopSignal(int) {
  if (Supervisor* s = g_supervisor.load()) s->RequestStop();
}

// Routes SIGINT/SIGTERM to `supervisor` for its lifetime; restores the old handlers after.
class StopSignals {
 public:
  explicit StopSignals(Supervisor* supervisor) {
    g_supervisor.store(supervisor);
    struct sigaction sa = {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_supervisor.store(nullptr);
  }

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

// A private directory for the effective configuration, removed on scope exit.
class RunDir {
 public:
  static absl::StatusOr<std::unique_ptr<RunDir>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/moeserve-up-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create a directory like ", pattern));
    }
    return std::unique_ptr<RunDir>(new RunDir(pattern));
  }
  ~RunDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit RunDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Where a local client reaches a listener bound to `host`.
std::string LocalHost(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host == "[::]" || host.empty() ? "127.0.0.1" : host;
}

std::function<absl::Status()> HealthProbe(const std::string& target) {
  return [target]() { return CheckGrpcHealth(target, absl::Seconds(1)); };
}

absl::StatusOr<std::string> SelfExecutable() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return absl::InternalError("cannot find this executable: " + ec.message());
  return self.string();
}

std::string Usage() {
  return "usage: moeserve up --model DIR [--attention-workers M] [--expert-shards N] "
         "[--http-port P] [--grpc-port Q] [--config FILE] [--set key=value ...] "
         "[--ready-timeout-s S] [--stop-grace-s S] [--log-dir DIR] [--child-binary PATH]";
}

}  // namespace

int RunUp(const std::vector<std::string>& raw_args) {
  std::vector<std::string> args = raw_args;
  auto sets = ExtractSetFlags(&args);
  if (!sets.ok()) return UsageError(kName, std::string(sets.status().message()));
  auto flags =
      Flags::Parse(args, {"model", "attention-workers", "expert-shards", "http-port", "grpc-port",
                          "config", "ready-timeout-s", "stop-grace-s", "log-dir", "child-binary"});
  if (!flags.ok()) return UsageError(kName, std::string(flags.status().message()));
  if (!flags->positional().empty()) {
    return UsageError(kName, "unexpected argument '" + flags->positional()[0] + "'; " + Usage());
  }
  if (!flags->Has("model") && !flags->Has("config")) {
    return UsageError(kName, "--model or --config is required; " + Usage());
  }

  // Specific flags become overrides ahead of --set, so --set has the last word.
  std::vector<std::string> overrides;
  const std::pair<const char*, const char*> kFlagKeys[] = {{"model", "model"},
                                                           {"attention-workers", "workers.count"},
                                                           {"expert-shards", "expert_shards.count"},
                                                           {"http-port", "router.http_port"},
                                                           {"grpc-port", "router.grpc_port"}};
  for (const auto& [flag, key] : kFlagKeys) {
    if (!flags->Has(flag)) continue;
    if (std::string(flag) == "model") {
      overrides.push_back(absl::StrCat(key, "=", YamlQuote(*flags->GetString(flag))));
      continue;
    }
    auto v = flags->GetInt(flag, std::nullopt);
    if (!v.ok()) return UsageError(kName, std::string(v.status().message()));
    overrides.push_back(absl::StrCat(key, "=", *v));
  }
  overrides.insert(overrides.end(), sets->begin(), sets->end());

  auto ready_timeout = flags->GetDouble("ready-timeout-s", 300.0);
  auto stop_grace = flags->GetDouble("stop-grace-s", 10.0);
  for (const absl::Status& s : {ready_timeout.status(), stop_grace.status()}) {
    if (!s.ok()) return UsageError(kName, std::string(s.message()));
  }
  SupervisorOptions sup_options;
  sup_options.ready_timeout = absl::Seconds(*ready_timeout);
  sup_options.stop_grace = absl::Seconds(*stop_grace);
  if (*ready_timeout <= 0) return UsageError(kName, "--ready-timeout-s must be > 0");
  if (*stop_grace < 0) return UsageError(kName, "--stop-grace-s must be >= 0");

  auto config = LoadClusterConfig(flags->GetString("config", ""), overrides);
  if (!config.ok()) return StatusExit(kName, config.status());
  if (config->data_plane.transport != "ucx") {
    return UsageError(kName,
                      "data_plane.transport: up runs separate processes, which need ucx, "
                      "not '" +
                          config->data_plane.transport + "'");
  }
  auto model = LoadModelConfig(config->model);
  if (!model.ok()) return StatusExit(kName, model.status());
  if (absl::Status s = config->ValidateForModel(*model); !s.ok()) return StatusExit(kName, s);

  std::string binary = flags->GetString("child-binary", "");
  if (binary.empty()) {
    auto self = SelfExecutable();
    if (!self.ok()) return StatusExit(kName, self.status());
    binary = *self;
  }
  const std::string log_dir = flags->GetString("log-dir", "");
  if (!log_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(log_dir, ec);
    if (ec) return UsageError(kName, "--log-dir " + log_dir + ": " + ec.message());
  }

  auto run_dir = RunDir::Create();
  if (!run_dir.ok()) return StatusExit(kName, run_dir.status());
  const std::string config_path = (*run_dir)->path() + "/cluster.yaml";
  {
    std::ofstream out(config_path);
    out << ClusterConfigToYaml(*config);
    if (!out.good())
      return StatusExit(kName, absl::UnavailableError("cannot write " + config_path));
  }

  // The router first: members dial it to register.
  std::vector<ChildSpec> children;
  auto add = [&](const std::string& name, std::vector<std::string> argv, const std::string& host,
                 int port) {
    ChildSpec c;
    c.name = name;
    c.argv = {binary};
    c.argv.insert(c.argv.end(), argv.begin(), argv.end());
    c.ready = HealthProbe(absl::StrCat(LocalHost(host), ":", port));
    if (!log_dir.empty()) c.log_path = absl::StrCat(log_dir, "/", name, ".log");
    children.push_back(std::move(c));
  };
  add("router", {"router", "--config", config_path}, config->router.host, config->router.grpc_port);
  for (int i = 0; i < config->workers.count; ++i) {
    add(absl::StrCat("worker-", i), {"worker", "--config", config_path, "--index", absl::StrCat(i)},
        config->workers.host, config->WorkerGrpcPort(i));
  }
  for (int i = 0; i < config->expert_shards.count; ++i) {
    add(absl::StrCat("expert-", i), {"expert", "--config", config_path, "--index", absl::StrCat(i)},
        config->expert_shards.host, config->ShardGrpcPort(i));
  }

  Supervisor supervisor(sup_options);
  StopSignals signals(&supervisor);
  std::fprintf(stderr, "moeserve up: starting a router, %d worker%s and %d expert shard%s\n",
               config->workers.count, config->workers.count == 1 ? "" : "s",
               config->expert_shards.count, config->expert_shards.count == 1 ? "" : "s");
  if (absl::Status s = supervisor.Start(std::move(children)); !s.ok()) {
    return StatusExit(kName, absl::UnavailableError(s.message()));  // exit 1: not the user's input
  }
  if (absl::Status s = supervisor.WaitReady(); !s.ok()) {
    const bool interrupted = s.code() == absl::StatusCode::kCancelled;
    std::fprintf(stderr, "moeserve up: %s%s\n", std::string(s.message()).c_str(),
                 interrupted ? "" : "; stopping everything");
    supervisor.StopAll();
    return interrupted ? 0 : 1;
  }

  const std::string host = LocalHost(config->router.host);
  std::printf(
      "moeserve is ready: %s\n"
      "  HTTP  http://%s:%d  (OpenAI-compatible API)\n"
      "  gRPC  %s:%d\n"
      "  workers: %d on ports %d-%d; expert shards: %d on ports %d-%d\n"
      "Press Ctrl-C to stop.\n",
      config->model.c_str(), host.c_str(), config->router.http_port, host.c_str(),
      config->router.grpc_port, config->workers.count, config->WorkerGrpcPort(0),
      config->WorkerGrpcPort(config->workers.count - 1), config->expert_shards.count,
      config->ShardGrpcPort(0), config->ShardGrpcPort(config->expert_shards.count - 1));
  std::fflush(stdout);

  absl::Status run = supervisor.Run();
  if (!run.ok()) {
    std::fprintf(stderr, "moeserve up: %s; stopping the others\n",
                 std::string(run.message()).c_str());
  }
  supervisor.StopAll();
  if (run.ok()) std::fprintf(stderr, "moeserve up: stopped\n");
  return run.ok() ? 0 : 1;
}

}  // namespace moeserve::cli
