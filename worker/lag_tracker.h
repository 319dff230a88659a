// Event-loop lag as a number: how late a periodic tick ran behind its schedule. Pure logic with
// the clock passed in, so it can be tested without a loop; LoopLagMeter drives it.
#pragma once

#include <algorithm>
#include <chrono>

namespace isolated::worker {

class LagTracker {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LagTracker(Clock::duration interval) : interval_(interval) {}

  // The tick scheduled for one interval after `now`.
  void start(Clock::time_point now) { due_ = now + interval_; }
  // A tick ran at `now`: record how late it was; the next is due one interval later.
  void tick(Clock::time_point now) {
    worst_ = std::max(worst_, now - due_);
    due_ = now + interval_;
  }
  // The worst lateness since the previous call, in milliseconds, counting a tick that is
  // overdue right now (the loop may have been blocked until just before this call). Resets.
  double takeWorstMs(Clock::time_point now) {
    Clock::duration worst = std::max(worst_, now - due_);
    worst_ = Clock::duration::zero();
    return std::chrono::duration<double, std::milli>(std::max(worst, Clock::duration::zero()))
        .count();
  }

 private:
  Clock::duration interval_;
  Clock::time_point due_{};
  Clock::duration worst_ = Clock::duration::zero();
};

}  // namespace isolated::worker
