// Structured logging to a file descriptor (stderr by default), as logfmt text or JSON lines.
// One Logger is made by main and passed by reference to whatever logs; there is no global one.
// Each line goes out in a single write(2), so lines from the supervisor and its workers, which
// share stderr, never interleave mid-line. Logging never blocks the caller when the fd is
// non-blocking (main makes a piped stderr so): a line that does not fit is dropped and counted.
// Threading: log() may be called from several threads at once (the level, format and fd are
// fixed at construction, a line is one write(2), and the drop count is atomic): libevent's
// diagnostics reach it from the supervisor's I/O threads.
#pragma once

#include <atomic>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace isolated {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kText, kJson };

std::optional<LogLevel> parseLogLevel(std::string_view text);
std::optional<LogFormat> parseLogFormat(std::string_view text);
std::string_view logLevelName(LogLevel level);

struct LogField {
  std::string_view key;
  std::string value;
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename N>
  requires std::is_arithmetic_v<N> LogField(std::string_view k, N n)
      : key(k), value(std::to_string(n)) {}
};

class Logger {
 public:
  Logger(LogLevel level, LogFormat format, int fd = 2) : level_(level), format_(format), fd_(fd) {}

  bool enabled(LogLevel level) const { return level >= level_; }
  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

  void debug(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::kDebug, m, f);
  }
  void info(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::kInfo, m, f);
  }
  void warn(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::kWarn, m, f);
  }
  void error(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::kError, m, f);
  }

  // Formats one line without writing it; exposed for tests.
  std::string format(LogLevel level, std::string_view message,
                     std::initializer_list<LogField> fields) const;

  // Lines dropped because the fd would block (a non-blocking pipe that is full) or failed.
  uint64_t droppedLines() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  LogLevel level_;
  LogFormat format_;
  int fd_;
  std::atomic<uint64_t> dropped_ = 0;
};

}  // namespace isolated
