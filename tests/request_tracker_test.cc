// RequestTracker: the supervisor's request books. finish() releases a request exactly once,
// the recent answers and service depths stay bounded, lookups by worker refuse other workers'
// requests, subrequest counts outlive their request until pruned, and storage call counts live
// in those bounded records rather than in a map of every request that called storage.
#include "supervisor/requests/request_tracker.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "common/clock.h"
#include "supervisor/apps/app_registry.h"

namespace isolated::supervisor::requests {
namespace {

using Clock = RequestTracker::Clock;

// The owner's side of finish(): records every release.
struct FakeOwner {
  std::vector<FinishedRequest> released;
  void releaseRequest(const FinishedRequest& done) { released.push_back(done); }
};

// A request as the Supervisor sends it: an id from the tracker, a worker and a deployment.
PendingRequest sentRequest(RequestTracker& tracker, uint32_t workerId, uint32_t deployment,
                           App* app = nullptr) {
  PendingRequest request;
  request.id = tracker.nextId();
  request.requestId = "rid-" + std::to_string(request.id);
  request.arrived = Clock::now();
  request.workerId = workerId;
  request.deployment = deployment;
  request.app = app;
  return request;
}

// Takes `request` in flight in `tracker`; its id.
uint64_t startRequest(RequestTracker& tracker, PendingRequest request) {
  uint64_t id = request.id;
  tracker.start(std::move(request));
  return id;
}

TEST(RequestTrackerTest, IssuesIdsFromOneAndNeverAgain) {
  RequestTracker tracker;
  EXPECT_FALSE(tracker.issued(0));
  EXPECT_FALSE(tracker.issued(1));
  EXPECT_EQ(tracker.nextId(), 1u);
  EXPECT_EQ(tracker.nextId(), 2u);
  EXPECT_TRUE(tracker.issued(1));
  EXPECT_TRUE(tracker.issued(2));
  EXPECT_FALSE(tracker.issued(3));
}

TEST(RequestTrackerTest, FinishReleasesExactlyOnce) {
  RequestTracker tracker;
  FakeOwner owner;
  App app;
  PendingRequest request = sentRequest(tracker, 7, 3, &app);
  request.noisy = true;
  uint64_t id = startRequest(tracker, std::move(request));
  ASSERT_TRUE(tracker.inFlight(id));
  EXPECT_EQ(tracker.inFlightCount(), 1u);

  EXPECT_TRUE(tracker.finish(id, RequestEnding::cancelled("client gone"), owner));
  // An answer crossing the cancel, a wall limit crossing the answer: nothing more is released.
  EXPECT_FALSE(tracker.finish(id, RequestEnding::answered(), owner));
  EXPECT_FALSE(tracker.finish(id, RequestEnding::workerLost(), owner));

  ASSERT_EQ(owner.released.size(), 1u);
  const FinishedRequest& done = owner.released[0];
  EXPECT_EQ(done.id, id);
  EXPECT_EQ(done.workerId, 7u);
  EXPECT_EQ(done.deployment, 3u);
  EXPECT_EQ(done.app, &app);
  EXPECT_TRUE(done.noisy);
  EXPECT_EQ(done.ending.kind, RequestEnding::Kind::kCancelled);
  EXPECT_STREQ(done.ending.cancelReason, "client gone");
  EXPECT_FALSE(tracker.inFlight(id));
  EXPECT_EQ(tracker.find(id), nullptr);
  EXPECT_TRUE(tracker.idle());
}

// The owner may start or finish other requests from its release (pumping the queue does):
// the request that ended is gone by then.
TEST(RequestTrackerTest, OwnerMayReenterFromRelease) {
  RequestTracker tracker;
  struct ReentrantOwner {
    RequestTracker& tracker;
    uint64_t other = 0;
    int releases = 0;
    bool sawEndedRequest = false;
    void releaseRequest(const FinishedRequest& done) {
      ++releases;
      sawEndedRequest = sawEndedRequest || tracker.inFlight(done.id);
      if (other != 0) {
        uint64_t next = other;
        other = 0;
        tracker.finish(next, RequestEnding::answered(), *this);
      }
    }
  } owner{tracker};
  uint64_t first = tracker.start(sentRequest(tracker, 1, 1)).id;
  uint64_t second = tracker.start(sentRequest(tracker, 1, 1)).id;
  owner.other = second;
  EXPECT_TRUE(tracker.finish(first, RequestEnding::answered(), owner));
  EXPECT_EQ(owner.releases, 2);
  EXPECT_FALSE(owner.sawEndedRequest);
  EXPECT_FALSE(tracker.finish(second, RequestEnding::answered(), owner));
  EXPECT_EQ(owner.releases, 2);
  EXPECT_TRUE(tracker.idle());
}

TEST(RequestTrackerTest, AnsweredOrCancelledPicksByReason) {
  EXPECT_EQ(RequestEnding::answeredOrCancelled(nullptr).kind, RequestEnding::Kind::kAnswered);
  RequestEnding cancelled = RequestEnding::answeredOrCancelled("broke");
  EXPECT_EQ(cancelled.kind, RequestEnding::Kind::kCancelled);
  EXPECT_STREQ(cancelled.cancelReason, "broke");
}

TEST(RequestTrackerTest, LookupByWorkerRefusesOtherWorkers) {
  RequestTracker tracker;
  uint64_t id = tracker.start(sentRequest(tracker, 4, 9)).id;
  ASSERT_NE(tracker.findHeldBy(id, 4), nullptr);
  EXPECT_EQ(tracker.findHeldBy(id, 4)->id, id);
  EXPECT_EQ(tracker.findHeldBy(id, 5), nullptr);
  EXPECT_EQ(tracker.findHeldBy(id + 1, 4), nullptr);
  FakeOwner owner;
  tracker.finish(id, RequestEnding::answered(), owner);
  EXPECT_EQ(tracker.findHeldBy(id, 4), nullptr);
}

TEST(RequestTrackerTest, ReadingRequestsAreNotInFlight) {
  RequestTracker tracker;
  PendingRequest request = sentRequest(tracker, 0, 0);
  uint64_t id = request.id;
  tracker.startReading(std::move(request));
  EXPECT_FALSE(tracker.idle());
  EXPECT_FALSE(tracker.inFlight(id));
  ASSERT_NE(tracker.findReading(id), nullptr);
  tracker.findReading(id)->inlineBody.append("body");

  std::optional<PendingRequest> routed = tracker.takeReading(id);
  ASSERT_TRUE(routed);
  EXPECT_EQ(routed->id, id);
  EXPECT_EQ(routed->inlineBody, "body");
  EXPECT_FALSE(tracker.takeReading(id));
  EXPECT_TRUE(tracker.idle());

  uint64_t gone = tracker.nextId();
  PendingRequest second;
  second.id = gone;
  tracker.startReading(std::move(second));
  EXPECT_TRUE(tracker.dropReading(gone));
  EXPECT_FALSE(tracker.dropReading(gone));

  for (int i = 0; i < 3; ++i) {
    PendingRequest more;
    more.id = tracker.nextId();
    tracker.startReading(std::move(more));
  }
  int answered = 0;
  tracker.drainReading([&](PendingRequest&) { ++answered; });
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(tracker.readingCount(), 0u);
}

TEST(RequestTrackerTest, RecentAnswersStayBounded) {
  RequestTracker tracker;
  const size_t total = RequestTracker::kRecentAnswers + 100;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < total; ++i) {
    PendingRequest request = sentRequest(tracker, 2, 5);
    ids.push_back(request.id);
    tracker.rememberAnswer(request, 2);
    // Answered twice (an error after a streamed head): remembered once.
    tracker.rememberAnswer(request, 2);
  }
  EXPECT_EQ(tracker.recentCount(), RequestTracker::kRecentAnswers);
  // The oldest went first.
  EXPECT_EQ(tracker.recent(ids[0]), nullptr);
  EXPECT_EQ(tracker.recent(ids[99]), nullptr);
  ASSERT_NE(tracker.recent(ids[100]), nullptr);
  EXPECT_EQ(tracker.recent(ids.back())->requestId, "rid-" + std::to_string(ids.back()));
  EXPECT_EQ(tracker.requestIdOf(ids.back()), "rid-" + std::to_string(ids.back()));
  EXPECT_EQ(tracker.requestIdOf(ids[0]), "");
}

TEST(RequestTrackerTest, HoldsChecksWorkerAndDeployment) {
  RequestTracker tracker;
  FakeOwner owner;
  uint64_t id = startRequest(tracker, sentRequest(tracker, 3, 11));
  EXPECT_TRUE(tracker.holds(3, 11, id));
  EXPECT_FALSE(tracker.holds(4, 11, id));
  EXPECT_FALSE(tracker.holds(3, 12, id));
  EXPECT_FALSE(tracker.holds(3, 11, 0));
  EXPECT_FALSE(tracker.holds(3, 11, id + 1));  // never issued

  // Answered: still held for its waitUntil() work while it is remembered.
  tracker.rememberAnswer(*tracker.find(id), 3);
  tracker.finish(id, RequestEnding::answered(), owner);
  EXPECT_TRUE(tracker.holds(3, 11, id));
  EXPECT_FALSE(tracker.holds(4, 11, id));
  EXPECT_EQ(tracker.requestIdOf(id), "rid-" + std::to_string(id));
}

TEST(RequestTrackerTest, SubrequestCountsOutliveTheirRequestUntilPruned) {
  RequestTracker tracker;
  FakeOwner owner;
  auto start = Clock::now();
  uint64_t id = startRequest(tracker, sentRequest(tracker, 6, 2));
  SubrequestCount& count = tracker.subrequests(id, 6, 2, start);
  EXPECT_EQ(count.started, 0u);
  ++count.started;
  EXPECT_EQ(tracker.subrequests(id, 6, 2, start).started, 1u);

  // In flight: never pruned, however old its last fetch.
  auto later = start + std::chrono::hours(1);
  tracker.pruneSubrequests(later, std::chrono::seconds(1));
  EXPECT_EQ(tracker.subrequestCount(), 1u);
  tracker.pruneSubrequests(later + std::chrono::seconds(2), std::chrono::seconds(1));
  EXPECT_EQ(tracker.subrequestCount(), 1u);

  // Finished and forgotten as an answer: the count alone still says who held it, until a
  // horizon after its last fetch (waitUntil() work fetched 3 s after `later`).
  tracker.subrequests(id, 6, 2, later).lastStart = later + std::chrono::seconds(3);
  tracker.finish(id, RequestEnding::answered(), owner);
  EXPECT_TRUE(tracker.holds(6, 2, id));
  tracker.pruneSubrequests(later + std::chrono::milliseconds(3500), std::chrono::seconds(1));
  EXPECT_EQ(tracker.subrequestCount(), 1u);
  tracker.pruneSubrequests(later + std::chrono::seconds(5), std::chrono::seconds(1));
  EXPECT_EQ(tracker.subrequestCount(), 0u);
  EXPECT_FALSE(tracker.holds(6, 2, id));
}

TEST(RequestTrackerTest, StorageCallCountsFollowTheRequestAndStayBounded) {
  RequestTracker tracker;
  FakeOwner owner;
  auto now = Clock::now();
  uint64_t id = startRequest(tracker, sentRequest(tracker, 4, 9));
  // Not held by another worker or deployment: no count to use.
  EXPECT_EQ(tracker.storageCalls(5, 9, id), nullptr);
  EXPECT_EQ(tracker.storageCalls(4, 8, id), nullptr);
  uint32_t* calls = tracker.storageCalls(4, 9, id);
  ASSERT_NE(calls, nullptr);
  *calls = 7;

  // Answered: the count goes on in the recent answer, for waitUntil() work.
  tracker.rememberAnswer(*tracker.find(id), 4);
  tracker.finish(id, RequestEnding::answered(), owner);
  calls = tracker.storageCalls(4, 9, id);
  ASSERT_NE(calls, nullptr);
  EXPECT_EQ(*calls, 7u);
  ++*calls;

  // waitUntil() work fetches: the subrequest count, which outlives the answer, takes it over.
  tracker.subrequests(id, 4, 9, now);
  calls = tracker.storageCalls(4, 9, id);
  ASSERT_NE(calls, nullptr);
  EXPECT_EQ(*calls, 8u);

  // Many later answers push this one out of the recent answers; the subrequest count still
  // holds it, with its storage calls.
  for (size_t i = 0; i < RequestTracker::kRecentAnswers; ++i) {
    tracker.rememberAnswer(sentRequest(tracker, 4, 9), 4);
  }
  EXPECT_EQ(tracker.recent(id), nullptr);
  calls = tracker.storageCalls(4, 9, id);
  ASSERT_NE(calls, nullptr);
  EXPECT_EQ(*calls, 8u);
  // Once that is pruned too, the request is no longer held and has no count: the books hold
  // nothing per request beyond the bounded records.
  tracker.pruneSubrequests(now + std::chrono::hours(1), std::chrono::seconds(1));
  EXPECT_EQ(tracker.storageCalls(4, 9, id), nullptr);
  EXPECT_EQ(tracker.subrequestCount(), 0u);
  EXPECT_EQ(tracker.recentCount(), RequestTracker::kRecentAnswers);
}

TEST(RequestTrackerTest, ALingeringRequestIsHeldUntilItsTimeHowManyAnswersFollow) {
  RequestTracker tracker;
  FakeOwner owner;
  auto now = Clock::now();
  PendingRequest request = sentRequest(tracker, 2, 3);
  request.storageCalls = 4;
  uint64_t id = startRequest(tracker, std::move(request));
  tracker.linger(*tracker.find(id), 2, now + std::chrono::seconds(30));
  tracker.rememberAnswer(*tracker.find(id), 2);
  tracker.finish(id, RequestEnding::answered(), owner);
  for (size_t i = 0; i < RequestTracker::kRecentAnswers + 10; ++i) {
    tracker.rememberAnswer(sentRequest(tracker, 2, 3), 2);
  }
  EXPECT_EQ(tracker.recent(id), nullptr);
  EXPECT_TRUE(tracker.holds(2, 3, id));
  EXPECT_FALSE(tracker.holds(1, 3, id));
  EXPECT_FALSE(tracker.holds(2, 4, id));
  uint32_t* calls = tracker.storageCalls(2, 3, id);
  ASSERT_NE(calls, nullptr);
  EXPECT_EQ(*calls, 4u);

  tracker.pruneLingering(now + std::chrono::seconds(29));
  EXPECT_TRUE(tracker.holds(2, 3, id));
  tracker.pruneLingering(now + std::chrono::seconds(30));
  EXPECT_FALSE(tracker.holds(2, 3, id));
  EXPECT_EQ(tracker.lingeringCount(), 0u);

  // A lost worker's lingering requests go with it.
  PendingRequest other = sentRequest(tracker, 5, 3);
  tracker.linger(other, 5, now + std::chrono::seconds(60));
  tracker.forgetWorker(5);
  EXPECT_FALSE(tracker.holds(5, 3, other.id));
  tracker.pruneLingering(now + std::chrono::seconds(61));
  EXPECT_EQ(tracker.lingeringCount(), 0u);
}

TEST(RequestTrackerTest, LingeringRequestsAreBounded) {
  RequestTracker tracker;
  auto now = Clock::now();
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < RequestTracker::kMaxLingering + 10; ++i) {
    PendingRequest request = sentRequest(tracker, 1, 1);
    ids.push_back(request.id);
    tracker.linger(request, 1, now + std::chrono::seconds(30) + std::chrono::microseconds(i));
  }
  EXPECT_EQ(tracker.lingeringCount(), RequestTracker::kMaxLingering);
  // The earliest to expire went first.
  EXPECT_FALSE(tracker.holds(1, 1, ids[0]));
  EXPECT_FALSE(tracker.holds(1, 1, ids[9]));
  EXPECT_TRUE(tracker.holds(1, 1, ids[10]));
  EXPECT_TRUE(tracker.holds(1, 1, ids.back()));
}

TEST(RequestTrackerTest, ForgetWorkerDropsOnlyItsCounts) {
  RequestTracker tracker;
  auto now = Clock::now();
  uint64_t mine = tracker.nextId();
  uint64_t other = tracker.nextId();
  tracker.subrequests(mine, 1, 1, now);
  tracker.subrequests(other, 2, 1, now);
  tracker.forgetWorker(1);
  EXPECT_EQ(tracker.subrequestCount(), 1u);
  EXPECT_TRUE(tracker.holds(2, 1, other));
  EXPECT_FALSE(tracker.holds(1, 1, mine));
}

TEST(RequestTrackerTest, ExpiredListsRequestsPastTheirWallLimit) {
  RequestTracker tracker;
  auto now = Clock::now();
  PendingRequest late = sentRequest(tracker, 1, 1);
  late.arrived = now - std::chrono::seconds(2);
  late.wallLimit = std::chrono::milliseconds(1000);
  uint64_t lateId = late.id;
  PendingRequest fresh = sentRequest(tracker, 1, 1);
  fresh.arrived = now;
  fresh.wallLimit = std::chrono::milliseconds(1000);
  tracker.start(std::move(late));
  tracker.start(std::move(fresh));
  std::vector<uint64_t> expired{42};
  tracker.expired(now, expired);
  EXPECT_EQ(expired, std::vector<uint64_t>{lateId});
  std::vector<uint64_t> all;
  tracker.inFlightIds(all);
  EXPECT_EQ(all.size(), 2u);
}

TEST(RequestTrackerTest, TakeExpiredGivesDueRequestsInDeadlineOrderOnce) {
  using namespace std::chrono_literals;
  ManualClock clock;
  RequestTracker tracker;
  auto t0 = clock.now();
  auto sendWithLimit = [&](std::chrono::milliseconds limit) {
    PendingRequest request = sentRequest(tracker, 1, 1);
    request.arrived = t0;
    request.wallLimit = limit;
    return startRequest(tracker, std::move(request));
  };
  uint64_t slow = sendWithLimit(300ms);
  uint64_t fast = sendWithLimit(100ms);
  uint64_t answered = sendWithLimit(50ms);
  uint64_t middle = sendWithLimit(200ms);
  FakeOwner owner;
  ASSERT_TRUE(tracker.finish(answered, RequestEnding::answered(), owner));
  EXPECT_EQ(tracker.nextDeadline(), t0 + 50ms);  // lazily dropped: a stale deadline first
  std::vector<uint64_t> expired{42};
  clock.advance(99ms);
  tracker.takeExpired(clock.now(), expired);
  EXPECT_TRUE(expired.empty());  // the answered request's deadline passed, and was dropped
  EXPECT_EQ(tracker.nextDeadline(), t0 + 100ms);
  clock.advance(150ms);
  tracker.takeExpired(clock.now(), expired);
  EXPECT_EQ(expired, (std::vector<uint64_t>{fast, middle}));
  tracker.takeExpired(clock.now(), expired);
  EXPECT_TRUE(expired.empty());  // each once
  clock.advance(1s);
  tracker.takeExpired(clock.now(), expired);
  EXPECT_EQ(expired, std::vector<uint64_t>{slow});
  EXPECT_FALSE(tracker.nextDeadline().has_value());
}

TEST(RequestTrackerTest, DeadlinesOfEndedRequestsDoNotAccumulate) {
  RequestTracker tracker;
  FakeOwner owner;
  for (int i = 0; i < 10000; ++i) {
    PendingRequest request = sentRequest(tracker, 1, 1);
    request.wallLimit = std::chrono::seconds(30);
    uint64_t id = startRequest(tracker, std::move(request));
    tracker.finish(id, RequestEnding::answered(), owner);
  }
  EXPECT_LE(tracker.deadlineCount(), RequestTracker::kDeadlineSlack + 1);
}

TEST(RequestTrackerTest, ServiceDepthsStayBounded) {
  RequestTracker tracker;
  EXPECT_EQ(tracker.serviceDepth(1), 0u);
  const uint64_t total = RequestTracker::kServiceDepthMemory + 10;
  for (uint64_t id = 1; id <= total; ++id)
    tracker.rememberServiceDepth(id, static_cast<uint32_t>(id % 7) + 1);
  EXPECT_EQ(tracker.serviceDepth(1), 0u);   // forgotten, oldest first
  EXPECT_EQ(tracker.serviceDepth(10), 0u);  // likewise
  EXPECT_EQ(tracker.serviceDepth(11), 11u % 7 + 1);
  EXPECT_EQ(tracker.serviceDepth(total), total % 7 + 1);
}

}  // namespace
}  // namespace isolated::supervisor::requests
