// The worker's side of protocol v2 (ipc/protocol.h rules 0-2 and 21): the real
// `isolated __worker`, with a socketpair as its fd 3, driven by this test playing the
// supervisor. Apps are written to a private temporary directory, so the suite is hermetic.
#include "tests/worker_protocol_fixture.h"

namespace isolated::test {
namespace {

TEST_F(WorkerProtocolTest, RefusesAnotherProtocolVersion) {
  Worker worker(dir_.path());
  worker.configure(ipc::kProtocolVersion + 7);
  EXPECT_EQ(worker.next(5s), nullptr) << "a worker of another version must not say Hello";
  auto status = worker.waitExit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  std::string err = worker.stderrText();
  EXPECT_NE(err.find("protocol version mismatch"), std::string::npos) << err;
  EXPECT_NE(err.find("version " + std::to_string(ipc::kProtocolVersion)), std::string::npos) << err;
  EXPECT_NE(err.find("version " + std::to_string(ipc::kProtocolVersion + 7)), std::string::npos)
      << err;
}

TEST_F(WorkerProtocolTest, EachAppAnswersWithItsOwnScriptStateAndEnv) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, /*coldStart=*/true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, /*coldStart=*/true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  // Warm: no AppLoaded, the module state of each app kept and separate.
  worker->request(3, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  worker->request(4, 2, "/");
  EXPECT_EQ(expectResponse(*worker, 4), "B beta count=2 marks=B");

  // Console lines carry their app.
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  bool sawA = false;
  bool sawB = false;
  for (const auto& [app, text] : worker->logs()) {
    if (text == "A served 2") sawA = app == 1;
    if (text == "B served 2") sawB = app == 2;
  }
  EXPECT_TRUE(sawA && sawB);
  auto pongReader = pong->envelope().getPong();
  EXPECT_EQ(pongReader.getIsolatesLoaded(), 2u);
  EXPECT_TRUE(pongReader.getProbeOk());
  EXPECT_EQ(pongReader.getRequestsServed(), 4u);
  std::map<uint32_t, uint64_t> cpu;
  for (auto usage : pongReader.getApps()) {
    cpu[usage.getApp()] = usage.getCpuMicros();
    EXPECT_GT(usage.getHeapUsedBytes(), 0u);
  }
  EXPECT_GT(cpu[1], 0u);
  EXPECT_GT(cpu[2], 0u);
  // Usage is since the previous Pong: nothing ran in between.
  worker->ping(2);
  pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getApps().size(), 0u);
}

TEST_F(WorkerProtocolTest, PreloadAnswersAppLoadedAtOnce) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  worker->loadApp({5, path("a.mjs"), "pre", 0, /*preload=*/true});
  expectLoaded(*worker, 5, /*coldStart=*/false);
  worker->request(1, 5, "/");
  EXPECT_EQ(expectResponse(*worker, 1), "A pre count=1 marks=A");
}

TEST_F(WorkerProtocolTest, BrokenAppFailsAloneAndIsTriedAgain) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->loadApp({3, path("broken.mjs"), "x", 0, false});
  worker->request(1, 3, "/");
  auto failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_EQ(failed->envelope().getLoadError().getApp(), 3u);
  EXPECT_EQ(failed->envelope().getLoadError().getFile().cStr(), path("broken.mjs"));
  EXPECT_NE(std::string(failed->envelope().getLoadError().getMessage().cStr()), "");
  expectResponse(*worker, 1, 503, "app-failed");
  // Other apps serve.
  worker->request(2, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=1 marks=A");
  // The definition stays, and the next request tries again (the same source: a definition
  // pins the script text it first read, as a version).
  worker->request(3, 3, "/");
  failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  expectResponse(*worker, 3, 503, "app-failed");
  // A preload that fails says so at once; a file that could not be read is read again.
  worker->loadApp({4, path("late.mjs"), "x", 0, /*preload=*/true});
  failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_EQ(failed->envelope().getLoadError().getApp(), 4u);
  write("late.mjs", "export default { fetch() { return new Response('late') } }\n");
  worker->request(4, 4, "/");
  expectLoaded(*worker, 4, true);
  EXPECT_EQ(expectResponse(*worker, 4), "late");
}

// A script that can no longer load when its context is rebuilt after a CPU-limit breach: the
// app is failed (LoadError, later requests 503 app-failed until a load succeeds), never the
// worker. The script's top level throws once a wall-clock instant has passed; its handler
// loops in a promise job, where a CPU stop always rebuilds (docs/limits.md).
TEST_F(WorkerProtocolTest, FailedRebuildFailsOnlyThatApp) {
  auto until = std::chrono::system_clock::now() + 1500ms;
  auto untilMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(until.time_since_epoch()).count();
  write("expiring.mjs", "if (Date.now() > " + std::to_string(untilMs) +
                            ") throw new Error('expired');\n" +
                            "export default { async fetch() { await null; for (;;) {} } };\n");
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  worker->loadApp({1, path("expiring.mjs"), "x", 100, /*preload=*/true});
  expectLoaded(*worker, 1, false);
  worker->loadApp({2, path("b.mjs"), "beta", 100, /*preload=*/true});
  expectLoaded(*worker, 2, false);
  // The condition is the wall clock itself: wait for the instant the script checks.
  std::this_thread::sleep_until(until + 50ms);
  worker->request(1, 1, "/");
  expectResponse(*worker, 1, 503, "cpu-limit");
  auto failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_EQ(failed->envelope().getLoadError().getApp(), 1u);
  EXPECT_NE(std::string(failed->envelope().getLoadError().getMessage().cStr()).find("expired"),
            std::string::npos);
  worker->request(2, 1, "/");
  failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  expectResponse(*worker, 2, 503, "app-failed");
  worker->request(3, 2, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "B beta count=1 marks=B");
}

TEST_F(WorkerProtocolTest, CpuLimitInOneAppDoesNotFailAnother) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker, /*cpuLimitMs=*/100);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/wait");
  expectLoaded(*worker, 2, true);
  // B's request is parked on a timer while A spins into its limit.
  worker->request(3, 1, "/loop");
  expectResponse(*worker, 3, 503, "cpu-limit");
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  // A's loop was stopped in its own code: only that request failed, A's context (and its
  // count) carries on; B's state is intact.
  worker->request(4, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 4), "A alpha count=2 marks=A");
  worker->request(5, 2, "/");
  EXPECT_EQ(expectResponse(*worker, 5), "B beta count=2 marks=B");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getCpuLimitTerminations(), 1u);
  bool charged = false;
  for (auto usage : pong->envelope().getPong().getApps()) {
    if (usage.getApp() == 1) {
      charged = usage.getCpuLimitTerminations() == 1 && usage.getCpuMicros() >= 50'000;
    }
    if (usage.getApp() == 2) {
      EXPECT_EQ(usage.getCpuLimitTerminations(), 0u);
    }
  }
  EXPECT_TRUE(charged);
}

TEST_F(WorkerProtocolTest, IdleIsolatesReleaseMemoryAndKeepTheirState) {
  auto worker = start(0, 0, {"--log-level", "debug", "--release-idle-after-ms", "100"});
  ASSERT_NE(worker, nullptr);
  worker->loadApp({1, path("a.mjs"), "alpha", 0, false});
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  uint64_t usedBefore = pong->envelope().getPong().getHeapUsedBytes();
  // The isolate has been idle for 100 ms: its heap is collected and compacted, off any request.
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline &&
         worker->stderrText().find("released idle isolates' memory") == std::string::npos) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(worker->stderrText().find("released idle isolates' memory"), std::string::npos)
      << worker->stderrText();
  worker->ping(2);
  pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_LT(pong->envelope().getPong().getHeapUsedBytes(), usedBefore);
  // Nothing of the app's state went with the garbage.
  worker->request(2, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=2 marks=A");
}

// A cold start takes the worker's spare isolate (worker/spare_isolate.h), which was warmed up
// with a throwaway fetch listener: apps bound to spares see none of it. A service-worker script
// gets only its own listener, and a script without a handler still fails to load.
TEST_F(WorkerProtocolTest, ColdStartsTakeTheWarmSpareAndSeeNothingOfItsWarmUp) {
  auto worker = start(0, 0, {"--log-level", "debug"});
  ASSERT_NE(worker, nullptr);
  write("sw.js",
        "addEventListener('fetch', (event) => event.respondWith(new Response("
        "'sw ' + typeof globalThis.marks)));\n");
  write("none.js", "globalThis.defined = true;\n");
  worker->loadApp({1, path("a.mjs"), "alpha", 0, false});
  worker->loadApp({3, path("sw.js"), "sw", 0, false});
  worker->loadApp({4, path("none.js"), "none", 0, false});
  // The spare is made once the worker is idle after its first LoadApp.
  auto spareMade = [&](size_t count) {
    return worker->waitForLogCount("spare isolate made", count);
  };
  ASSERT_TRUE(spareMade(1)) << worker->stderrText();
  worker->request(1, 3, "/");
  expectLoaded(*worker, 3, true);
  EXPECT_EQ(expectResponse(*worker, 1), "sw undefined");
  ASSERT_TRUE(spareMade(2)) << worker->stderrText();
  worker->request(2, 4, "/");
  auto failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_NE(
      std::string(failed->envelope().getLoadError().getMessage().cStr()).find("no fetch handler"),
      std::string::npos)
      << failed->envelope().getLoadError().getMessage().cStr();
  expectResponse(*worker, 2, 503, "app-failed");
  ASSERT_TRUE(spareMade(3)) << worker->stderrText();
  worker->request(3, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 3);
  // Both successful cold starts (and the failed one) were bound to spares.
  std::string err = worker->stderrText();
  size_t fromSpares = 0;
  for (size_t at = err.find(" spare=1 "); at != std::string::npos;
       at = err.find(" spare=1 ", at + 1))
    ++fromSpares;
  EXPECT_EQ(fromSpares, 3u) << err;
}

TEST_F(WorkerProtocolTest, FetchIdsNameTheirAppAndRouteBack) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 2, "/fetch");
  expectLoaded(*worker, 2, true);
  auto fetch = worker->next();
  ASSERT_TRUE(fetch && fetch->envelope().isFetchStart());
  auto start = fetch->envelope().getFetchStart();
  EXPECT_EQ(start.getApp(), 2u);
  EXPECT_EQ(start.getParentId(), 1u);
  EXPECT_EQ(start.getFetchId() >> 32, 2u);
  uint64_t fetchId = start.getFetchId();
  worker->message([fetchId](ipc::Envelope::Builder e) {
    auto failed = e.initFetchFailed();
    failed.setFetchId(fetchId);
    failed.setMessage("refused by the test");
  });
  EXPECT_EQ(expectResponse(*worker, 1), "fetch failed: refused by the test");
}

// --shared-isolate: apps are contexts of one isolate, still with their own globals, env and
// CPU limit; eviction drops the context.
TEST_F(WorkerProtocolTest, SharedIsolateKeepsAppsApart) {
  auto worker =
      start(/*maxIsolates=*/2, 0, {"--shared-isolate", "--shared-isolate-heap-mb", "256"});
  ASSERT_NE(worker, nullptr);
  defineAB(*worker, /*cpuLimitMs=*/100);
  worker->loadApp({3, path("a.mjs"), "gamma", 100, false});
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->request(2, 2, "/wait");
  expectLoaded(*worker, 2, true);
  worker->request(3, 1, "/loop");
  expectResponse(*worker, 3, 503, "cpu-limit");
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  worker->request(4, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 4), "A alpha count=2 marks=A");
  worker->request(5, 3, "/");
  expectEvicted(*worker, 2, "lru");
  expectLoaded(*worker, 3, true);
  EXPECT_EQ(expectResponse(*worker, 5), "A gamma count=1 marks=A");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 2u);
  EXPECT_TRUE(pong->envelope().getPong().getProbeOk());
  EXPECT_EQ(pong->envelope().getPong().getHeapLimitBytes() >> 20, 256u);
}

// In the shared isolate, spares are warmed-up contexts: a cold start binds the app to one, and
// apps still see nothing of each other or of the warm-up.
TEST_F(WorkerProtocolTest, SharedIsolateColdStartsTakeAWarmSpareContext) {
  auto worker = start(0, 0, {"--shared-isolate", "--log-level", "debug"});
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  auto spareMade = [&](size_t count) {
    return worker->waitForLogCount("spare isolate made", count);
  };
  ASSERT_TRUE(spareMade(1)) << worker->stderrText();
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  ASSERT_TRUE(spareMade(2)) << worker->stderrText();
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  worker->request(3, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  std::string err = worker->stderrText();
  size_t fromSpares = 0;
  for (size_t at = err.find(" spare=1 "); at != std::string::npos;
       at = err.find(" spare=1 ", at + 1))
    ++fromSpares;
  EXPECT_EQ(fromSpares, 2u) << err;
}

// A heap-limit breach in the shared isolate replaces it, with every app in it: each is evicted
// (reason memory) and cold-starts again on its next request.
TEST_F(WorkerProtocolTest, SharedIsolateHeapLimitReplacesTheIsolate) {
  write("bomb.mjs", R"(const hoard = [];
export default { fetch() { for (;;) hoard.push(new Array(100000).fill(Math.random())); } };
)");
  auto worker = start(0, 0, {"--shared-isolate", "--shared-isolate-heap-mb", "64"});
  ASSERT_NE(worker, nullptr);
  worker->loadApp({1, path("a.mjs"), "alpha", 20000, /*preload=*/true});
  expectLoaded(*worker, 1, false);
  worker->loadApp({2, path("bomb.mjs"), "x", 20000, /*preload=*/true});
  expectLoaded(*worker, 2, false);
  worker->request(1, 2, "/");
  expectResponse(*worker, 1, 503, "memory-limit");
  std::set<uint32_t> evicted;
  for (int i = 0; i < 2; ++i) {
    auto frame = worker->next();
    ASSERT_TRUE(frame && frame->envelope().isAppEvicted());
    EXPECT_EQ(frame->envelope().getAppEvicted().getReason().cStr(), std::string("memory"));
    evicted.insert(frame->envelope().getAppEvicted().getApp());
  }
  EXPECT_EQ(evicted, (std::set<uint32_t>{1, 2}));
  worker->request(2, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=1 marks=A");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getMemoryLimitTerminations(), 1u);
  EXPECT_LT(pong->envelope().getPong().getHeapUsedBytes(), 32u << 20);
}

TEST_F(WorkerProtocolTest, RequestForAnUndefinedAppBreaksTheProtocol) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  worker->request(1, 9, "/");
  EXPECT_EQ(worker->next(5s), nullptr);
  auto status = worker->waitExit();
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(worker->stderrText().find("does not hold"), std::string::npos);
}

}  // namespace
}  // namespace isolated::test
