// RestartBackoff: how the pool waits before replacing workers that keep failing right after
// start ("early failures"; which failures count is the pool's decision, supervisor_pool.cc).
// The n-th consecutive early failure delays the next spawn by base x 2^(n-1), capped at `max`,
// so that a crash loop costs no CPU; the spawns waiting out their delay count toward the pool's
// size. The count is forgotten kFailureMemory after the last failure once no spawn waits, or at
// once (with the waiting spawns dropped) when a worker that had served is lost: that says
// nothing about the next worker, and backing off would leave the pool empty.
//
// Pure policy over the times it is given; the owner runs the timer (nextDue()) and the spawns.
// Threading: one thread (the supervisor's loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace isolated {

class RestartBackoff {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr auto kFailureMemory = std::chrono::seconds(30);

  RestartBackoff(std::chrono::milliseconds base, std::chrono::milliseconds max)
      : base_(base), max_(max) {}

  // Consecutive early failures counted, and the delay the next scheduled spawn gets.
  uint32_t failures() const { return failures_; }
  std::chrono::milliseconds delay() const;
  void recordEarlyFailure(TimePoint now);

  // One spawn due at now + delay(); returns when.
  TimePoint schedule(TimePoint now);
  // Spawns waiting out their delay, and when the earliest is due.
  size_t waiting() const { return due_.size(); }
  std::optional<TimePoint> nextDue() const;
  // Takes the spawns due at `now` out of the waiting ones; how many (the owner spawns that many,
  // as the pool's size still allows).
  size_t takeDue(TimePoint now);
  // Drops the waiting spawns (the owner spawns at once instead).
  void cancelWaiting() { due_.clear(); }

  // A worker that had served was lost: a fresh count and no waiting spawns. False when there
  // was nothing to reset.
  bool reset();
  // Housekeeping: forgets the count when no spawn waits and the last failure is older than
  // kFailureMemory. True when it did.
  bool forgetIfQuiet(TimePoint now);

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  uint32_t failures_ = 0;
  TimePoint lastFailureAt_{};
  // Due times of the waiting spawns, earliest first.
  std::vector<TimePoint> due_;
};

}  // namespace isolated
