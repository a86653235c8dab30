#include "cli/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace moeserve::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Alive = exists and is not a zombie.
bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

bool AllDeadWithin(const std::vector<pid_t>& pids, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    bool any = false;
    for (pid_t p : pids) any = any || Alive(p);
    if (!any) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

ChildSpec Shell(const std::string& name, const std::string& script) {
  return ChildSpec{.name = name, .argv = {"/bin/sh", "-c", script}};
}

std::function<absl::Status()> FileProbe(const std::string& path) {
  return [path]() {
    return std::filesystem::exists(path) ? absl::OkStatus()
                                         : absl::UnavailableError(path + " does not exist yet");
  };
}

SupervisorOptions Quiet() {
  SupervisorOptions o;
  o.log_prefix = "";
  o.ready_timeout = absl::Seconds(20);
  o.probe_interval = absl::Milliseconds(20);
  o.stop_grace = absl::Seconds(5);
  return o;
}

pid_t ReadPid(const std::string& path) {
  for (int i = 0; i < 500 && !std::filesystem::exists(path); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(20));
  return std::stoi(testutil::ReadFile(path));
}

TEST(Supervisor, WaitsUntilEveryChildIsReady) {
  testutil::TempDir dir;
  Supervisor sup(Quiet());
  std::vector<ChildSpec> children;
  for (int i = 0; i < 3; ++i) {
    const std::string flag = dir.Join("ready" + std::to_string(i));
    ChildSpec c = Shell(absl::StrCat("child-", i),
                        absl::StrCat("sleep 0.", i * 2, "; touch ", flag, "; exec sleep 60"));
    c.ready = FileProbe(flag);
    children.push_back(std::move(c));
  }
  const absl::Time start = absl::Now();
  ASSERT_TRUE(sup.Start(std::move(children)).ok());
  ASSERT_TRUE(sup.WaitReady().ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(400));
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(std::filesystem::exists(dir.Join("ready" + std::to_string(i))));
  const std::vector<pid_t> pids = sup.running_pids();
  ASSERT_EQ(pids.size(), 3u);
  for (pid_t p : pids) EXPECT_TRUE(Alive(p));

  std::vector<ChildExit> exits = sup.StopAll();
  ASSERT_EQ(exits.size(), 3u);
  for (const ChildExit& e : exits) EXPECT_EQ(e.Describe(), "was killed by signal 15 (Terminated)");
  EXPECT_EQ(exits[1].name, "child-1");
  EXPECT_TRUE(sup.running_pids().empty());
  for (pid_t p : pids) EXPECT_FALSE(Alive(p));
  EXPECT_TRUE(sup.StopAll().size() == 3u);  // idempotent
}

TEST(Supervisor, ChildWithoutProbeIsReadyOnceStarted) {
  Supervisor sup(Quiet());
  ASSERT_TRUE(sup.Start({ChildSpec{.name = "s", .argv = {"/bin/sleep", "60"}}}).ok());
  EXPECT_TRUE(sup.WaitReady().ok());
}

TEST(Supervisor, ReadyTimeoutNamesTheChildrenAndTheirProbeErrors) {
  SupervisorOptions o = Quiet();
  o.ready_timeout = absl::Milliseconds(300);
  Supervisor sup(o);
  ChildSpec fast = Shell("fast", "exec sleep 60");
  ChildSpec slow = Shell("slow", "exec sleep 60");
  slow.ready = [] { return absl::UnavailableError("health check: connection refused"); };
  ASSERT_TRUE(sup.Start({fast, slow}).ok());
  const std::vector<pid_t> pids = sup.running_pids();
  absl::Status s = sup.WaitReady();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "not ready after 300ms: slow (health check: connection refused)");
  sup.StopAll();
  for (pid_t p : pids) EXPECT_FALSE(Alive(p));
}

TEST(Supervisor, ChildExitingBeforeReadyIsReported) {
  Supervisor sup(Quiet());
  ChildSpec ok = Shell("ok", "exec sleep 60");
  ChildSpec crasher = Shell("crasher", "sleep 0.1; exit 3");
  crasher.ready = [] { return absl::UnavailableError("not yet"); };
  ASSERT_TRUE(sup.Start({ok, crasher}).ok());
  const std::vector<pid_t> pids = sup.running_pids();
  absl::Status s = sup.WaitReady();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(s.message()), StartsWith("crasher (pid "));
  EXPECT_THAT(s.message(), HasSubstr(") exited with status 3 before it was ready"));
  sup.StopAll();
  for (pid_t p : pids) EXPECT_FALSE(Alive(p));
}

TEST(Supervisor, ChildDeathEndsRunAndStopAllStopsTheOthers) {
  Supervisor sup(Quiet());
  ASSERT_TRUE(
      sup.Start({Shell("steady-0", "exec sleep 60"), Shell("victim", "sleep 0.3; kill -9 $$"),
                 Shell("steady-1", "exec sleep 60")})
          .ok());
  const std::vector<pid_t> pids = sup.running_pids();
  ASSERT_TRUE(sup.WaitReady().ok());
  absl::Status s = sup.Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(s.message()), StartsWith("victim (pid "));
  EXPECT_THAT(s.message(), HasSubstr(") was killed by signal 9 (Killed)"));
  EXPECT_EQ(sup.running_pids().size(), 2u);
  std::vector<ChildExit> exits = sup.StopAll();
  ASSERT_EQ(exits.size(), 3u);
  EXPECT_EQ(exits[0].Describe(), "was killed by signal 15 (Terminated)");
  for (pid_t p : pids) EXPECT_FALSE(Alive(p));
}

TEST(Supervisor, RequestStopEndsRunAndWaitReady) {
  Supervisor sup(Quiet());
  ChildSpec never = Shell("never", "exec sleep 60");
  never.ready = [] { return absl::UnavailableError("no"); };
  ASSERT_TRUE(sup.Start({never}).ok());
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(100));
    sup.RequestStop();
  });
  absl::Status s = sup.WaitReady();
  stopper.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(s.message(), "stopped while waiting for 1 of 1 to be ready");
  EXPECT_TRUE(sup.Run().ok());  // the request stays
}

TEST(Supervisor, RunReturnsOkOnRequestStop) {
  Supervisor sup(Quiet());
  ASSERT_TRUE(sup.Start({Shell("a", "exec sleep 60")}).ok());
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(100));
    sup.RequestStop();
  });
  EXPECT_TRUE(sup.Run().ok());
  stopper.join();
}

TEST(Supervisor, SigkillAfterGrace) {
  testutil::TempDir dir;
  SupervisorOptions o = Quiet();
  o.stop_grace = absl::Milliseconds(300);
  Supervisor sup(o);
  const std::string flag = dir.Join("trapped");
  ChildSpec stubborn =
      Shell("stubborn", "trap '' TERM; touch " + flag + "; while :; do sleep 0.05; done");
  stubborn.ready = FileProbe(flag);
  ASSERT_TRUE(sup.Start({stubborn}).ok());
  ASSERT_TRUE(sup.WaitReady().ok());
  const pid_t pid = sup.running_pids().at(0);
  const absl::Time start = absl::Now();
  std::vector<ChildExit> exits = sup.StopAll();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].Describe(), "was killed by signal 9 (Killed)");
  EXPECT_FALSE(Alive(pid));
}

TEST(Supervisor, GrandchildrenInTheChildsGroupAreStopped) {
  testutil::TempDir dir;
  Supervisor sup(Quiet());
  // The grandchild ignores SIGTERM and outlives its parent's SIGTERM.
  const std::string pidfile = dir.Join("grandchild.pid");
  ASSERT_TRUE(sup.Start({Shell("parent",
                               "(trap '' TERM; exec sleep 60) & echo $! > " + pidfile + "; wait")})
                  .ok());
  const pid_t grandchild = ReadPid(pidfile);
  ASSERT_TRUE(Alive(grandchild));
  sup.StopAll();
  EXPECT_TRUE(AllDeadWithin({grandchild}, absl::Seconds(2)));
}

TEST(Supervisor, ExecFailureStopsTheOnesAlreadyStarted) {
  Supervisor sup(Quiet());
  absl::Status s = sup.Start({Shell("first", "exec sleep 60"),
                              ChildSpec{.name = "missing", .argv = {"/nonexistent/moeserve", "x"}},
                              Shell("never-started", "exec sleep 60")});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "missing: cannot run /nonexistent/moeserve: No such file or directory");
  EXPECT_TRUE(sup.running_pids().empty());
  ASSERT_EQ(sup.exits().size(), 2u);
  for (const ChildExit& e : sup.exits()) EXPECT_FALSE(Alive(e.pid));
}

TEST(Supervisor, BadSpecsAndOptions) {
  {
    Supervisor sup(Quiet());
    EXPECT_EQ(sup.Start({ChildSpec{.name = "empty"}}).code(), absl::StatusCode::kInvalidArgument);
  }
  {
    SupervisorOptions o = Quiet();
    o.ready_timeout = absl::ZeroDuration();
    Supervisor sup(o);
    EXPECT_EQ(sup.Start({Shell("a", "true")}).message(), "supervisor ready_timeout must be > 0");
  }
  {
    Supervisor sup(Quiet());
    ASSERT_TRUE(sup.Start({Shell("a", "exec sleep 60")}).ok());
    EXPECT_EQ(sup.Start({Shell("b", "true")}).code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(Supervisor, EnvironmentAndLogFile) {
  testutil::TempDir dir;
  Supervisor sup(Quiet());
  ChildSpec c =
      Shell("talker", "echo \"$MOESERVE_TEST_VAR\"; echo to-stderr >&2; read x; echo \"[$x]\"");
  c.env = {"MOESERVE_TEST_VAR=hello"};
  c.log_path = dir.Join("talker.log");
  ASSERT_TRUE(sup.Start({c}).ok());
  absl::Status s = sup.Run();
  EXPECT_THAT(s.message(), HasSubstr("exited with status 0"));
  // stdin is /dev/null, so `read` gets nothing.
  EXPECT_EQ(testutil::ReadFile(dir.Join("talker.log")), "hello\nto-stderr\n[]\n");
}

TEST(Supervisor, ChildrenStartWithDefaultSignalHandling) {
  // Blocked here, SIGTERM must still stop the child: the mask is reset after fork.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  std::vector<ChildExit> exits;
  {
    Supervisor sup(Quiet());
    absl::Status s = sup.Start({ChildSpec{.name = "s", .argv = {"/bin/sleep", "60"}}});
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ASSERT_TRUE(s.ok());
    exits = sup.StopAll();
  }
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].Describe(), "was killed by signal 15 (Terminated)");
}

TEST(Supervisor, ChildrenDieWhenTheSupervisorIsKilled) {
  int pids_pipe[2];
  ASSERT_EQ(pipe(pids_pipe), 0);
  const pid_t supervisor = fork();
  ASSERT_GE(supervisor, 0);
  if (supervisor == 0) {
    // The supervising process: start two children, report their pids, wait to be killed.
    close(pids_pipe[0]);
    Supervisor sup(Quiet());
    if (!sup.Start({Shell("a", "exec sleep 60"), Shell("b", "exec sleep 60")}).ok()) _exit(1);
    std::vector<pid_t> pids = sup.running_pids();
    if (write(pids_pipe[1], pids.data(), pids.size() * sizeof(pid_t)) < 0) _exit(1);
    close(pids_pipe[1]);
    pause();
    _exit(0);
  }
  close(pids_pipe[1]);
  pid_t pids[2] = {0, 0};
  ASSERT_EQ(read(pids_pipe[0], pids, sizeof(pids)), static_cast<ssize_t>(sizeof(pids)));
  close(pids_pipe[0]);
  EXPECT_TRUE(Alive(pids[0]) && Alive(pids[1]));
  ASSERT_EQ(kill(supervisor, SIGKILL), 0);
  int status;
  ASSERT_EQ(waitpid(supervisor, &status, 0), supervisor);
  EXPECT_TRUE(AllDeadWithin({pids[0], pids[1]}, absl::Seconds(5)));
}

TEST(ChildExit, Describe) {
  EXPECT_EQ((ChildExit{"x", 1, 0}).Describe(), "exited with status 0");
  EXPECT_EQ((ChildExit{"x", 1, 2 << 8}).Describe(), "exited with status 2");
  EXPECT_EQ((ChildExit{"x", 1, SIGSEGV}).Describe(),
            "was killed by signal 11 (Segmentation fault)");
  EXPECT_EQ((ChildExit{"x", 1, -1}).Describe(), "was reaped by someone else");
}

}  // namespace
}  // namespace moeserve::cli
