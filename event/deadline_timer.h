// One timer for the earliest of many deadlines, with time read through a Clock: the owner keeps
// its deadlines (e.g. a DeadlineQueue), tells the timer each new one with schedule(), and in the
// callback takes what is due at clock.now() and schedules the next. The timer is armed only when
// a deadline comes earlier than the one it is armed for, so a stream of later deadlines costs no
// libevent call each.
//
// Punctuality: the callback runs on the first loop turn at or after the deadline (libevent's
// timer, rounded up to the millisecond), never before it by the clock; a callback that finds
// nothing due yet (sub-millisecond rounding) just schedules again.
//
// Lifetime: as for event::Timer (destroyed before its Dispatcher's base; not from inside its
// callback); `clock` outlives the timer. Threading: the Dispatcher's thread.
#pragma once

#include <functional>

#include "common/clock.h"
#include "event/dispatcher.h"

namespace isolated::event {

class DeadlineTimer {
 public:
  DeadlineTimer(Dispatcher& dispatcher, const Clock& clock, std::function<void()> onDue);
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Makes sure the callback runs at `deadline`, unless it is already armed for a time no later.
  void schedule(Clock::time_point deadline) {
    if (!timer_.armed() || deadline < armedFor_) arm(deadline);
  }
  void cancel() { timer_.cancel(); }
  bool armed() const { return timer_.armed(); }
  const Clock& clock() const { return clock_; }

 private:
  void arm(Clock::time_point deadline);
  const Clock& clock_;
  Timer timer_;
  Clock::time_point armedFor_{};
};

}  // namespace isolated::event
