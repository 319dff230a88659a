// libsystemd's sd_notify; it reads NOTIFY_SOCKET itself.
#include "supervisor/systemd_notifier.h"

#include <systemd/sd-daemon.h>

namespace isolated::supervisor {

SystemdNotifier::SystemdNotifier() : lastPing_(std::chrono::steady_clock::now()) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdogUsec_ = usec;
}

void SystemdNotifier::ready(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void SystemdNotifier::stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

void SystemdNotifier::status(const std::string& text) {
  sd_notify(0, ("STATUS=" + text).c_str());
}

void SystemdNotifier::watchdog() {
  if (watchdogUsec_ == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (now - lastPing_ < std::chrono::microseconds(watchdogUsec_ / 2)) return;
  lastPing_ = now;
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace isolated::supervisor
