// `moeserve up` end to end, with tests/cli/fake_member standing in for the router, worker and
// expert subcommands (--child-binary).
#include <signal.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/subprocess.h"
#include "tests/common/temp_dir.h"

namespace moeserve {
namespace {

using ::testing::HasSubstr;
using testutil::Alive;
using testutil::AllDeadWithin;
using testutil::ChildrenOf;
using testutil::Cmdline;
using testutil::Subprocess;

const std::string kModel = std::string(MOESERVE_SOURCE_DIR) + "/tests/data/golden/sharded";

struct Up {
  testutil::TempDir dir;
  int base = testutil::FreePortRange(8);
  std::unique_ptr<Subprocess> process;

  // 2 workers and 2 shards: router http base, grpc base+1, workers base+2.., shards base+4..
  void Start(const std::vector<std::string>& env, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {MOESERVE_BIN,
                                     "up",
                                     "--model",
                                     kModel,
                                     "--attention-workers",
                                     "2",
                                     "--expert-shards",
                                     "2",
                                     "--http-port",
                                     std::to_string(base),
                                     "--grpc-port",
                                     std::to_string(base + 1),
                                     "--child-binary",
                                     FAKE_MEMBER_BIN,
                                     "--stop-grace-s",
                                     "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<Subprocess>(argv, env, dir.Join("stderr"));
  }
  bool WaitReady() { return process->ReadStdoutUntil("Press Ctrl-C to stop.", absl::Seconds(30)); }
};

TEST(Up, StartsEveryRoleAndStopsThemOnSigterm) {
  Up up;
  up.Start({"FAKE_MEMBER_READY_DELAY_MS=200"});
  ASSERT_TRUE(up.WaitReady()) << up.process->stdout_text() << up.process->stderr_text();
  const std::string out = up.process->stdout_text();
  EXPECT_THAT(out, HasSubstr(absl::StrCat("HTTP  http://127.0.0.1:", up.base)));
  EXPECT_THAT(out, HasSubstr(absl::StrCat("gRPC  127.0.0.1:", up.base + 1)));
  EXPECT_THAT(
      out, HasSubstr(absl::StrCat("workers: 2 on ports ", up.base + 2, "-", up.base + 3,
                                  "; expert shards: 2 on ports ", up.base + 4, "-", up.base + 5)));

  std::vector<pid_t> children = ChildrenOf(up.process->pid());
  ASSERT_EQ(children.size(), 5u);
  std::vector<std::string> roles;
  std::string config_path;
  for (pid_t c : children) {
    const std::string cmd = Cmdline(c);
    EXPECT_THAT(cmd, HasSubstr(FAKE_MEMBER_BIN));
    roles.push_back(cmd.substr(std::string(FAKE_MEMBER_BIN).size() + 1));
    config_path = cmd.substr(cmd.find("--config ") + 9);
    config_path = config_path.substr(0, config_path.find(' '));
  }
  std::sort(roles.begin(), roles.end());
  EXPECT_THAT(roles[0], HasSubstr("expert --config "));
  EXPECT_THAT(roles[0], HasSubstr("--index 0"));
  EXPECT_THAT(roles[2], HasSubstr("router --config "));
  EXPECT_THAT(roles[4], HasSubstr("worker --config "));
  EXPECT_THAT(roles[4], HasSubstr("--index 1"));
  EXPECT_TRUE(std::filesystem::exists(config_path)) << config_path;

  ASSERT_EQ(kill(up.process->pid(), SIGTERM), 0);
  const int status = up.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << up.process->stderr_text();
  for (pid_t c : children) EXPECT_FALSE(Alive(c)) << Cmdline(c);
  EXPECT_FALSE(std::filesystem::exists(config_path));  // the run directory is removed
  EXPECT_THAT(up.process->stderr_text(), HasSubstr("moeserve up: stopped"));
}

TEST(Up, SigintStopsEverything) {
  Up up;
  up.Start({});
  ASSERT_TRUE(up.WaitReady()) << up.process->stderr_text();
  std::vector<pid_t> children = ChildrenOf(up.process->pid());
  ASSERT_EQ(children.size(), 5u);
  ASSERT_EQ(kill(up.process->pid(), SIGINT), 0);
  const int status = up.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (pid_t c : children) EXPECT_FALSE(Alive(c));
}

TEST(Up, ChildrenDieWhenUpIsKilled) {
  Up up;
  up.Start({});
  ASSERT_TRUE(up.WaitReady()) << up.process->stderr_text();
  std::vector<pid_t> children = ChildrenOf(up.process->pid());
  ASSERT_EQ(children.size(), 5u);
  ASSERT_EQ(kill(up.process->pid(), SIGKILL), 0);
  up.process->Wait(absl::Seconds(10));
  EXPECT_TRUE(AllDeadWithin(children, absl::Seconds(5)));
}

TEST(Up, ChildCrashStopsTheOthersAndFails) {
  Up up;
  up.Start({"FAKE_MEMBER_CRASH=worker-1:300:3"});
  ASSERT_TRUE(up.WaitReady()) << up.process->stderr_text();
  std::vector<pid_t> children = ChildrenOf(up.process->pid());
  const int status = up.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = up.process->stderr_text();
  EXPECT_THAT(err, HasSubstr("moeserve up: worker-1 (pid "));
  EXPECT_THAT(err, HasSubstr(") exited with status 3; stopping the others"));
  for (pid_t c : children) EXPECT_FALSE(Alive(c));
}

TEST(Up, ReadyTimeoutStopsEverythingAndFails) {
  Up up;
  up.Start({"FAKE_MEMBER_NOT_READY=expert-1"}, {"--ready-timeout-s", "1.5"});
  const int status = up.process->Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = up.process->stderr_text();
  EXPECT_THAT(err, HasSubstr("moeserve up: not ready after 1.5s: expert-1 (health check of "
                             "127.0.0.1:" +
                             std::to_string(up.base + 5) + ": NOT_SERVING)"));
  EXPECT_THAT(err, HasSubstr("; stopping everything"));
  EXPECT_THAT(up.process->stdout_text(), Not(HasSubstr("ready")));
  // Everything fake_member started is gone (nothing is left with up as parent, and no
  // fake_member is still serving up's ports).
  EXPECT_TRUE(ChildrenOf(up.process->pid()).empty());
}

TEST(Up, ChildExitBeforeReadyFails) {
  Up up;
  // The router cannot listen: its port is taken.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(up.base + 1));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  up.Start({});
  const int status = up.process->Wait(absl::Seconds(30));
  close(fd);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = up.process->stderr_text();
  EXPECT_THAT(err, HasSubstr("router: cannot listen on 0.0.0.0:" + std::to_string(up.base + 1)));
  EXPECT_THAT(err, HasSubstr("moeserve up: router (pid "));
  EXPECT_THAT(err, HasSubstr(") exited with status 2 before it was ready; stopping everything"));
}

struct BadUp {
  const char* name;
  std::vector<std::string> args;
  int exit_code;
  const char* message;
};

class UpBadInput : public ::testing::TestWithParam<BadUp> {};

TEST_P(UpBadInput, OneLineAndExitCode) {
  testutil::TempDir dir;
  std::vector<std::string> argv = {MOESERVE_BIN, "up"};
  argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
  Subprocess p(argv, {}, dir.Join("stderr"));
  const int status = p.Wait(absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), GetParam().exit_code);
  const std::string err = p.stderr_text();
  EXPECT_THAT(err, HasSubstr(GetParam().message));
  if (GetParam().exit_code == 2) {
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Up, UpBadInput,
    ::testing::Values(
        BadUp{"no_model", {}, 2, "moeserve up: --model or --config is required"},
        BadUp{"zero_workers",
              {"--model", kModel, "--attention-workers", "0"},
              2,
              "moeserve up: workers.count: must be in 1..1024, got 0"},
        BadUp{"too_many_shards",
              {"--model", kModel, "--expert-shards", "9"},
              2,
              "moeserve up: expert_shards.count: 9 shards for 8 experts: shard 8 would host no "
              "expert"},
        BadUp{"bad_set",
              {"--model", kModel, "--set", "workers.cuont=2"},
              2,
              "workers.cuont: unknown key; did you mean 'count'? (from --set)"},
        BadUp{"missing_model", {"--model", "/nonexistent/model"}, 2, "/nonexistent/model"},
        BadUp{"inproc",
              {"--model", kModel, "--set", "data_plane.transport=inproc"},
              2,
              "up runs separate processes, which need ucx"},
        BadUp{"bad_flag", {"--model", kModel, "--workers", "2"}, 2, "unknown flag --workers"},
        BadUp{"missing_binary",
              {"--model", kModel, "--child-binary", "/nonexistent/moeserve"},
              1,
              "moeserve up: router: cannot run /nonexistent/moeserve: No such file or directory"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace moeserve
