// WaitUntilDeadlines: the deadlines of answered requests' waitUntil() work in `shared`
// isolation (docs/limits.md: the work may run for --wait-until-timeout after the answer), and the
// one libevent timer that fires for the earliest.
//
// Invariant: deadlines are kept in the order they were added; since every one is
// now + the same timeout, that order is also deadline order, so only the front is ever armed.
// Lifetime: owns its timer; the callback is called from the event loop, never from add() or
// clear(), and may call clear(). Threading: the loop thread only.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "common/event_handles.h"

namespace isolated::worker {

class WaitUntilDeadlines {
 public:
  // Called with the ids whose deadline has passed, in the order they were added.
  using ExpiredCallback = std::function<void(const std::vector<uint64_t>& ids)>;

  WaitUntilDeadlines(event_base* base, std::chrono::milliseconds timeout,
                     ExpiredCallback onExpired);
  WaitUntilDeadlines(const WaitUntilDeadlines&) = delete;
  WaitUntilDeadlines& operator=(const WaitUntilDeadlines&) = delete;

  // Request `id` was answered now with waitUntil() work pending.
  void add(uint64_t id);
  // Forgets every deadline (the context they belong to is going).
  void clear();

 private:
  void arm();
  void fire();

  std::chrono::milliseconds timeout_;
  ExpiredCallback onExpired_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> deadlines_;
  EventPtr timer_;
};

}  // namespace isolated::worker
