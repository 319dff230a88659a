// The WorkerPool alone, with real processes: fake workers (tests/fake_worker.cc) that say Hello
// and answer pings, a host whose stage the test sets, and the loop run by the test. What the
// pool promises: it fills to its target, a recycled worker keeps serving until its replacement
// serves, scaling down retires the newest, a rolling reload replaces one worker at a time,
// failed health probes replace a worker, workers dying young back off and degrade the pool, and
// stop() ends every worker.
#include "supervisor/pool/worker_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logger.h"
#include "common/syscall.h"
#include "event/dispatcher.h"

namespace isolated::supervisor {
namespace {

using namespace std::chrono_literals;

// The pool's surroundings: the host (stage set by the test), the worker events it needs (Hello,
// Pong, loss), reaping on SIGCHLD and a housekeeping tick for health checks.
class PoolBench : public WorkerEvents, public PoolHost {
 public:
  explicit PoolBench(ServeConfig config, std::string mode = "serve")
      : config_(std::move(config)),
        pool_(dispatcher_.base(), dispatcher_, clock_, config_, {FAKE_WORKER, std::move(mode)},
              logger_, *this, *this) {}

  ~PoolBench() override {
    // Whatever is left is killed and reaped, so no test leaves a process behind.
    current = ServerStage::kEnding;
    pool_.killAll();
    runUntil([&] { return pool_.empty(); }, 10s);
  }

  WorkerPool& pool() { return pool_; }
  ServerStage current = ServerStage::kServing;
  // The most workers not yet told to stop (starting or ready, retiring or not) at once, read at
  // every Hello. One that drains may still be alive beside them until it exits.
  size_t mostUndrained = 0;
  std::vector<uint32_t> readyOrder;

  // Runs the loop until `done` holds or `timeout` passes.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      dispatcher_.runOnce();
    }
    return true;
  }

  std::set<uint32_t> servingIds() {
    std::set<uint32_t> ids;
    for (const auto& worker : pool_.workers()) {
      if (isServing(*worker)) ids.insert(worker->id());
    }
    return ids;
  }
  uint64_t restarts(const std::string& reason) {
    auto it = pool_.restarts().find(reason);
    return it == pool_.restarts().end() ? 0 : it->second;
  }

  // PoolHost
  ServerStage stage() const override { return current; }
  void failBoot(const std::string& reason) override { bootFailure = reason; }
  bool reloadMayContinue() const override { return true; }
  std::string bootFailure;

  // WorkerEvents: the pool's share of each event, as the Supervisor calls it.
  void onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) override {
    pool_.noteReady(worker, hello);
    readyOrder.push_back(worker.id());
    mostUndrained = std::max(mostUndrained, pool_.count([](const WorkerProcess& w) {
      return w.state() == WorkerState::kStarting || w.state() == WorkerState::kReady;
    }));
    pool_.settleAfterReady(worker);
    pool_.updateDegraded();
  }
  void onWorkerPong(WorkerProcess& worker, ipc::Pong::Reader pong) override {
    pool_.notePong(worker, pong);
  }
  void onWorkerLost(WorkerProcess& worker, const std::string&) override {
    if (!worker.shutdownSent()) worker.process().signal(SIGKILL);
    pool_.noteLoss(worker);
    pool_.reconcile();
    pool_.updateDegraded();
  }
  void onWorkerLoadError(WorkerProcess&, ipc::LoadError::Reader) override {}
  void onWorkerAppLoaded(WorkerProcess&, ipc::AppLoaded::Reader) override {}
  void onWorkerAppEvicted(WorkerProcess&, ipc::AppEvicted::Reader) override {}
  void onWorkerResponse(WorkerProcess&, ipc::Response::Reader) override {}
  void onWorkerBodyChunk(WorkerProcess&, ipc::BodyChunk::Reader) override {}
  void onWorkerBodyCredit(WorkerProcess&, ipc::BodyCredit::Reader) override {}
  void onWorkerLog(WorkerProcess&, ipc::Log::Reader) override {}
  void onWorkerFetchStart(WorkerProcess&, ipc::FetchStart::Reader) override {}
  void onWorkerFetchCredit(WorkerProcess&, ipc::FetchCredit::Reader) override {}
  void onWorkerFetchAbort(WorkerProcess&, ipc::FetchAbort::Reader) override {}
  void onWorkerFetchUpload(WorkerProcess&, ipc::FetchUpload::Reader) override {}

 private:
  void reap() {
    for (;;) {
      int status = 0;
      long pid = trySyscall([&] { return ::waitpid(-1, &status, WNOHANG); });
      if (pid <= 0) return;
      pool_.reaped(static_cast<pid_t>(pid), status);
    }
  }

  ServeConfig config_;
  event::Dispatcher dispatcher_;
  SystemClock clock_;
  Logger logger_{LogLevel::kError, LogFormat::kText, 2};
  WorkerPool pool_;
  event::SignalEvent sigchld_{dispatcher_, SIGCHLD, [this] { reap(); }};
  event::PeriodicTimer tick_{dispatcher_, [this] {
                               pool_.checkHealth(std::chrono::steady_clock::now());
                               pool_.forgetQuietFailures();
                             }};

 public:
  void startTicking() { tick_.start(20); }
};

ServeConfig poolConfig(uint32_t workers) {
  ServeConfig config;
  config.workers = workers;
  config.drainTimeoutSec = 5;
  return config;
}

TEST(WorkerPoolTest, FillsToItsTargetAndARecycledWorkerServesUntilItsReplacementDoes) {
  PoolBench bench(poolConfig(2));
  WorkerPool& pool = bench.pool();
  pool.reconcile();
  ASSERT_TRUE(bench.runUntil([&] { return pool.count(isServing) == 2; }));
  EXPECT_EQ(bench.servingIds(), (std::set<uint32_t>{1, 2}));

  ASSERT_TRUE(pool.recycle(1, "manual"));
  WorkerProcess* old = pool.find(1);
  ASSERT_NE(old, nullptr);
  // The replacement is spawned at once; the old worker still takes requests until it serves.
  EXPECT_TRUE(old->accepting());
  EXPECT_FALSE(old->shutdownSent());
  EXPECT_EQ(pool.count(isActive), 2u);
  ASSERT_NE(pool.find(3), nullptr);
  uint32_t slot = old->slot;

  ASSERT_TRUE(bench.runUntil([&] { return pool.find(1) == nullptr; }));
  EXPECT_EQ(bench.servingIds(), (std::set<uint32_t>{2, 3}));
  EXPECT_EQ(pool.find(3)->slot, slot) << "the replacement takes the old worker's slot";
  EXPECT_EQ(bench.restarts("manual"), 1u);
  const WorkerPool::SlotHistory* history = pool.slotHistory(slot);
  ASSERT_NE(history, nullptr);
  EXPECT_EQ(history->restarts, 1u);
  EXPECT_EQ(history->lastExitReason, "manual");
  EXPECT_FALSE(pool.recycle(1, "manual")) << "a reaped worker cannot be recycled";
}

TEST(WorkerPoolTest, ScalingDownRetiresTheNewestAndUpSpawns) {
  PoolBench bench(poolConfig(3));
  WorkerPool& pool = bench.pool();
  pool.reconcile();
  ASSERT_TRUE(bench.runUntil([&] { return pool.count(isServing) == 3; }));

  pool.scale(1);
  EXPECT_EQ(pool.target(), 1u);
  ASSERT_TRUE(bench.runUntil([&] { return pool.workers().size() == 1; }));
  EXPECT_EQ(bench.servingIds(), (std::set<uint32_t>{1})) << "the oldest worker stays";
  EXPECT_EQ(bench.restarts("scale-down"), 2u);

  pool.scale(4);
  EXPECT_EQ(pool.maxWorkers(), 4u) << "the autoscaling bounds move to include the target";
  ASSERT_TRUE(bench.runUntil([&] { return pool.count(isServing) == 4; }));
  EXPECT_EQ(bench.servingIds(), (std::set<uint32_t>{1, 4, 5, 6}));
}

TEST(WorkerPoolTest, ARollingReloadReplacesOneWorkerAtATime) {
  PoolBench bench(poolConfig(3));
  WorkerPool& pool = bench.pool();
  pool.reconcile();
  ASSERT_TRUE(bench.runUntil([&] { return pool.count(isServing) == 3; }));
  bench.mostUndrained = 0;

  pool.restartAll();
  EXPECT_TRUE(pool.reloadActive());
  ASSERT_TRUE(bench.runUntil([&] { return !pool.reloadActive() && pool.workers().size() == 3; }));
  EXPECT_EQ(bench.servingIds(), (std::set<uint32_t>{4, 5, 6}));
  EXPECT_EQ(bench.restarts("reload"), 3u);
  // One old worker at a time: never more than one worker beyond the target takes requests.
  EXPECT_LE(bench.mostUndrained, 4u);
}

TEST(WorkerPoolTest, AWorkerFailingItsHealthProbesIsReplaced) {
  ServeConfig config = poolConfig(1);
  config.healthIntervalMs = 20;
  config.healthFailures = 2;
  PoolBench bench(config, "sick");
  WorkerPool& pool = bench.pool();
  bench.startTicking();
  pool.reconcile();
  ASSERT_TRUE(bench.runUntil([&] { return bench.restarts("health") >= 1; }));
  ASSERT_TRUE(bench.runUntil([&] { return bench.readyOrder.size() >= 2; }))
      << "a replacement was spawned and said Hello";
  EXPECT_EQ(bench.readyOrder[0], 1u);
  EXPECT_GT(bench.readyOrder[1], 1u);
}

TEST(WorkerPoolTest, WorkersThatDieYoungBackOffAndDegradeThePool) {
  ServeConfig config = poolConfig(1);
  config.restartBackoffBaseMs = 50;
  config.restartBackoffMaxMs = 200;
  // An unknown mode: the fake worker exits at once, before its Hello.
  PoolBench bench(config, "exit-at-once");
  WorkerPool& pool = bench.pool();
  bench.startTicking();
  pool.reconcile();
  ASSERT_TRUE(bench.runUntil([&] { return bench.restarts("crash") >= 3; }));
  EXPECT_TRUE(pool.degraded());
  EXPECT_EQ(pool.count(isServing), 0u);
  EXPECT_TRUE(bench.bootFailure.empty()) << "while serving, a failed worker is not a failed boot";
}

TEST(WorkerPoolTest, StopEndsEveryWorker) {
  PoolBench bench(poolConfig(2));
  WorkerPool& pool = bench.pool();
  pool.reconcile();
  ASSERT_TRUE(bench.runUntil([&] { return pool.count(isServing) == 2; }));
  bench.current = ServerStage::kEnding;
  pool.stop(5000);
  for (const auto& worker : pool.workers())
    EXPECT_TRUE(worker->shutdownSent());
  ASSERT_TRUE(bench.runUntil([&] { return pool.empty(); }));
  pool.reconcile();
  EXPECT_TRUE(pool.empty()) << "an ending server spawns nothing";
  EXPECT_EQ(pool.restarts().size(), 0u) << "workers told to stop are not restarts";
}

}  // namespace
}  // namespace isolated::supervisor
