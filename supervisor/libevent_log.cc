// libevent's diagnostics into the Logger, rate limited: see libevent_log.h.
#include "supervisor/libevent_log.h"

#include <event2/event.h>

namespace isolated::supervisor {

namespace {

LibeventLogRoute* activeRoute = nullptr;

void forward(int severity, const char* message) {
  if (activeRoute != nullptr) activeRoute->log(severity, message);
}

}  // namespace

LibeventLogRoute::LibeventLogRoute(Logger& logger) : logger_(logger) {
  activeRoute = this;
  event_set_log_callback(&forward);
}

LibeventLogRoute::~LibeventLogRoute() {
  if (activeRoute == this) {
    event_set_log_callback(nullptr);
    activeRoute = nullptr;
  }
}

void LibeventLogRoute::log(int severity, const char* message) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - windowStart_ >= std::chrono::seconds(1)) {
    windowStart_ = now;
    linesInWindow_ = 0;
  }
  if (linesInWindow_ >= kLinesPerSecond) {
    ++suppressed_;
    ++suppressedUnreported_;
    return;
  }
  ++linesInWindow_;
  LogLevel level = severity >= EVENT_LOG_ERR    ? LogLevel::kError
                   : severity >= EVENT_LOG_WARN ? LogLevel::kWarn
                   : severity >= EVENT_LOG_MSG  ? LogLevel::kInfo
                                                : LogLevel::kDebug;
  if (suppressedUnreported_ > 0) {
    logger_.log(level, "libevent",
                {{"message", message != nullptr ? message : ""},
                 {"suppressed_before", suppressedUnreported_}});
    suppressedUnreported_ = 0;
  } else {
    logger_.log(level, "libevent", {{"message", message != nullptr ? message : ""}});
  }
}

}  // namespace isolated::supervisor
