// setTimeout/setInterval on the worker's libevent loop. Each timer is one libevent event owned
// here; firing calls the handler with the timer's id and the request it was set for (0 if none),
// so that the callback runs in that request's name. Single-threaded: used only on the loop.
// The handler may cancel or clear timers, including the one firing.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "common/event_handles.h"

namespace isolated::worker {

class TimerQueue {
 public:
  using FireHandler = std::function<void(uint64_t id, uint64_t requestId)>;
  TimerQueue(event_base* base, FireHandler onFire) : base_(base), onFire_(std::move(onFire)) {}

  // Schedules a timer; ids start at 1 and are never reused.
  uint64_t add(double delayMs, bool repeat, uint64_t requestId);
  // Cancels a timer; unknown ids are ignored.
  void cancel(uint64_t id);
  // Cancels every timer (their callbacks belonged to a discarded context).
  void clear() { timers_.clear(); }
  size_t size() const { return timers_.size(); }

 private:
  struct Timer {
    TimerQueue* queue;
    uint64_t id;
    uint64_t requestId;
    bool repeat;
    EventPtr event;
  };
  static void onTimer(evutil_socket_t, short, void* arg);

  event_base* base_;
  FireHandler onFire_;
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Timer>> timers_;
};

}  // namespace isolated::worker
