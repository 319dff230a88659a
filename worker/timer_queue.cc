// libevent-backed timers for the JavaScript timer API.
#include "worker/timer_queue.h"

#include <cmath>

namespace isolated::worker {

uint64_t TimerQueue::add(double delayMs, bool repeat, uint64_t requestId, v8::Isolate* isolate,
                         v8::Local<v8::Value> record) {
  uint64_t id = nextId_++;
  auto timer = std::make_unique<Timer>();
  timer->queue = this;
  timer->id = id;
  timer->requestId = requestId;
  timer->repeat = repeat;
  if (!record.IsEmpty()) timer->record.Reset(isolate, record);
  // Per HTML, intervals shorter than 1 ms would spin; clamp repeats to at least 1 ms.
  double ms = std::max(repeat ? 1.0 : 0.0, std::isfinite(delayMs) ? delayMs : 0.0);
  timer->event.reset(
      event_new(base_, -1, repeat ? EV_PERSIST : 0, &TimerQueue::onTimer, timer.get()));
  timeval tv{static_cast<time_t>(ms / 1000),
             static_cast<suseconds_t>(std::fmod(ms, 1000.0) * 1000)};
  event_add(timer->event.get(), &tv);
  timers_.emplace(id, std::move(timer));
  if (requestId != 0) byRequest_[requestId].push_back(id);
  return id;
}

void TimerQueue::cancel(uint64_t id) {
  timers_.erase(id);
}

size_t TimerQueue::cancelRequest(uint64_t requestId) {
  auto it = byRequest_.find(requestId);
  if (it == byRequest_.end()) return 0;
  size_t cancelled = 0;
  for (uint64_t id : it->second)
    cancelled += timers_.erase(id);
  byRequest_.erase(it);
  return cancelled;
}

void TimerQueue::onTimer(evutil_socket_t, short, void* arg) {
  auto* timer = static_cast<Timer*>(arg);
  TimerQueue* queue = timer->queue;
  uint64_t id = timer->id;
  uint64_t requestId = timer->requestId;
  if (timer->repeat) {
    // The handler takes a Local of the record before it runs JavaScript, which may cancel the
    // interval (and so free `timer` and the record's handle).
    queue->onFire_(id, requestId, timer->record);
    return;
  }
  // A one-shot timer is gone before its callback runs, so the callback may schedule freely.
  // Nothing here touches the timer after the handler (libevent allows an event to be freed
  // from its own callback).
  v8::Global<v8::Value> record = std::move(timer->record);
  queue->timers_.erase(id);
  queue->onFire_(id, requestId, record);
}

}  // namespace isolated::worker
