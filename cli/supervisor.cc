#include "cli/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

extern char** environ;

namespace moeserve::cli {
namespace {

// What the child reports on the error pipe when it cannot get to exec.
enum ChildStage : int { kStagePdeathsig = 1, kStageDup = 2, kStageExec = 3 };

absl::Status ErrnoStatus(int err, const std::string& message) {
  const std::string text = absl::StrCat(message, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    case ENOEXEC:
    case EINVAL:
      return absl::InvalidArgumentError(text);
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(text);
    default:
      return absl::InternalError(text);
  }
}

// Signals a child's process group and, should setpgid not have happened, the child itself.
void SignalChild(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

}  // namespace

absl::Status SupervisorOptions::Validate() const {
  if (ready_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("supervisor ready_timeout must be > 0");
  }
  if (probe_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("supervisor probe_interval must be > 0");
  }
  if (stop_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("supervisor stop_grace must be >= 0");
  }
  return absl::OkStatus();
}

std::string ChildExit::Describe() const {
  if (wait_status == -1) return "was reaped by someone else";
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return absl::StrCat("was killed by signal ", sig, " (", ::strsignal(sig), ")");
  }
  return absl::StrCat("ended with wait status ", wait_status);
}

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    // Without the pipe RequestStop cannot work; the process is in no state to supervise.
    std::perror("moeserve supervisor: pipe2");
    std::abort();
  }
}

Supervisor::~Supervisor() {
  StopAll();
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void Supervisor::Log(const std::string& line) const {
  if (!options_.log_prefix.empty()) {
    std::fprintf(stderr, "%s: %s\n", options_.log_prefix.c_str(), line.c_str());
  }
}

absl::Status Supervisor::Start(std::vector<ChildSpec> children) {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  if (!children_.empty()) return absl::FailedPreconditionError("Supervisor::Start called twice");
  for (ChildSpec& spec : children) {
    if (spec.argv.empty() || spec.argv[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(spec.name, ": empty command line"));
    }
    children_.push_back(Child{std::move(spec)});
  }
  for (Child& child : children_) {
    if (absl::Status s = Spawn(child); !s.ok()) {
      StopAll();
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Supervisor::Spawn(Child& child) {
  const ChildSpec& spec = child.spec;
  // Everything the child needs is built before fork: after it, in a process that may have other
  // threads, only async-signal-safe calls are allowed until exec.
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const std::string& extra : spec.env) {
      if (extra.substr(0, extra.find('=')) == key) overridden = true;
    }
    if (!overridden) env_strings.push_back(entry);
  }
  for (const std::string& extra : spec.env) env_strings.push_back(extra);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int log_fd = -1;
  if (!spec.log_path.empty()) {
    log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
      return ErrnoStatus(errno, absl::StrCat(spec.name, ": cannot open ", spec.log_path));
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int err_pipe[2];
  if (null_fd < 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return ErrnoStatus(err, absl::StrCat(spec.name, ": cannot set up the child"));
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // ---- child: async-signal-safe calls only ----
    auto fail = [&](int stage) {
      const int report[2] = {stage, errno};
      ssize_t unused = ::write(err_pipe[1], report, sizeof(report));
      (void)unused;
      ::_exit(127);
    };
    ::setpgid(0, 0);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(kStagePdeathsig);
    // The parent may have died between fork and prctl; then nobody would ever kill us.
    if (::getppid() != parent) ::_exit(1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // errors: unsettable
    if (::dup2(null_fd, STDIN_FILENO) < 0) fail(kStageDup);
    if (log_fd >= 0 && (::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0)) {
      fail(kStageDup);
    }
    ::execve(argv[0], argv.data(), envp.data());
    fail(kStageExec);
  }
  const int fork_errno = errno;
  ::close(err_pipe[1]);
  ::close(null_fd);
  if (log_fd >= 0) ::close(log_fd);
  if (pid < 0) {
    ::close(err_pipe[0]);
    return ErrnoStatus(fork_errno, absl::StrCat(spec.name, ": fork"));
  }
  // Also from this side, so that the group exists before we might signal it.
  ::setpgid(pid, pid);
  child.pid = pid;
  child.running = true;

  // EOF: exec succeeded (the pipe was close-on-exec). Two ints: the child's stage and errno.
  int report[2];
  ssize_t got;
  do {
    got = ::read(err_pipe[0], report, sizeof(report));
  } while (got < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof(report))) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    MarkExited(child, status);
    const char* what = report[0] == kStageExec        ? "cannot run"
                       : report[0] == kStagePdeathsig ? "cannot set the parent-death signal for"
                                                      : "cannot redirect the output of";
    return ErrnoStatus(report[1], absl::StrCat(spec.name, ": ", what, " ", spec.argv[0]));
  }
  Log(absl::StrCat("started ", spec.name, " (pid ", pid, "): ", absl::StrJoin(spec.argv, " ")));
  return absl::OkStatus();
}

void Supervisor::MarkExited(Child& child, int wait_status) {
  child.running = false;
  child.exit = ChildExit{child.spec.name, child.pid, wait_status};
  exits_.push_back(*child.exit);
  // Whatever the child left in its process group goes too. Done right after reaping: the group
  // id cannot be reused while any member lives, so this reaches only those leftovers.
  ::kill(-child.pid, SIGKILL);
}

std::optional<ChildExit> Supervisor::Reap() {
  std::optional<ChildExit> first;
  for (Child& child : children_) {
    if (!child.running) continue;
    int status = 0;
    const pid_t r = ::waitpid(child.pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) continue;
    if (r < 0) status = -1;  // ECHILD: SIGCHLD ignored, or reaped elsewhere
    MarkExited(child, status);
    if (!first) first = child.exit;
  }
  return first;
}

bool Supervisor::WaitForStopRequest(absl::Duration timeout) {
  if (stop_requested_) return true;
  struct pollfd pfd = {stop_pipe_[0], POLLIN, 0};
  const int ms = static_cast<int>(
      std::max<int64_t>(0, absl::ToInt64Milliseconds(std::min(timeout, absl::Seconds(1)))));
  if (::poll(&pfd, 1, ms) > 0 && (pfd.revents & POLLIN)) {
    char buf[64];
    while (::read(stop_pipe_[0], buf, sizeof(buf)) > 0) {
    }
    stop_requested_ = true;
  }
  return stop_requested_;
}

void Supervisor::RequestStop() {
  const char byte = 1;
  ssize_t unused = ::write(stop_pipe_[1], &byte, 1);  // EAGAIN: a stop is pending anyway
  (void)unused;
}

absl::Status Supervisor::WaitReady() {
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  // Short waits at first so fast children are noticed quickly.
  absl::Duration pause = std::min(options_.probe_interval, absl::Milliseconds(20));
  while (true) {
    if (std::optional<ChildExit> e = Reap()) {
      return absl::AbortedError(
          absl::StrCat(e->name, " (pid ", e->pid, ") ", e->Describe(), " before it was ready"));
    }
    std::vector<std::string> waiting;
    for (Child& child : children_) {
      if (child.ready || !child.running) continue;
      absl::Status s = child.spec.ready ? child.spec.ready() : absl::OkStatus();
      if (s.ok()) {
        child.ready = true;
        Log(absl::StrCat(child.spec.name, " is ready"));
      } else {
        child.last_probe_error = std::string(s.message());
        waiting.push_back(absl::StrCat(child.spec.name, " (", child.last_probe_error, ")"));
      }
    }
    if (waiting.empty()) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("not ready after ",
                                                      absl::FormatDuration(options_.ready_timeout),
                                                      ": ", absl::StrJoin(waiting, ", ")));
    }
    if (WaitForStopRequest(std::min(pause, deadline - now))) {
      return absl::CancelledError(absl::StrCat("stopped while waiting for ", waiting.size(), " of ",
                                               children_.size(), " to be ready"));
    }
    pause = std::min(pause * 2, options_.probe_interval);
  }
}

absl::Status Supervisor::Run() {
  while (true) {
    if (std::optional<ChildExit> e = Reap()) {
      return absl::AbortedError(absl::StrCat(e->name, " (pid ", e->pid, ") ", e->Describe()));
    }
    if (WaitForStopRequest(absl::Milliseconds(20))) return absl::OkStatus();
  }
}

std::vector<ChildExit> Supervisor::StopAll() {
  std::vector<Child*> running;
  for (Child& child : children_) {
    if (child.running) running.push_back(&child);
  }
  if (!running.empty()) {
    Log(absl::StrCat("stopping ", running.size(), " process", running.size() == 1 ? "" : "es"));
    for (Child* child : running) SignalChild(child->pid, SIGTERM);
    const absl::Time deadline = absl::Now() + options_.stop_grace;
    while (true) {
      Reap();
      const bool any =
          std::any_of(running.begin(), running.end(), [](const Child* c) { return c->running; });
      if (!any || absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    for (Child* child : running) {
      if (!child->running) continue;
      Log(absl::StrCat(child->spec.name, " (pid ", child->pid, ") did not stop within ",
                       absl::FormatDuration(options_.stop_grace), "; sending SIGKILL"));
      SignalChild(child->pid, SIGKILL);
      int status = 0;
      while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
      }
      MarkExited(*child, status);
    }
  }
  std::vector<ChildExit> result;
  for (Child& child : children_) {
    if (child.exit) result.push_back(*child.exit);
  }
  return result;
}

std::vector<pid_t> Supervisor::running_pids() const {
  std::vector<pid_t> pids;
  for (const Child& child : children_) {
    if (child.running) pids.push_back(child.pid);
  }
  return pids;
}

}  // namespace moeserve::cli
