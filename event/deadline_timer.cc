// DeadlineTimer: see deadline_timer.h.
#include "event/deadline_timer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <utility>

namespace isolated::event {

DeadlineTimer::DeadlineTimer(Dispatcher& dispatcher, const Clock& clock,
                             std::function<void()> onDue)
    : clock_(clock), timer_(dispatcher, std::move(onDue)) {}

void DeadlineTimer::arm(Clock::time_point deadline) {
  // Rounded up: libevent fires at or after the time asked, so the callback never runs before
  // the deadline by the clock.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_.now()).count();
  auto ms = std::clamp<int64_t>(left, 0, std::numeric_limits<uint32_t>::max());
  armedFor_ = deadline;
  timer_.arm(static_cast<uint32_t>(ms));
}

}  // namespace isolated::event
