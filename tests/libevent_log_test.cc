// libevent's diagnostics through the Logger (supervisor/libevent_log.h): routed while a route
// lives, at most kLinesPerSecond lines a second, the rest counted and reported.
#include "supervisor/libevent_log.h"

#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace isolated::supervisor {
namespace {

std::string drain(int fd) {
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    out.append(buffer, static_cast<size_t>(n));
  return out;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

TEST(LibeventLogTest, AFloodIsRateLimitedAndCounted) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK), 0);
  Logger logger(LogLevel::kDebug, LogFormat::kText, fds[1]);
  {
    LibeventLogRoute route(logger);
    for (int i = 0; i < 1000; ++i)
      route.log(EVENT_LOG_WARN, "Error from accept() call: Too many open files");
    EXPECT_EQ(route.suppressed(), 1000u - LibeventLogRoute::kLinesPerSecond);
  }
  std::string out = drain(fds[0]);
  EXPECT_EQ(count(out, "Too many open files"), LibeventLogRoute::kLinesPerSecond) << out;
  EXPECT_EQ(count(out, "level=warn msg=\"libevent\""), LibeventLogRoute::kLinesPerSecond) << out;
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace isolated::supervisor
