// The periodic timer behind LoopLagMeter.
#include "worker/loop_lag_meter.h"

namespace isolated::worker {

LoopLagMeter::LoopLagMeter(event_base* base, std::chrono::milliseconds interval)
    : interval_(interval),
      tracker_(interval),
      timer_(event_new(base, -1, 0, &LoopLagMeter::onTick, this)) {
  schedule();
}

void LoopLagMeter::schedule() {
  // One-shot and re-armed from the callback, so that each tick is due one interval after the
  // previous one actually ran and a stall counts once, not as a backlog of ticks.
  tracker_.start(LagTracker::Clock::now());
  timeval tv = millisToTimeval(static_cast<long>(interval_.count()));
  event_add(timer_.get(), &tv);
}

void LoopLagMeter::onTick(evutil_socket_t, short, void* self) {
  auto* meter = static_cast<LoopLagMeter*>(self);
  meter->tracker_.tick(LagTracker::Clock::now());
  timeval tv = millisToTimeval(static_cast<long>(meter->interval_.count()));
  event_add(meter->timer_.get(), &tv);
}

}  // namespace isolated::worker
