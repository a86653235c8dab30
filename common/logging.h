// Minimal leveled logging to stderr, and a progress reporter for long loads.
//
// Debian 12's Abseil has no absl/log. LOG(INFO) << ...; writes one line with a timestamp.
// The level threshold belongs to the process (set once in main.cc); libraries only log.
#ifndef MOESERVE_COMMON_LOGGING_H_
#define MOESERVE_COMMON_LOGGING_H_

#include <sstream>
#include <string>

namespace moeserve {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide threshold; main.cc sets it from flags. Defaults to kInfo.
void SetLogThreshold(LogLevel level);
LogLevel GetLogThreshold();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns the streamed expression into void so LOG can be a conditional expression.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace moeserve

#define MOESERVE_LOG_DEBUG ::moeserve::LogLevel::kDebug
#define MOESERVE_LOG_INFO ::moeserve::LogLevel::kInfo
#define MOESERVE_LOG_WARNING ::moeserve::LogLevel::kWarning
#define MOESERVE_LOG_ERROR ::moeserve::LogLevel::kError
// An expression (safe inside an unbraced if/else): the stream is built only when logged.
#define LOG(severity)                                                  \
  (MOESERVE_LOG_##severity < ::moeserve::GetLogThreshold())            \
      ? (void)0                                                        \
      : ::moeserve::LogVoidify() &                                     \
            ::moeserve::LogMessage(MOESERVE_LOG_##severity, __FILE__, __LINE__).stream()

#endif  // MOESERVE_COMMON_LOGGING_H_
