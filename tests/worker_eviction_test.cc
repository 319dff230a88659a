// The worker's eviction of isolates and forgetting of app definitions (ipc/protocol.h rule 21):
// LRU, idle and memory eviction, UnloadApp and ForgetApp, with the real `isolated __worker`
// driven by the test playing the supervisor (tests/worker_protocol_fixture.h).
#include "tests/worker_protocol_fixture.h"

namespace isolated::test {
namespace {

TEST_F(WorkerProtocolTest, MaxIsolatesEvictsTheLeastRecentlyUsed) {
  auto worker = start(/*maxIsolates=*/2);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->loadApp({3, path("a.mjs"), "gamma", 0, false});
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, true);
  expectResponse(*worker, 2);
  worker->request(3, 1, "/");  // 1 is now more recent than 2
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  worker->request(4, 3, "/");
  expectEvicted(*worker, 2, "lru");
  expectLoaded(*worker, 3, true);
  EXPECT_EQ(expectResponse(*worker, 4), "A gamma count=1 marks=A");
  // App 2 comes back from its definition, with fresh state.
  worker->request(5, 2, "/");
  expectEvicted(*worker, 1, "lru");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 5), "B beta count=1 marks=B");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 2u);
  // Evicted isolates' requests still count.
  EXPECT_EQ(pong->envelope().getPong().getRequestsServed(), 5u);
}

TEST_F(WorkerProtocolTest, BusyIsolatesAreNotEvictedTheBoundIsExceeded) {
  auto worker = start(/*maxIsolates=*/1);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  // Long enough that app 1 is still busy when app 2 needs an isolate, even on a loaded machine.
  worker->request(1, 1, "/wait?ms=2000");
  expectLoaded(*worker, 1, true);
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
}

TEST_F(WorkerProtocolTest, IdleIsolatesAreEvictedAndColdStartAgain) {
  auto worker = start(/*maxIsolates=*/0, /*idleTimeoutMs=*/300);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  auto sent = Clock::now();
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  expectEvicted(*worker, 1, "idle", 5s);
  EXPECT_GE(Clock::now() - sent, 290ms);
  worker->request(2, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=1 marks=A");
  // A request in flight is not idleness: the eviction comes only after the answer.
  worker->request(3, 1, "/wait");
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  expectEvicted(*worker, 1, "idle", 5s);
}

TEST_F(WorkerProtocolTest, EvictIdleDropsEveryIdleIsolate) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/wait?ms=2000");
  expectLoaded(*worker, 2, true);
  worker->message([](ipc::Envelope::Builder e) { e.initEvictIdle(); });
  expectEvicted(*worker, 1, "memory");
  // App 2 was busy and stays.
  expectResponse(*worker, 2);
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 1u);
}

TEST_F(WorkerProtocolTest, UnloadWaitsForRequestsThenForgetsTheApp) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/wait");
  expectLoaded(*worker, 1, true);
  worker->message([](ipc::Envelope::Builder e) { e.initUnloadApp().setApp(1); });
  // The request in flight finishes first.
  expectResponse(*worker, 1);
  expectEvicted(*worker, 1, "unload");
  // An app without an isolate goes silently.
  worker->message([](ipc::Envelope::Builder e) { e.initUnloadApp().setApp(2); });
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 0u);
  EXPECT_TRUE(pong->envelope().getPong().getProbeOk());
  // A request for an unloaded app breaks the protocol: the worker closes the channel.
  worker->request(2, 1, "/");
  EXPECT_EQ(worker->next(5s), nullptr);
  EXPECT_NE(worker->stderrText().find("names app 1"), std::string::npos) << worker->stderrText();
}

// ForgetApp (rule 21, forgetting): an evicted app's definition goes; LoadApp defines it again
// before its next request, and its fetch ids continue where they stopped.
// Pong's count of app definitions, after a Ping sent now (so after every earlier message).
uint32_t definedAfterPing(Worker& worker, uint64_t seq) {
  worker.ping(seq);
  auto pong = worker.next();
  if (!pong || !pong->envelope().isPong()) {
    ADD_FAILURE() << "no Pong";
    return UINT32_MAX;
  }
  return pong->envelope().getPong().getAppsDefined();
}

TEST_F(WorkerProtocolTest, ForgottenAppsAreDefinedAgainBeforeTheirNextRequest) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/fetch");
  expectLoaded(*worker, 1, true);
  auto fetch = worker->next();
  ASSERT_TRUE(fetch && fetch->envelope().isFetchStart());
  uint64_t firstFetch = fetch->envelope().getFetchStart().getFetchId();
  worker->message([firstFetch](ipc::Envelope::Builder e) {
    auto failed = e.initFetchFailed();
    failed.setFetchId(firstFetch);
    failed.setMessage("refused");
  });
  EXPECT_EQ(expectResponse(*worker, 1), "fetch failed: refused");
  worker->message([](ipc::Envelope::Builder e) { e.initEvictIdle(); });
  expectEvicted(*worker, 1, "memory");
  worker->message([](ipc::Envelope::Builder e) { e.initForgetApp().setApp(1); });
  EXPECT_EQ(definedAfterPing(*worker, 1), 1u);
  // Defined again, from a file that has changed since: the new definition is what runs.
  write("a.mjs", appScript("A2"));
  worker->loadApp({1, path("a.mjs"), "alpha-again", 0, false});
  worker->request(2, 1, "/fetch");
  expectLoaded(*worker, 1, true);
  fetch = worker->next();
  ASSERT_TRUE(fetch && fetch->envelope().isFetchStart());
  EXPECT_GT(fetch->envelope().getFetchStart().getFetchId(), firstFetch)
      << "a fetch id of the app's earlier definition was issued again";
  uint64_t secondFetch = fetch->envelope().getFetchStart().getFetchId();
  worker->message([secondFetch](ipc::Envelope::Builder e) {
    auto failed = e.initFetchFailed();
    failed.setFetchId(secondFetch);
    failed.setMessage("refused again");
  });
  EXPECT_EQ(expectResponse(*worker, 2), "fetch failed: refused again");
  worker->request(3, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "A2 alpha-again count=1 marks=A2");
  // App 2 was never forgotten and is untouched.
  worker->request(4, 2, "/");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 4), "B beta count=1 marks=B");
}

TEST_F(WorkerProtocolTest, ARequestForAForgottenAppBreaksTheProtocol) {
  auto worker = start(/*maxIsolates=*/1);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/");
  expectEvicted(*worker, 1, "lru");
  expectLoaded(*worker, 2, true);
  expectResponse(*worker, 2);
  worker->message([](ipc::Envelope::Builder e) { e.initForgetApp().setApp(1); });
  // UnloadApp of a forgotten app ends it without a word.
  worker->message([](ipc::Envelope::Builder e) { e.initUnloadApp().setApp(1); });
  worker->request(3, 1, "/");
  EXPECT_EQ(worker->next(5s), nullptr);
  std::string err = worker->stderrText();
  EXPECT_NE(err.find("names app 1, which the worker does not hold"), std::string::npos) << err;
  EXPECT_EQ(err.find("UnloadApp for an app the worker does not hold"), std::string::npos) << err;
}

// ForgetApp that crosses a request bringing the isolate back: the app keeps serving, and a
// LoadApp sent meanwhile keeps the definition instead of breaking the protocol.
TEST_F(WorkerProtocolTest, ForgetAppCrossingAColdStartKeepsTheApp) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/wait?ms=500");
  expectLoaded(*worker, 1, true);
  worker->message([](ipc::Envelope::Builder e) { e.initForgetApp().setApp(1); });
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  EXPECT_EQ(definedAfterPing(*worker, 1), 2u);
  worker->loadApp({1, path("a.mjs"), "alpha", 0, false});
  worker->request(2, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=2 marks=A");
  // Forgotten for good at the next eviction after another ForgetApp.
  worker->message([](ipc::Envelope::Builder e) { e.initForgetApp().setApp(1); });
  worker->message([](ipc::Envelope::Builder e) { e.initEvictIdle(); });
  expectEvicted(*worker, 1, "memory");
  EXPECT_EQ(definedAfterPing(*worker, 2), 1u);
  worker->request(3, 1, "/");
  EXPECT_EQ(worker->next(5s), nullptr);
}

// --shared-isolate: a forgotten app's context goes with its definition, and the app defined
// again gets a context of its own with fresh state.
TEST_F(WorkerProtocolTest, SharedIsolateForgetsAndDefinesAgain) {
  auto worker = start(/*maxIsolates=*/1, 0, {"--shared-isolate"});
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->request(2, 2, "/");
  expectEvicted(*worker, 1, "lru");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  worker->message([](ipc::Envelope::Builder e) { e.initForgetApp().setApp(1); });
  EXPECT_EQ(definedAfterPing(*worker, 1), 1u);
  worker->loadApp({1, path("a.mjs"), "alpha", 0, false});
  worker->request(3, 1, "/");
  expectEvicted(*worker, 2, "lru");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=1 marks=A");
  EXPECT_EQ(definedAfterPing(*worker, 2), 2u);
}

}  // namespace
}  // namespace isolated::test
