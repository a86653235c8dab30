// A progress display for long, byte-counted jobs (loading checkpoint shards).
//
// On a terminal it redraws one line in place ("\r...\x1b[K") at most every `redraw_interval`;
// elsewhere (logs, CI) it writes a whole line at most every `log_interval`. Each line shows
// units done/total (shards), bytes done/total, the average rate since Start and an ETA. Finish
// writes a final summary line.
//
// The output stream and the clock are injected, so tests drive it with a fake clock and a
// string stream. Thread-safety: every method may be called from any thread; output is
// serialized by an internal mutex. The stream must outlive the reporter.
#ifndef MOESERVE_COMMON_PROGRESS_H_
#define MOESERVE_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace moeserve {

struct ProgressOptions {
  std::string label = "loading";  // first word(s) of every line
  std::string unit_name = "shards";
  int64_t total_units = 0;
  int64_t total_bytes = 0;
  // True: one line redrawn in place (for a TTY). False: a new line every log_interval.
  bool tty = false;
  std::chrono::milliseconds redraw_interval{100};
  std::chrono::milliseconds log_interval{5000};
};

class ProgressReporter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` null: std::chrono::steady_clock::now. Start time is the clock's value now.
  ProgressReporter(std::ostream* out, ProgressOptions options, Clock clock = nullptr);
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;
  // Calls Finish() if it has not been called.
  ~ProgressReporter();

  // Counts `bytes` more done; may print.
  void AddBytes(int64_t bytes);
  // Counts one more unit (shard) done; may print.
  void AddUnit();
  // Prints the summary line ("loading: done 3 shards, 1.2 GB in 4.0s (300 MB/s)"). Idempotent.
  void Finish();

  // The status text as it would be printed now (no "\r", no newline).
  std::string Line();

  int64_t bytes_done();
  // Seconds since construction by the injected clock.
  double elapsed_seconds();

 private:
  void MaybePrintLocked(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string LineLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::ostream* const out_;
  const ProgressOptions options_;
  const Clock clock_;
  const std::chrono::steady_clock::time_point start_;

  absl::Mutex mu_;
  int64_t bytes_done_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t units_done_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point last_print_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// "1.5 GB", "12.0 MB", "512 B" (decimal units, like the MB/s rate).
std::string FormatBytes(int64_t bytes);
// "42s", "4m05s", "2h03m".
std::string FormatDuration(double seconds);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_PROGRESS_H_
