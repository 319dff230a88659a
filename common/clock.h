// Time as deadline logic reads it: through an interface, so that the server reads the steady
// clock (SystemClock) and tests set the time themselves (ManualClock) to check what is due when.
//
// Threading: a SystemClock is safe from any thread; a ManualClock belongs to its test's thread.
#pragma once

#include <chrono>

namespace isolated {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

// The steady clock (monotonic: never jumps with the wall clock).
class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to (tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start = std::chrono::steady_clock::now()) : now_(start) {}
  time_point now() const override { return now_; }
  void advance(duration by) { now_ += by; }

 private:
  time_point now_;
};

}  // namespace isolated
