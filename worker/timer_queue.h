// setTimeout/setInterval on the worker's libevent loop. Each timer is one libevent event owned
// here, with the JavaScript record of its callback (a V8 handle, so that a timer cancelled
// natively, such as when its request ends, frees its callback at once and no JavaScript has to
// run). Firing calls the handler with the timer's id, the request it was set for (0 if none)
// and that record, so that the callback runs in that request's name.
//
// The handler must make its Local of the record before it runs any JavaScript: for an interval
// the record is the timer's own, freed if the callback clears the interval.
// Lifetime: the records belong to the context the timers were set in: clear() (or
// cancelRequest() for one request) before that context or its isolate goes.
// Threading: the loop thread only. The handler may cancel or clear timers, including the one
// firing.
#pragma once

#include <event2/event.h>
#include <v8.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/event_handles.h"

namespace isolated::worker {

class TimerQueue {
 public:
  using FireHandler =
      std::function<void(uint64_t id, uint64_t requestId, const v8::Global<v8::Value>& record)>;
  TimerQueue(event_base* base, FireHandler onFire) : base_(base), onFire_(std::move(onFire)) {}

  // Schedules a timer; ids start at 1 and are never reused. `record` may be empty.
  uint64_t add(double delayMs, bool repeat, uint64_t requestId, v8::Isolate* isolate,
               v8::Local<v8::Value> record);
  // An id that is never scheduled (for a timer refused because its request has ended), so
  // that clearing it later is harmless.
  uint64_t reserveId() { return nextId_++; }
  // Cancels a timer; unknown ids are ignored.
  void cancel(uint64_t id);
  // Cancels every timer set for `requestId` (not 0); returns how many there were.
  size_t cancelRequest(uint64_t requestId);
  // Cancels every timer (their callbacks belonged to a discarded context).
  void clear() {
    timers_.clear();
    byRequest_.clear();
  }
  size_t size() const { return timers_.size(); }

 private:
  struct Timer {
    TimerQueue* queue;
    uint64_t id;
    uint64_t requestId;
    bool repeat;
    EventPtr event;
    v8::Global<v8::Value> record;
  };
  static void onTimer(evutil_socket_t, short, void* arg);

  event_base* base_;
  FireHandler onFire_;
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Timer>> timers_;
  // Timer ids by request (not for request 0); may name timers already fired or cancelled.
  std::unordered_map<uint64_t, std::vector<uint64_t>> byRequest_;
};

}  // namespace isolated::worker
