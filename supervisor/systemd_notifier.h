// sd_notify(3) for the systemd unit (Type=notify): READY=1 once the pool is ready, STOPPING=1
// when a drain begins, WATCHDOG=1 from the supervisor loop at half the watchdog interval, so a
// wedged loop is restarted by systemd. Every call is a no-op when not started by systemd.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace isolated::supervisor {

class SystemdNotifier {
 public:
  SystemdNotifier();
  void ready(const std::string& status);
  void stopping();
  void status(const std::string& text);
  // Call often (every loop tick); it pings only when half the watchdog interval has passed.
  void watchdog();

 private:
  uint64_t watchdogUsec_ = 0;
  std::chrono::steady_clock::time_point lastPing_;
};

}  // namespace isolated::supervisor
