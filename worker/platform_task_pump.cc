// Waking the loop for V8's foreground tasks: see platform_task_pump.h.
#include "worker/platform_task_pump.h"

#include <cmath>

namespace isolated::worker {

PlatformTaskPump::PlatformTaskPump(event_base* base, LoopNotifyingPlatform& platform,
                                   std::function<void()> runTasks)
    : platform_(platform),
      runTasks_(std::move(runTasks)),
      wakeup_(event_new(base, platform.wakeupFd(), EV_READ | EV_PERSIST, &onWakeup, this)),
      deadline_(evtimer_new(base, &onDeadline, this)) {
  event_add(wakeup_.get(), nullptr);
}

void PlatformTaskPump::onWakeup(evutil_socket_t, short, void* self) {
  auto* pump = static_cast<PlatformTaskPump*>(self);
  pump->platform_.drainWakeups();
  pump->run();
}

void PlatformTaskPump::onDeadline(evutil_socket_t, short, void* self) {
  static_cast<PlatformTaskPump*>(self)->run();
}

void PlatformTaskPump::run() {
  double started = platform_.MonotonicallyIncreasingTime();
  runTasks_();
  // A delayed task that was not due when the pump started needs a timer: nothing else would
  // wake the loop for it.
  if (auto deadline = platform_.nextDeadline(started)) {
    double wait = std::max(0.0, *deadline - platform_.MonotonicallyIncreasingTime());
    timeval tv{static_cast<time_t>(wait), static_cast<suseconds_t>(std::fmod(wait, 1.0) * 1e6)};
    event_add(deadline_.get(), &tv);
  }
}

}  // namespace isolated::worker
