// Per-request limits in the worker: CPU time (watchdog), heap (near-heap-limit callback), stack
// depth, request cancellation and the health Pong.
//
// LimitsTest drives the real `isolated serve` on port 0 with tests/scripts/hostile.js.
// WorkerLimitsTest runs `isolated __worker` alone and plays the supervisor's side of the channel,
// to see what no HTTP client can: Pong fields, and that a cancelled request is never answered.
// WorkerLifetimeTest does the same for request lifetimes: a request's timers end with it, and
// waitUntil() work is bounded (Pong.timersPending, the worker's RSS).
// LagTrackerTest checks the event-loop lag arithmetic with a fake clock.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <event2/buffer.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include "common/event_handles.h"
#include "http_client.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"
#include "sanitizer.h"
#include "server_process.h"
#include "temp_dir.h"
#include "tests/worker_protocol_fixture.h"
#include "worker/lag_tracker.h"

namespace isolated::test {
namespace {

const std::string kScripts = ISOLATED_TEST_SCRIPTS;
const std::string kHostile = kScripts + "/hostile.js";

// The only live worker's pid; the tests run with --workers 1.
pid_t onlyWorker(const ServerProcess& server) {
  auto pids = server.liveWorkerPids();
  return pids.size() == 1 ? pids[0] : -1;
}

// A line from `pid` that contains `needle`.
bool hasLineFrom(ServerProcess& server, pid_t pid, const std::string& needle) {
  return server
      .waitForLine([&](const std::string& l) {
        return l.find(needle) != std::string::npos && logField(l, "pid") == std::to_string(pid);
      })
      .has_value();
}

void expectWorkerSurvived(const ServerProcess& server, pid_t pid) {
  EXPECT_EQ(onlyWorker(server), pid);
  EXPECT_EQ(server.countLines("worker lost"), 0u) << server.output();
  EXPECT_EQ(server.countLines("worker exited"), 0u) << server.output();
}

TEST(LimitsTest, InfiniteLoopGets503CpuLimitAndTheContextIsKept) {
  ServerProcess server(kHostile, {"--workers", "1", "--cpu-limit", "50"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);
  ASSERT_GT(pid, 0);

  // Globals persist from request to request...
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 1\n");
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 2\n");

  auto started = Clock::now();
  auto loop = httpGet(server.baseUrl() + "/loop");
  auto elapsed = Clock::now() - started;
  EXPECT_EQ(loop.status, 503) << loop.error;
  EXPECT_EQ(loop.headers["isolated-error"], "cpu-limit");
  EXPECT_NE(loop.body.find("CPU time limit"), std::string::npos) << loop.body;
  // A correctness bound, not a benchmark: 50 ms of CPU, then termination and a rebuild.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_TRUE(hasLineFrom(server, pid, "exceeded the CPU time limit of 50 ms")) << server.output();

  // ...and across a stop inside the script's own code (shared isolation): only the looping
  // request failed, the context was kept (docs/limits.md).
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 4\n");
  EXPECT_EQ(server.countLines("rebuilt"), 0u) << server.output();

  // A loop and a quick request at the same time: the same worker answers both.
  HttpResult concurrentLoop;
  std::thread looper([&] { concurrentLoop = httpGet(server.baseUrl() + "/loop"); });
  auto ok = httpGet(server.baseUrl() + "/ok");
  looper.join();
  EXPECT_EQ(ok.status, 200) << ok.error;
  EXPECT_EQ(ok.body, "ok\n");
  EXPECT_EQ(concurrentLoop.status, 503);
  EXPECT_EQ(concurrentLoop.headers["isolated-error"], "cpu-limit");
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  expectWorkerSurvived(server, pid);
}

// A request parked in the context while another one loops is not touched: the loop is stopped
// in the script's own code, so the context is kept (tests/containment_test.cc has more).
TEST(LimitsTest, LoopWhileAnotherRequestIsParkedLeavesTheParkedOneAlone) {
  ServerProcess server(kHostile, {"--workers", "1", "--cpu-limit", "50"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);

  HttpResult held;
  std::thread holder([&] { held = httpGet(server.baseUrl() + "/hold"); });
  ASSERT_TRUE(server.waitForCount("hold-parked", 1)) << server.output();

  auto loop = httpGet(server.baseUrl() + "/loop");
  EXPECT_EQ(loop.status, 503);
  EXPECT_EQ(loop.headers["isolated-error"], "cpu-limit");
  EXPECT_EQ(httpGet(server.baseUrl() + "/release").body, "released 1\n");
  holder.join();
  EXPECT_EQ(held.status, 200) << held.error << server.output();
  EXPECT_EQ(server.countLines("request discarded"), 0u) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  expectWorkerSurvived(server, pid);
}

TEST(LimitsTest, JobsQueuedBeforeATerminationNeverRun) {
  ServerProcess server(kHostile, {"--workers", "1", "--cpu-limit", "50"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);
  auto r = httpGet(server.baseUrl() + "/loop-with-job");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["isolated-error"], "cpu-limit");
  // More turns and microtask checkpoints, then a marker line that follows any zombie's line.
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  std::thread holder([&] { httpGet(server.baseUrl() + "/hold"); });
  ASSERT_TRUE(server.waitForCount("hold-parked", 1)) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/release").body, "released 1\n");
  holder.join();
  EXPECT_EQ(server.countLines("zombie job ran"), 0u) << server.output();
  expectWorkerSurvived(server, pid);
}

TEST(LimitsTest, LoopAfterAnAwaitIsChargedToItsRequest) {
  ServerProcess server(kHostile, {"--workers", "1", "--cpu-limit", "50"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);
  // The spin runs in a promise job after a timer: the request is found through the
  // continuation data V8 carries into the job.
  auto r = httpGet(server.baseUrl() + "/loop-later");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["isolated-error"], "cpu-limit");
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 1\n");
  expectWorkerSurvived(server, pid);
}

TEST(LimitsTest, ATimerOfAnAnsweredRequestNeverRuns) {
  ServerProcess server(kHostile, {"--workers", "1", "--cpu-limit", "50"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);
  auto r = httpGet(server.baseUrl() + "/loop-in-timer");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "timer set\n");
  // The request ended with its answer (no waitUntil), and its timer with it: the looping
  // callback never runs. Later requests are served from the same state.
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 2\n");
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  EXPECT_EQ(server.countLines("CPU time limit"), 0u) << server.output();
  expectWorkerSurvived(server, pid);
}

TEST(LimitsTest, HeapBombGets503MemoryLimitAndTheWorkerSurvives) {
  // A generous CPU limit, so that the heap limit is what stops the bomb. Under ASan the bomb
  // once carried the worker past the memory threshold, and its replacement (ready before the
  // old one drained) made two live workers: this test is about the heap limit, not recycling.
  ServerProcess server(kHostile, testing::withMemoryHeadroomUnderSanitizer(
                                     {"--workers", "1", "--cpu-limit", "20000"}));
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);

  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 1\n");
  auto bomb = httpGet(server.baseUrl() + "/bomb");
  EXPECT_EQ(bomb.status, 503) << bomb.error << server.output();
  EXPECT_EQ(bomb.headers["isolated-error"], "memory-limit");
  EXPECT_NE(bomb.body.find("memory limit"), std::string::npos) << bomb.body;
  EXPECT_TRUE(hasLineFrom(server, pid, "isolate rebuilt")) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 2\n");

  // The new isolate has its own limit and callback: a second bomb is caught the same way.
  auto again = httpGet(server.baseUrl() + "/bomb");
  EXPECT_EQ(again.status, 503);
  EXPECT_EQ(again.headers["isolated-error"], "memory-limit");
  EXPECT_EQ(httpGet(server.baseUrl() + "/ok").status, 200);
  EXPECT_EQ(server.countLines("isolate rebuilt"), 2u);
  expectWorkerSurvived(server, pid);
}

TEST(LimitsTest, DeepRecursionIsACatchableRangeError) {
  ServerProcess server(kHostile, {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  pid_t pid = onlyWorker(server);

  auto uncaught = httpGet(server.baseUrl() + "/recurse");
  EXPECT_EQ(uncaught.status, 500);
  EXPECT_EQ(uncaught.headers["isolated-error"], "script-threw");
  EXPECT_TRUE(hasLineFrom(server, pid, "RangeError: Maximum call stack size exceeded"))
      << server.output();

  auto caught = httpGet(server.baseUrl() + "/recurse-caught");
  EXPECT_EQ(caught.status, 200);
  EXPECT_EQ(caught.body, "caught RangeError\n");
  // An exception is not a limit breach: the context (and its counter) carries on.
  EXPECT_EQ(httpGet(server.baseUrl() + "/state").body, "state 3\n");
  EXPECT_EQ(server.countLines("rebuilt"), 0u);
  expectWorkerSurvived(server, pid);
}

// ---- the worker alone, driven over its channel ---------------------------------------------

// `isolated __worker` with the one app these tests use: the protocol tests' Worker
// (tests/worker_protocol_fixture.h) in a temporary directory of its own, with Pong polling and
// the worker's RSS. The destructor kills and reaps it.
class WorkerUnderTest {
 public:
  explicit WorkerUnderTest(uint32_t waitUntilTimeoutMs = 0) : worker_(dir_.path()) {
    worker_.configure(ipc::kProtocolVersion, 0, 0, waitUntilTimeoutMs);
  }

  pid_t pid() const { return worker_.pid(); }
  // The next message that is not a Log, or nullptr on EOF or after `timeout`.
  std::unique_ptr<Frame> next(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return worker_.next(timeout);
  }
  void request(uint64_t id, const std::string& path) { worker_.request(id, kApp, path); }
  // Defines the one app these tests use, loaded at once (ipc/protocol.h rule 21).
  void loadApp(const std::string& script, uint32_t cpuLimitMs, uint32_t heapLimitMb) {
    worker_.loadApp({kApp, script, "", cpuLimitMs, /*preload=*/true}, heapLimitMb, "hostile");
  }
  static constexpr uint32_t kApp = 1;

  void cancel(uint64_t id) {
    worker_.message([id](ipc::Envelope::Builder e) { e.initRequestCancel().setId(id); });
  }
  void ping(uint64_t seq) { worker_.ping(seq); }
  void scheduled(uint64_t id) {
    worker_.message([id](ipc::Envelope::Builder e) {
      auto event = e.initScheduled();
      event.setId(id);
      event.setApp(kApp);
      event.setScheduledTime(0);
      event.setCron("* * * * *");
    });
  }
  void shutdown(uint32_t deadlineMs) {
    worker_.message(
        [deadlineMs](ipc::Envelope::Builder e) { e.initShutdown().setDeadlineMs(deadlineMs); });
  }
  // Pings until a Pong satisfies `done` (true) or `timeout` passes (false).
  template <typename Done>
  bool pongUntil(Done&& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      ping(++seq_);
      auto frame = next();
      if (!frame || !frame->envelope().isPong()) return false;
      if (done(frame->envelope().getPong())) return true;
      pollfd none{-1, 0, 0};
      poll(&none, 0, 20);  // paces the pings; the condition is what is awaited
    }
    return false;
  }
  // Waits for the process to exit; false after `timeout`.
  bool waitExit(std::chrono::milliseconds timeout) { return worker_.waitExit(timeout).has_value(); }
  // The worker's resident set in KiB (/proc/PID/status), 0 if unreadable.
  long rssKib() const {
    FILE* f = fopen(("/proc/" + std::to_string(pid()) + "/status").c_str(), "r");
    if (f == nullptr) return 0;
    char line[256];
    long kib = 0;
    while (fgets(line, sizeof line, f) != nullptr) {
      if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    }
    fclose(f);
    return kib;
  }

 private:
  TempDir dir_;
  Worker worker_;
  uint64_t seq_ = 1000;
};

// Starts a worker, consumes its Hello, and loads `script` (hostile.js) as its one app.
std::unique_ptr<WorkerUnderTest> startWorker(uint32_t cpuLimitMs = 50, uint32_t heapLimitMb = 128,
                                             const std::string& script = kHostile,
                                             uint32_t waitUntilTimeoutMs = 0) {
  auto worker = std::make_unique<WorkerUnderTest>(waitUntilTimeoutMs);
  auto hello = worker->next();
  if (!hello || !hello->envelope().isHello()) return nullptr;
  worker->loadApp(script, cpuLimitMs, heapLimitMb);
  auto loaded = worker->next();
  if (!loaded || !loaded->envelope().isAppLoaded()) return nullptr;
  return worker;
}

TEST(WorkerLimitsTest, PongReportsProbeLagAndCpuLimitCounters) {
  auto worker = startWorker(/*cpuLimitMs=*/400);
  ASSERT_NE(worker, nullptr);

  worker->ping(1);
  auto first = worker->next();
  ASSERT_TRUE(first && first->envelope().isPong());
  auto pong = first->envelope().getPong();
  EXPECT_EQ(pong.getSeq(), 1u);
  EXPECT_TRUE(pong.getProbeOk());
  EXPECT_EQ(pong.getRequestsServed(), 0u);
  EXPECT_EQ(pong.getCpuLimitTerminations(), 0u);
  EXPECT_EQ(pong.getRebuilds(), 0u);

  // A handler busy for 250 ms of wall time (so at most 250 ms of CPU, under the limit) blocks
  // the loop across at least one 100 ms lag tick, which then runs at least 150 ms late.
  worker->request(1, "/spin?ms=250");
  auto spun = worker->next();
  ASSERT_TRUE(spun && spun->envelope().isResponse());
  EXPECT_EQ(spun->envelope().getResponse().getStatus(), 200);
  worker->request(2, "/loop");
  auto looped = worker->next();
  ASSERT_TRUE(looped && looped->envelope().isResponse());
  EXPECT_EQ(looped->envelope().getResponse().getId(), 2u);
  EXPECT_EQ(looped->envelope().getResponse().getStatus(), 503);
  EXPECT_EQ(looped->envelope().getResponse().getRuntimeError(), "cpu-limit");

  worker->ping(2);
  auto second = worker->next();
  ASSERT_TRUE(second && second->envelope().isPong());
  pong = second->envelope().getPong();
  EXPECT_EQ(pong.getSeq(), 2u);
  EXPECT_TRUE(pong.getProbeOk());
  EXPECT_EQ(pong.getRequestsServed(), 2u);
  EXPECT_EQ(pong.getCpuLimitTerminations(), 1u);
  EXPECT_EQ(pong.getMemoryLimitTerminations(), 0u);
  // Stopped inside the script's own code: the context was kept.
  EXPECT_EQ(pong.getRebuilds(), 0u);
  EXPECT_EQ(pong.getRequestsInFlight(), 0u);
  EXPECT_GE(pong.getEventLoopLagMs(), 140.0);
}

TEST(WorkerLimitsTest, HeapLimitRebuildRestoresTheOriginalLimit) {
  auto worker = startWorker(/*cpuLimitMs=*/20000, /*heapLimitMb=*/64);
  ASSERT_NE(worker, nullptr);
  worker->ping(1);
  auto before = worker->next();
  ASSERT_TRUE(before && before->envelope().isPong());
  uint64_t limit = before->envelope().getPong().getHeapLimitBytes();
  EXPECT_GT(limit, 0u);

  worker->request(1, "/bomb");
  auto bombed = worker->next();
  ASSERT_TRUE(bombed && bombed->envelope().isResponse());
  EXPECT_EQ(bombed->envelope().getResponse().getStatus(), 503);
  EXPECT_EQ(bombed->envelope().getResponse().getRuntimeError(), "memory-limit");

  worker->ping(2);
  auto after = worker->next();
  ASSERT_TRUE(after && after->envelope().isPong());
  auto pong = after->envelope().getPong();
  EXPECT_TRUE(pong.getProbeOk());
  EXPECT_EQ(pong.getMemoryLimitTerminations(), 1u);
  EXPECT_EQ(pong.getCpuLimitTerminations(), 0u);
  EXPECT_EQ(pong.getRebuilds(), 1u);
  // The callback raised the old isolate's limit to let GC finish; the new one has the original.
  EXPECT_EQ(pong.getHeapLimitBytes(), limit);
  EXPECT_LT(pong.getHeapUsedBytes(), limit / 2);
}

TEST(WorkerLimitsTest, CancelledRequestIsNeverAnswered) {
  auto worker = startWorker();
  ASSERT_NE(worker, nullptr);
  worker->request(1, "/hold");
  worker->cancel(1);
  // /release resolves the parked /hold; its answer must not be sent.
  worker->request(2, "/release");
  worker->ping(1);
  auto released = worker->next();
  ASSERT_TRUE(released && released->envelope().isResponse());
  EXPECT_EQ(released->envelope().getResponse().getId(), 2u);
  // Proves /hold was parked, so its answer was produced and then dropped.
  std::string body(released->envelope().getResponse().getBody().asChars().begin(),
                   released->envelope().getResponse().getBody().size());
  EXPECT_EQ(body, "released 1\n");
  // Messages are ordered: an answer to 1 would come before the Pong.
  auto pong = worker->next();
  ASSERT_TRUE(pong);
  EXPECT_TRUE(pong->envelope().isPong()) << "unexpected message " << pong->envelope().which();
  EXPECT_EQ(pong->envelope().getPong().getRequestsInFlight(), 0u);
}

// ---- request lifetimes: timers end with their request (issue 12, defect 6) -----------------

const std::string kContain = kScripts + "/contain.js";

std::string bodyOf(Frame& frame) {
  auto body = frame.envelope().getResponse().getBody();
  return std::string(body.asChars().begin(), body.size());
}

TEST(WorkerLifetimeTest, TimersOfARequestEndWithItsAnswer) {
  SKIP_UNDER_ADDRESS_SANITIZER("the RSS bound after 10,000 timers");
  auto worker = startWorker(/*cpuLimitMs=*/2000, 128, kContain);
  ASSERT_NE(worker, nullptr);
  // A request parked with 10,000 timers of 600 s: they are pending while it is.
  worker->request(1, "/timers?n=10000");
  auto answered = worker->next();
  ASSERT_TRUE(answered && answered->envelope().isResponse());
  EXPECT_EQ(bodyOf(*answered), "set 10000\n");
  // Answered, no waitUntil(): its timers are gone.
  EXPECT_TRUE(worker->pongUntil([](ipc::Pong::Reader p) { return p.getTimersPending() == 0; }));

  // 50 more such requests: each one's timers and callbacks are freed, so the worker's RSS does
  // not grow by the ~3 MB per request the timers used to keep.
  long before = worker->rssKib();
  ASSERT_GT(before, 0);
  for (uint64_t id = 2; id < 52; ++id) {
    worker->request(id, "/timers?n=10000");
    auto r = worker->next();
    ASSERT_TRUE(r && r->envelope().isResponse());
    ASSERT_EQ(r->envelope().getResponse().getStatus(), 200);
  }
  EXPECT_TRUE(worker->pongUntil([](ipc::Pong::Reader p) { return p.getTimersPending() == 0; }));
  long grown = worker->rssKib() - before;
  EXPECT_LT(grown, 40 * 1024) << "RSS grew by " << grown << " KiB over 50 requests";
}

TEST(WorkerLifetimeTest, PendingTimersAreCountedAndWaitUntilIsBounded) {
  auto worker = startWorker(/*cpuLimitMs=*/2000, 128, kContain, /*waitUntilTimeoutMs=*/300);
  ASSERT_NE(worker, nullptr);
  // waitUntil() work waiting on a timer of 100 s: the request's timer lives on after its
  // answer, until --wait-until-timeout (300 ms here) abandons the work.
  worker->request(1, "/wait-until?ms=100000");
  auto answered = worker->next();
  ASSERT_TRUE(answered && answered->envelope().isResponse());
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getTimersPending(), 1u);
  EXPECT_TRUE(worker->pongUntil([](ipc::Pong::Reader p) { return p.getTimersPending() == 0; }));

  // A draining worker waits for waitUntil() work no longer than the timeout either.
  worker->request(2, "/wait-until?ms=100000");
  auto second = worker->next();
  ASSERT_TRUE(second && second->envelope().isResponse());
  auto started = Clock::now();
  worker->shutdown(60000);
  EXPECT_TRUE(worker->waitExit(std::chrono::seconds(10)));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(10));
}

TEST(WorkerLifetimeTest, AScheduledEventsTimersEndWithIt) {
  auto worker = startWorker(/*cpuLimitMs=*/2000, 128, kContain);
  ASSERT_NE(worker, nullptr);
  worker->scheduled(1);
  auto done = worker->next();
  ASSERT_TRUE(done && done->envelope().isResponse());
  EXPECT_EQ(done->envelope().getResponse().getStatus(), 200);
  EXPECT_TRUE(worker->pongUntil([](ipc::Pong::Reader p) { return p.getTimersPending() == 0; }));
}

TEST(WorkerLifetimeTest, AnAnsweredRequestSetsNoMoreTimers) {
  auto worker = startWorker(/*cpuLimitMs=*/2000, 128, kContain);
  ASSERT_NE(worker, nullptr);
  worker->request(1, "/late-timer");
  auto answered = worker->next();
  ASSERT_TRUE(answered && answered->envelope().isResponse());
  // The jobs after the answer ran (in the same turn); the timer they asked for was refused.
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getTimersPending(), 0u);
}

// ---- event-loop lag arithmetic ---------------------------------------------------------------

TEST(LagTrackerTest, ReportsWorstLatenessSinceLastTakeAndResets) {
  using namespace std::chrono_literals;
  worker::LagTracker tracker(100ms);
  Clock::time_point t0{};
  tracker.start(t0);
  tracker.tick(t0 + 105ms);          // 5 ms late
  tracker.tick(t0 + 105ms + 130ms);  // 30 ms late
  tracker.tick(t0 + 235ms + 101ms);  // 1 ms late
  EXPECT_DOUBLE_EQ(tracker.takeWorstMs(t0 + 336ms), 30.0);
  // Reset by the take; an on-time tick is no lag.
  tracker.tick(t0 + 436ms);
  EXPECT_DOUBLE_EQ(tracker.takeWorstMs(t0 + 436ms), 0.0);
  // A tick overdue right now counts, even before it runs.
  EXPECT_DOUBLE_EQ(tracker.takeWorstMs(t0 + 436ms + 100ms + 250ms), 250.0);
}

}  // namespace
}  // namespace isolated::test
