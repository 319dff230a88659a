// RestartBackoff: the delay doubles per consecutive early failure up to the cap, waiting spawns
// are due in order and only when due, a lost worker that had served resets everything, and the
// count is forgotten after kFailureMemory only when no spawn waits. Time is given, not read.
#include "supervisor/pool/restart_backoff.h"

#include <gtest/gtest.h>

namespace isolated {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = RestartBackoff::TimePoint;

const TimePoint kStart{seconds(1000)};

TEST(RestartBackoff, TheDelayDoublesPerFailureUpToTheCap) {
  RestartBackoff backoff(milliseconds(100), milliseconds(1000));
  EXPECT_EQ(backoff.failures(), 0u);
  EXPECT_EQ(backoff.delay(), milliseconds(100));  // no failure yet: the base
  const milliseconds expected[] = {milliseconds(100), milliseconds(200),  milliseconds(400),
                                   milliseconds(800), milliseconds(1000), milliseconds(1000)};
  for (milliseconds want : expected) {
    backoff.recordEarlyFailure(kStart);
    EXPECT_EQ(backoff.delay(), want) << "after " << backoff.failures() << " failures";
  }
  // Far past any sensible count the exponent stays bounded and the cap holds.
  for (int i = 0; i < 100; ++i)
    backoff.recordEarlyFailure(kStart);
  EXPECT_EQ(backoff.delay(), milliseconds(1000));
}

TEST(RestartBackoff, WaitingSpawnsAreDueInOrderAndOnlyWhenDue) {
  RestartBackoff backoff(milliseconds(100), milliseconds(10000));
  backoff.recordEarlyFailure(kStart);
  TimePoint first = backoff.schedule(kStart);  // due at +100 ms
  backoff.recordEarlyFailure(kStart);
  TimePoint second = backoff.schedule(kStart);  // due at +200 ms
  EXPECT_EQ(first, kStart + milliseconds(100));
  EXPECT_EQ(second, kStart + milliseconds(200));
  EXPECT_EQ(backoff.waiting(), 2u);
  EXPECT_EQ(backoff.nextDue(), first);

  EXPECT_EQ(backoff.takeDue(kStart + milliseconds(99)), 0u);
  EXPECT_EQ(backoff.takeDue(kStart + milliseconds(100)), 1u);
  EXPECT_EQ(backoff.waiting(), 1u);
  EXPECT_EQ(backoff.nextDue(), second);
  // One scheduled meanwhile is due later than what is due now, and waits its turn.
  backoff.recordEarlyFailure(kStart + milliseconds(150));
  TimePoint third = backoff.schedule(kStart + milliseconds(150));  // +150 + 400 ms
  EXPECT_EQ(backoff.takeDue(kStart + milliseconds(300)), 1u);
  EXPECT_EQ(backoff.nextDue(), third);
  EXPECT_EQ(backoff.takeDue(third), 1u);
  EXPECT_EQ(backoff.waiting(), 0u);
  EXPECT_FALSE(backoff.nextDue().has_value());
}

TEST(RestartBackoff, ALostWorkerThatHadServedResetsTheCountAndTheWaitingSpawns) {
  RestartBackoff backoff(milliseconds(100), milliseconds(10000));
  EXPECT_FALSE(backoff.reset());  // nothing to reset
  backoff.recordEarlyFailure(kStart);
  backoff.recordEarlyFailure(kStart);
  backoff.schedule(kStart);
  EXPECT_TRUE(backoff.reset());
  EXPECT_EQ(backoff.failures(), 0u);
  EXPECT_EQ(backoff.waiting(), 0u);
  EXPECT_EQ(backoff.delay(), milliseconds(100));
}

TEST(RestartBackoff, TheCountIsForgottenOnlyWhenQuietAndNothingWaits) {
  RestartBackoff backoff(milliseconds(100), milliseconds(10000));
  EXPECT_FALSE(backoff.forgetIfQuiet(kStart));  // no failures
  backoff.recordEarlyFailure(kStart);
  backoff.schedule(kStart);
  const TimePoint later = kStart + RestartBackoff::kFailureMemory + seconds(1);
  // A spawn still waits: the count stays, so that its retry keeps backing off.
  EXPECT_FALSE(backoff.forgetIfQuiet(later));
  EXPECT_EQ(backoff.failures(), 1u);
  backoff.cancelWaiting();
  EXPECT_FALSE(backoff.forgetIfQuiet(kStart + RestartBackoff::kFailureMemory));  // not yet
  EXPECT_TRUE(backoff.forgetIfQuiet(later));
  EXPECT_EQ(backoff.failures(), 0u);
}

}  // namespace
}  // namespace isolated
