// libevent-backed timers for the JavaScript timer API.
#include "worker/timer_queue.h"

#include <cmath>

namespace isolated::worker {

uint64_t TimerQueue::add(double delayMs, bool repeat, uint64_t requestId) {
  uint64_t id = nextId_++;
  auto timer = std::make_unique<Timer>();
  timer->queue = this;
  timer->id = id;
  timer->requestId = requestId;
  timer->repeat = repeat;
  // Per HTML, intervals shorter than 1 ms would spin; clamp repeats to at least 1 ms.
  double ms = std::max(repeat ? 1.0 : 0.0, std::isfinite(delayMs) ? delayMs : 0.0);
  timer->event.reset(
      event_new(base_, -1, repeat ? EV_PERSIST : 0, &TimerQueue::onTimer, timer.get()));
  timeval tv{static_cast<time_t>(ms / 1000),
             static_cast<suseconds_t>(std::fmod(ms, 1000.0) * 1000)};
  event_add(timer->event.get(), &tv);
  timers_.emplace(id, std::move(timer));
  return id;
}

void TimerQueue::cancel(uint64_t id) {
  timers_.erase(id);
}

void TimerQueue::onTimer(evutil_socket_t, short, void* arg) {
  auto* timer = static_cast<Timer*>(arg);
  TimerQueue* queue = timer->queue;
  uint64_t id = timer->id;
  uint64_t requestId = timer->requestId;
  // A one-shot timer is gone before its callback runs, so the callback may schedule freely.
  // Nothing here touches the timer after the handler, which may free it (libevent allows an
  // event to be freed from its own callback).
  if (!timer->repeat) queue->timers_.erase(id);
  queue->onFire_(id, requestId);
}

}  // namespace isolated::worker
