// Measures the worker's event-loop lag for Pong: a libevent timer that should fire every
// interval records how late it actually ran. A loop blocked by JavaScript, a GC or a rebuild
// shows up as lag. Loop thread only.
#pragma once

#include <event2/event.h>

#include <chrono>

#include "common/event_handles.h"
#include "worker/lag_tracker.h"

namespace isolated::worker {

class LoopLagMeter {
 public:
  LoopLagMeter(event_base* base, std::chrono::milliseconds interval);
  LoopLagMeter(const LoopLagMeter&) = delete;
  LoopLagMeter& operator=(const LoopLagMeter&) = delete;

  // Worst lag since the previous call, in milliseconds.
  double takeWorstMs() { return tracker_.takeWorstMs(LagTracker::Clock::now()); }

 private:
  static void onTick(evutil_socket_t, short, void* self);
  void schedule();

  std::chrono::milliseconds interval_;
  LagTracker tracker_;
  EventPtr timer_;
};

}  // namespace isolated::worker
