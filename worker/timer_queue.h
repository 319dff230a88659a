// setTimeout/setInterval on the worker's libevent loop. Each timer is one libevent event owned
// here; firing calls the handler with the timer's id. Single-threaded: used only on the loop.
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
  using FireHandler = std::function<void(uint64_t id)>;
  TimerQueue(event_base* base, FireHandler onFire) : base_(base), onFire_(std::move(onFire)) {}

  // Schedules a timer; ids start at 1 and are never reused.
  uint64_t add(double delayMs, bool repeat);
  // Cancels a timer; unknown ids are ignored.
  void cancel(uint64_t id);
  size_t size() const { return timers_.size(); }

 private:
  struct Timer {
    TimerQueue* queue;
    uint64_t id;
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
