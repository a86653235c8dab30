// Stands in for `moeserve router|worker|expert --config FILE [--index I]` in the tests of
// `moeserve up`: listens where the configuration says, serves the gRPC health service, stops on
// SIGTERM/SIGINT. Misbehaves on request, through the environment (inherited via `up`):
//   FAKE_MEMBER_NOT_READY=<name>       that member reports NOT_SERVING forever
//   FAKE_MEMBER_CRASH=<name>:<ms>:<code>  that member exits with <code> <ms> after it serves
//   FAKE_MEMBER_READY_DELAY_MS=<ms>    every member waits this long before listening
// Names are those `up` gives: router, worker-<i>, expert-<i>.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/cluster_config.h"
#include "common/grpc_util.h"

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "fake_member: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return Fail("usage: fake_member router|worker|expert --config FILE [--index I]");
  const std::string role = argv[1];
  std::string config_path;
  int index = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config") {
      config_path = argv[i + 1];
    } else if (flag == "--index") {
      if (!absl::SimpleAtoi(argv[i + 1], &index)) return Fail("bad --index");
    } else {
      return Fail("unknown flag " + flag);
    }
  }
  auto config = moeserve::LoadClusterConfig(config_path);
  if (!config.ok()) return Fail(std::string(config.status().message()));

  std::string name, host;
  int port = 0;
  if (role == "router") {
    name = "router", host = config->router.host, port = config->router.grpc_port;
  } else if (role == "worker") {
    name = absl::StrCat("worker-", index), host = config->workers.host;
    port = config->WorkerGrpcPort(index);
  } else if (role == "expert") {
    name = absl::StrCat("expert-", index), host = config->expert_shards.host;
    port = config->ShardGrpcPort(index);
  } else {
    return Fail("unknown role " + role);
  }

  // Signals are taken synchronously below; block them before gRPC starts its threads.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  int delay_ms = 0;
  if (absl::SimpleAtoi(Env("FAKE_MEMBER_READY_DELAY_MS"), &delay_ms)) usleep(delay_ms * 1000);

  auto server = moeserve::StartGrpcServer({.address = absl::StrCat(host, ":", port)}, {});
  if (!server.ok()) return Fail(absl::StrCat(name, ": ", server.status().message()));
  if (Env("FAKE_MEMBER_NOT_READY") == name) moeserve::SetServing(*server->server, false);

  int crash_ms = -1, crash_code = 0;
  std::vector<std::string> crash = absl::StrSplit(Env("FAKE_MEMBER_CRASH"), ':');
  if (crash.size() == 3 && crash[0] == name) {
    if (!absl::SimpleAtoi(crash[1], &crash_ms) || !absl::SimpleAtoi(crash[2], &crash_code)) {
      return Fail("bad FAKE_MEMBER_CRASH");
    }
  }

  struct timespec wait = {3600, 0};
  if (crash_ms >= 0) wait = {crash_ms / 1000, (crash_ms % 1000) * 1000000L};
  while (true) {
    const int sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig < 0 && errno == EAGAIN && crash_ms >= 0) {
      std::fprintf(stderr, "fake_member: %s crashing with status %d\n", name.c_str(), crash_code);
      _exit(crash_code);
    }
  }
  server->server->Shutdown();
  return 0;
}
