// Waiting for state that sends no event: a worker count, a listener's state, a metric, a row in
// a database. The deadline bounds the wait; the short interval is only how often to look.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace isolated::test {

// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20),
                       std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace isolated::test
