// Supervisor: starts a set of child processes, waits until each is ready, watches them, and stops
// them all, leaving no orphans.
//
// Generic: a child is a command line plus a readiness probe (e.g. a gRPC health check on its
// port); `moeserve up` is one user. Guarantees:
// * Every child gets PR_SET_PDEATHSIG(SIGKILL), set after fork and checked against the race with
//   the parent exiting before it was set, so children die even if the supervisor is SIGKILLed.
//   Linux delivers it when the *thread* that forked exits: call Start() from a thread that lives
//   as long as the children (the main thread).
// * Every child runs in its own process group; stopping a child signals its whole group, so
//   anything it started goes too. Terminal signals (Ctrl-C) reach only the supervisor, which
//   then stops the children in order.
// * Children are reaped by pid (waitpid on each pid, never -1), so other children of the process
//   are left alone.
//
// Thread-safety: one thread drives a Supervisor (Start, WaitReady, Run, StopAll); RequestStop()
// may be called from any thread and from a signal handler (it only write()s to a pipe).
#ifndef MOESERVE_CLI_SUPERVISOR_H_
#define MOESERVE_CLI_SUPERVISOR_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace moeserve::cli {

struct ChildSpec {
  std::string name;               // for messages, e.g. "worker-1"
  std::vector<std::string> argv;  // argv[0] is the executable (a path; PATH is not searched)
  std::vector<std::string> env;   // extra "KEY=VALUE" entries on top of the inherited environment
  // Called repeatedly until it returns OK (ready); the last error is quoted when the wait times
  // out. Must not block for long (a probe with a deadline). Unset: ready once started.
  std::function<absl::Status()> ready;
  // When set, stdout and stderr go to this file (appended); otherwise they are inherited.
  std::string log_path;
};

struct SupervisorOptions {
  absl::Duration ready_timeout = absl::Seconds(300);  // for WaitReady, all children together
  absl::Duration probe_interval = absl::Milliseconds(100);
  absl::Duration stop_grace = absl::Seconds(10);  // SIGTERM -> SIGKILL
  // Prefix of the log lines the supervisor writes to stderr; empty: silent.
  std::string log_prefix = "moeserve up";

  absl::Status Validate() const;  // InvalidArgument naming the field (durations must be > 0)
};

// How a child ended.
struct ChildExit {
  std::string name;
  pid_t pid = 0;
  int wait_status = 0;  // as from waitpid
  // "exited with status 3", "was killed by signal 9 (Killed)".
  std::string Describe() const;
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  // Stops whatever is still running (StopAll).
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the children in order. Returns once every child has exec'd (or failed to: then the
  // ones already started are stopped and the error names the child and the reason, e.g. NotFound
  // "worker-0: cannot run /x/moeserve: No such file or directory"). Call once.
  absl::Status Start(std::vector<ChildSpec> children);

  // Probes every child until all are ready. DeadlineExceeded naming the children not ready (with
  // their probes' last errors) after options.ready_timeout; Aborted naming the child when one
  // exits first; Cancelled after RequestStop(). Children keep running either way.
  absl::Status WaitReady();

  // Blocks until RequestStop() (returns OK) or until a child exits (returns Aborted, e.g.
  // "worker-1 (pid 123) exited with status 3"). Does not stop the others: call StopAll().
  absl::Status Run();

  // Async-signal-safe: makes WaitReady/Run return.
  void RequestStop();

  // SIGTERM to every running child's process group, then SIGKILL to those still running after
  // options.stop_grace; reaps all. Idempotent. Returns how each child ended (those that ended
  // earlier included), in start order.
  std::vector<ChildExit> StopAll();

  // Pids of the children started and not yet reaped.
  std::vector<pid_t> running_pids() const;
  // The children that have ended so far, in the order they were reaped.
  const std::vector<ChildExit>& exits() const { return exits_; }

 private:
  struct Child {
    ChildSpec spec;
    pid_t pid = -1;
    bool running = false;
    bool ready = false;
    std::optional<ChildExit> exit;
    std::string last_probe_error;
  };

  absl::Status Spawn(Child& child);
  // Records the exit of a reaped child and kills what is left in its process group.
  void MarkExited(Child& child, int wait_status);
  // Reaps any child that has exited (non-blocking); returns the first newly exited one.
  std::optional<ChildExit> Reap();
  // Sleeps up to `timeout`; returns true when a stop was requested.
  bool WaitForStopRequest(absl::Duration timeout);
  void Log(const std::string& line) const;

  SupervisorOptions options_;
  std::vector<Child> children_;
  std::vector<ChildExit> exits_;
  int stop_pipe_[2] = {-1, -1};  // RequestStop writes [1], the loops poll [0]
  bool stop_requested_ = false;
};

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_SUPERVISOR_H_
