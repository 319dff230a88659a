// Routes libevent's own diagnostics (event_set_log_callback: accept errors, "Too many open
// files", epoll failures) into the project's Logger instead of stderr, rate limited: at most
// kLinesPerSecond lines a second; the rest are counted and reported in one line when the next
// line is let through.
//
// libevent's log callback is process-wide and takes no context pointer, so the active route is
// a file-level pointer (the one mutable global here, forced by that C API): one route at a time;
// the destructor puts libevent's default back. Threading: libevent logs from the thread that hit
// the condition, which may be an I/O thread (--io-threads): the rate limit's state is behind a
// mutex, and the Logger takes lines from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "common/logger.h"

namespace isolated::supervisor {

class LibeventLogRoute {
 public:
  static constexpr uint32_t kLinesPerSecond = 10;

  explicit LibeventLogRoute(Logger& logger);
  ~LibeventLogRoute();
  LibeventLogRoute(const LibeventLogRoute&) = delete;
  LibeventLogRoute& operator=(const LibeventLogRoute&) = delete;

  // One libevent message (severity as libevent's EVENT_LOG_*). Public for tests.
  void log(int severity, const char* message);
  uint64_t suppressed() const {
    std::lock_guard lock(mutex_);
    return suppressed_;
  }

 private:
  Logger& logger_;
  mutable std::mutex mutex_;  // guards the fields below
  std::chrono::steady_clock::time_point windowStart_{};
  uint32_t linesInWindow_ = 0;
  uint64_t suppressed_ = 0;  // in all
  uint64_t suppressedUnreported_ = 0;
};

}  // namespace isolated::supervisor
