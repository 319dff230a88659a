// event::Dispatcher and its Timer, FileEvent and Deferred: callbacks run, and destroying or
// cancelling an event means its callback never runs.
#include "event/dispatcher.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "common/unique_fd.h"

namespace isolated::event {
namespace {

bool runUntil(Dispatcher& d, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    d.runOnce();
  return done();
}

TEST(EventDispatcherTest, TimerFiresOnceAndCanBeRearmedOrCancelled) {
  Dispatcher d;
  int fired = 0;
  Timer timer(d, [&] { ++fired; });
  timer.arm(1);
  EXPECT_TRUE(timer.armed());
  ASSERT_TRUE(runUntil(d, [&] { return fired == 1; }));
  EXPECT_FALSE(timer.armed());
  timer.arm(1);
  timer.cancel();
  Timer marker(d, [] {});
  marker.arm(20);
  ASSERT_TRUE(runUntil(d, [&] { return !marker.armed(); }));
  EXPECT_EQ(fired, 1);
}

TEST(EventDispatcherTest, DestroyingATimerCancelsIt) {
  Dispatcher d;
  bool fired = false;
  auto timer = std::make_unique<Timer>(d, [&] { fired = true; });
  timer->arm(1);
  timer.reset();
  Timer marker(d, [] {});
  marker.arm(20);
  ASSERT_TRUE(runUntil(d, [&] { return !marker.armed(); }));
  EXPECT_FALSE(fired);
}

TEST(EventDispatcherTest, FileEventReportsReadinessUntilDisabled) {
  Dispatcher d;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  int reads = 0;
  FileEvent event(d, a.get(), EV_READ, false, [&](short ready) {
    EXPECT_TRUE(ready & EV_READ);
    char c;
    if (::read(a.get(), &c, 1) == 1) ++reads;
  });
  ASSERT_EQ(::write(b.get(), "xy", 2), 2);
  ASSERT_TRUE(runUntil(d, [&] { return reads == 2; }));  // level-triggered: one byte per turn
  event.disable();
  EXPECT_FALSE(event.enabled());
  ASSERT_EQ(::write(b.get(), "z", 1), 1);
  d.runReady();
  EXPECT_EQ(reads, 2);
  event.enable();
  ASSERT_TRUE(runUntil(d, [&] { return reads == 3; }));
}

TEST(EventDispatcherTest, DeferredRunsOnceOutsideTheCaller) {
  Dispatcher d;
  int runs = 0;
  Deferred deferred(d, [&] { ++runs; });
  deferred.schedule();
  deferred.schedule();
  EXPECT_EQ(runs, 0);
  d.runReady();
  EXPECT_EQ(runs, 1);
}

TEST(EventDispatcherTest, BorrowsABaseAndCachesTheTime) {
  EventBasePtr base(event_base_new());
  Dispatcher d(base.get());
  EXPECT_EQ(d.base(), base.get());
  EXPECT_NEAR(static_cast<double>(d.nowSeconds()), static_cast<double>(time(nullptr)), 2.0);
}

}  // namespace
}  // namespace isolated::event
