// The loop-side half of LoopNotifyingPlatform: watches its eventfd and the deadlines of delayed
// foreground tasks, and calls `runTasks` on the loop whenever V8 may have a foreground task
// ready. `runTasks` pumps them (v8::platform::PumpMessageLoop) inside a turn of the host, so
// they run under the same CPU limit and microtask checkpoint as any other JavaScript.
//
// Threading: loop thread only. Lifetime: destroyed before the event_base.
#pragma once

#include <event2/event.h>

#include <functional>

#include "common/event_handles.h"
#include "worker/loop_notifying_platform.h"

namespace isolated::worker {

class PlatformTaskPump {
 public:
  PlatformTaskPump(event_base* base, LoopNotifyingPlatform& platform,
                   std::function<void()> runTasks);
  PlatformTaskPump(const PlatformTaskPump&) = delete;
  PlatformTaskPump& operator=(const PlatformTaskPump&) = delete;

 private:
  static void onWakeup(evutil_socket_t, short, void* self);
  static void onDeadline(evutil_socket_t, short, void* self);
  void run();

  LoopNotifyingPlatform& platform_;
  std::function<void()> runTasks_;
  EventPtr wakeup_;
  EventPtr deadline_;
};

}  // namespace isolated::worker
