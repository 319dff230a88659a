// event::Dispatcher and its Timer, PeriodicTimer, FileEvent, Deferred and SignalEvent: callbacks
// run, and destroying or cancelling an event means its callback never runs. DeadlineQueue and
// DeadlineTimer, driven by a ManualClock: deadlines come due in order, at their time and not
// before.
#include "event/dispatcher.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/deadline_queue.h"
#include "common/unique_fd.h"
#include "event/deadline_timer.h"

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

TEST(EventDispatcherTest, PeriodicTimerFiresUntilStopped) {
  Dispatcher d;
  int fired = 0;
  PeriodicTimer timer(d, [&] { ++fired; });
  timer.start(1);
  ASSERT_TRUE(runUntil(d, [&] { return fired >= 3; }));
  EXPECT_TRUE(timer.running());
  timer.stop();
  EXPECT_FALSE(timer.running());
  int before = fired;
  Timer marker(d, [] {});
  marker.arm(20);
  ASSERT_TRUE(runUntil(d, [&] { return !marker.armed(); }));
  EXPECT_EQ(fired, before);
}

TEST(EventDispatcherTest, SignalEventDeliversOnTheLoopUntilDestroyed) {
  Dispatcher d;
  int seen = 0;
  auto event = std::make_unique<SignalEvent>(d, SIGUSR2, [&] { ++seen; });
  ASSERT_EQ(::raise(SIGUSR2), 0);
  ASSERT_TRUE(runUntil(d, [&] { return seen == 1; }));
  event.reset();
  // With no SignalEvent left, libevent restores the default action; ignore it instead.
  ::signal(SIGUSR2, SIG_IGN);
  ASSERT_EQ(::raise(SIGUSR2), 0);
  d.runReady();
  EXPECT_EQ(seen, 1);
  ::signal(SIGUSR2, SIG_DFL);
}

TEST(DeadlineQueueTest, ManualClockBringsDeadlinesDueInOrder) {
  using namespace std::chrono_literals;
  ManualClock clock;
  auto t0 = clock.now();
  DeadlineQueue queue;
  queue.add(t0 + 30ms, 3);
  queue.add(t0 + 10ms, 1);
  queue.add(t0 + 20ms, 7);
  queue.add(t0 + 20ms, 2);  // a tie goes to the smaller id
  EXPECT_EQ(queue.earliest(), t0 + 10ms);
  std::vector<uint64_t> due;
  queue.popDue(clock.now(), due);
  EXPECT_TRUE(due.empty());
  clock.advance(10ms);
  queue.popDue(clock.now(), due);
  EXPECT_EQ(due, std::vector<uint64_t>{1});
  clock.advance(15ms);
  due.clear();
  queue.popDue(clock.now(), due);
  EXPECT_EQ(due, (std::vector<uint64_t>{2, 7}));
  EXPECT_EQ(queue.earliest(), t0 + 30ms);
  queue.add(t0 + 40ms, 9);
  queue.compact([](uint64_t id) { return id != 3; });
  EXPECT_EQ(queue.size(), 1u);
  clock.advance(1s);
  due.clear();
  queue.popDue(clock.now(), due);
  EXPECT_EQ(due, std::vector<uint64_t>{9});
  EXPECT_FALSE(queue.earliest().has_value());
}

// The owner's side of a DeadlineTimer: deadlines in a DeadlineQueue, the due ones taken at the
// clock's time in the callback and the next one scheduled.
struct DeadlineOwner {
  DeadlineOwner(Dispatcher& d, const Clock& clock) : timer(d, clock, [this] { onDue(); }) {}
  void add(Clock::time_point deadline, uint64_t id) {
    queue.add(deadline, id);
    timer.schedule(deadline);
  }
  void onDue() {
    ++wakeups;
    queue.popDue(timer.clock().now(), fired);
    if (auto next = queue.earliest()) timer.schedule(*next);
  }
  DeadlineQueue queue;
  std::vector<uint64_t> fired;
  int wakeups = 0;
  DeadlineTimer timer;
};

TEST(DeadlineTimerTest, FiresNothingBeforeTheClockReachesADeadline) {
  using namespace std::chrono_literals;
  Dispatcher d;
  ManualClock clock;
  auto t0 = clock.now();
  DeadlineOwner owner(d, clock);
  owner.add(t0 + 2ms, 2);
  owner.add(t0 + 1ms, 1);
  owner.add(t0 + 3ms, 3);
  // The loop's timer fires (real time passes) but the clock has not moved: nothing is due, and
  // the timer stays armed for the earliest deadline.
  ASSERT_TRUE(runUntil(d, [&] { return owner.wakeups >= 1; }));
  EXPECT_TRUE(owner.fired.empty());
  EXPECT_TRUE(owner.timer.armed());
  clock.advance(2ms);
  ASSERT_TRUE(runUntil(d, [&] { return owner.fired.size() == 2; }));
  EXPECT_EQ(owner.fired, (std::vector<uint64_t>{1, 2}));
  clock.advance(1ms);
  ASSERT_TRUE(runUntil(d, [&] { return owner.fired.size() == 3; }));
  EXPECT_EQ(owner.fired.back(), 3u);
  EXPECT_FALSE(owner.timer.armed());
}

TEST(DeadlineTimerTest, OnTheSystemClockFiresAtTheDeadlineNotAPeriodLater) {
  using namespace std::chrono_literals;
  Dispatcher d;
  SystemClock clock;
  DeadlineOwner owner(d, clock);
  auto start = clock.now();
  owner.add(start + 250ms, 1);  // a later deadline first: the earlier one must re-arm the timer
  owner.add(start + 30ms, 2);
  std::vector<Clock::time_point> at;
  ASSERT_TRUE(runUntil(d, [&] {
    if (at.size() < owner.fired.size()) at.push_back(clock.now());
    return owner.fired.size() == 2;
  }));
  EXPECT_EQ(owner.fired, (std::vector<uint64_t>{2, 1}));
  // Never early; late only by the loop's own delay (generous: the test machine is loaded).
  EXPECT_GE(at[0] - start, 30ms);
  EXPECT_LT(at[0] - start, 200ms);
  EXPECT_GE(at[1] - start, 250ms);
}

}  // namespace
}  // namespace isolated::event
