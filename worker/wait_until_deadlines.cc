// WaitUntilDeadlines: the waitUntil() deadlines of answered requests (see the header).
#include "worker/wait_until_deadlines.h"

#include <algorithm>

namespace isolated::worker {

WaitUntilDeadlines::WaitUntilDeadlines(event_base* base, std::chrono::milliseconds timeout,
                                       ExpiredCallback onExpired)
    : timeout_(timeout), onExpired_(std::move(onExpired)) {
  timer_.reset(event_new(
      base, -1, 0,
      [](evutil_socket_t, short, void* self) { static_cast<WaitUntilDeadlines*>(self)->fire(); },
      this));
}

void WaitUntilDeadlines::add(uint64_t id) {
  deadlines_.emplace_back(std::chrono::steady_clock::now() + timeout_, id);
  arm();
}

void WaitUntilDeadlines::clear() {
  deadlines_.clear();
  event_del(timer_.get());
}

void WaitUntilDeadlines::arm() {
  if (deadlines_.empty() || event_pending(timer_.get(), EV_TIMEOUT, nullptr)) return;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadlines_.front().first - std::chrono::steady_clock::now());
  timeval tv = millisToTimeval(std::max<int64_t>(0, wait.count()));
  event_add(timer_.get(), &tv);
}

void WaitUntilDeadlines::fire() {
  auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> due;
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    due.push_back(deadlines_.front().second);
    deadlines_.pop_front();
  }
  onExpired_(due);
  arm();
}

}  // namespace isolated::worker
