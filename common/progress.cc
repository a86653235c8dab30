#include "common/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace moeserve {
namespace {

constexpr int kBarWidth = 20;

}  // namespace

std::string FormatBytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes < 1000) return absl::StrCat(bytes, " B");
  if (b < 1e6) return absl::StrFormat("%.1f kB", b / 1e3);
  if (b < 1e9) return absl::StrFormat("%.1f MB", b / 1e6);
  if (b < 1e12) return absl::StrFormat("%.1f GB", b / 1e9);
  return absl::StrFormat("%.2f TB", b / 1e12);
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  if (seconds < 10) return absl::StrFormat("%.1fs", seconds);
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

ProgressReporter::ProgressReporter(std::ostream* out, ProgressOptions options, Clock clock)
    : out_(out),
      options_(std::move(options)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      start_(clock_()),
      last_print_(start_) {}

ProgressReporter::~ProgressReporter() { Finish(); }

void ProgressReporter::AddBytes(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  bytes_done_ += bytes;
  MaybePrintLocked(/*force=*/false);
}

void ProgressReporter::AddUnit() {
  absl::MutexLock lock(&mu_);
  ++units_done_;
  MaybePrintLocked(/*force=*/false);
}

int64_t ProgressReporter::bytes_done() {
  absl::MutexLock lock(&mu_);
  return bytes_done_;
}

double ProgressReporter::elapsed_seconds() {
  return std::chrono::duration<double>(clock_() - start_).count();
}

std::string ProgressReporter::Line() {
  absl::MutexLock lock(&mu_);
  return LineLocked();
}

std::string ProgressReporter::LineLocked() {
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(bytes_done_) / elapsed : 0.0;
  const double fraction =
      options_.total_bytes > 0
          ? std::clamp(static_cast<double>(bytes_done_) / options_.total_bytes, 0.0, 1.0)
          : 0.0;
  std::string line = options_.label;
  if (options_.tty) {
    const int filled = static_cast<int>(fraction * kBarWidth);
    absl::StrAppend(&line, " [", std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
                    "]");
  } else {
    absl::StrAppend(&line, ":");
  }
  absl::StrAppend(&line, " ", units_done_, "/", options_.total_units, " ", options_.unit_name, ", ",
                  FormatBytes(bytes_done_), " / ", FormatBytes(options_.total_bytes),
                  absl::StrFormat(" (%.0f%%)", fraction * 100), ", ",
                  absl::StrFormat("%.0f MB/s", rate / 1e6), ", ETA ");
  if (rate > 0 && options_.total_bytes >= bytes_done_) {
    absl::StrAppend(&line, FormatDuration((options_.total_bytes - bytes_done_) / rate));
  } else {
    absl::StrAppend(&line, "--");
  }
  return line;
}

void ProgressReporter::MaybePrintLocked(bool force) {
  if (out_ == nullptr || finished_) return;
  const auto now = clock_();
  const auto interval = options_.tty ? options_.redraw_interval : options_.log_interval;
  if (!force && now - last_print_ < interval) return;
  last_print_ = now;
  if (options_.tty) {
    *out_ << '\r' << LineLocked() << "\x1b[K" << std::flush;
  } else {
    *out_ << LineLocked() << '\n' << std::flush;
  }
}

void ProgressReporter::Finish() {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  finished_ = true;
  if (out_ == nullptr) return;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(bytes_done_) / elapsed : 0.0;
  const std::string line =
      absl::StrCat(options_.label, ": done ", units_done_, " ", options_.unit_name, ", ",
                   FormatBytes(bytes_done_), " in ", FormatDuration(elapsed),
                   absl::StrFormat(" (%.0f MB/s)", rate / 1e6));
  if (options_.tty) {
    *out_ << '\r' << line << "\x1b[K\n" << std::flush;
  } else {
    *out_ << line << '\n' << std::flush;
  }
}

}  // namespace moeserve
