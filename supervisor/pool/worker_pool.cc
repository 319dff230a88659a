#include "supervisor/pool/worker_pool.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "common/read_file.h"
#include "common/syscall.h"
#include "ipc/protocol.h"

namespace isolated::supervisor {

namespace {

// Restart backoff is for workers that cannot get going: one that dies before its Hello, or
// after it without having answered a single request and younger than kStableAfter (like PM2's
// min_uptime), is an early failure, and repeated early failures back off. A worker that has
// answered requests is replaced at once however it died: the OOM killer or an operator's
// `kill -9` says nothing about the next worker, and backing off would leave the pool empty
// (issue 12, defect 5).
constexpr auto kStableAfter = std::chrono::seconds(5);

bool diedEarly(const WorkerProcess& worker) {
  if (!worker.readyAt()) return true;
  return worker.requestsServed == 0 &&
         std::chrono::steady_clock::now() - worker.spawnedAt() < kStableAfter;
}

// A worker over its soft memory threshold that holds several isolates is first told to evict
// its idle ones; it is recycled if it is still over the threshold kEvictGrace later. Evicting
// is tried again at most every kEvictRetryAfter.
constexpr auto kEvictGrace = std::chrono::seconds(2);
constexpr auto kEvictRetryAfter = std::chrono::seconds(30);

// Autoscaling thresholds, in requests outstanding or queued per ready worker. The gap between
// them, and the time each must hold, is the hysteresis.
constexpr double kScaleUpLoad = 2.0;
constexpr double kScaleDownLoad = 0.25;

double millisSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

uint64_t readRssBytes(pid_t pid) {
  std::string error;
  auto statm = readFile("/proc/" + std::to_string(pid) + "/statm", error);
  if (!statm) return 0;
  unsigned long long sizePages = 0, residentPages = 0;
  if (std::sscanf(statm->c_str(), "%llu %llu", &sizePages, &residentPages) != 2) return 0;
  return residentPages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

WorkerPool::WorkerPool(event_base* base, event::Dispatcher& dispatcher,
                       const isolated::Clock& clock, const ServeConfig& config,
                       std::vector<std::string> workerCommand, Logger& logger, WorkerEvents& events,
                       PoolHost& host)
    : base_(base),
      clock_(clock),
      config_(config),
      workerCommand_(std::move(workerCommand)),
      logger_(logger),
      events_(events),
      host_(host),
      target_(config.workers),
      min_(std::min(config.minWorkers, config.workers)),
      max_(std::max(config.maxWorkers, config.workers)),
      backoff_(std::chrono::milliseconds(config.restartBackoffBaseMs),
               std::chrono::milliseconds(config.restartBackoffMaxMs)),
      spawnTimer_(dispatcher, clock, [this] { onSpawnDue(); }),
      stopTimer_(dispatcher, [this] { killAll(); }) {}

size_t WorkerPool::count(bool (*predicate)(const WorkerProcess&)) const {
  return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(),
                                           [&](const auto& w) { return predicate(*w); }));
}

WorkerProcess* WorkerPool::find(uint32_t id) {
  for (auto& worker : workers_) {
    if (worker->id() == id) return worker.get();
  }
  return nullptr;
}

WorkerProcess* WorkerPool::findByPid(pid_t pid) {
  for (auto& w : workers_) {
    if (w->pid() == pid) return w.get();
  }
  return nullptr;
}

// ---- spawning ----

void WorkerPool::spawn() {
  uint32_t id = nextWorkerId_++;
  try {
    auto worker = std::make_unique<WorkerProcess>(id, base_, workerCommand_, ipc::FrameLimits{},
                                                  events_, &config_.workerSandbox);
    worker->generation = generation_;
    worker->slot = freeSlot();
    if (config_.maxRequests > 0) {
      uint64_t jitter = config_.maxRequestsJitter;
      worker->requestLimit = config_.maxRequests + (jitter > 0 ? random_() % (jitter + 1) : 0);
    }
    logger_.debug("worker spawned", {{"worker", id}, {"pid", worker->pid()}});
    sendConfigure(*worker);
    workers_.push_back(std::move(worker));
  } catch (const SyscallError& e) {
    logger_.error("cannot spawn a worker", {{"worker", id}, {"error", e.what()}});
    if (host_.stage() == ServerStage::kBooting) return host_.failBoot(e.what());
    // Out of descriptors or processes for now (EMFILE, EAGAIN): a failed spawn is an early
    // failure, and the worker is tried again after the backoff delay, so the pool refills once
    // the resource frees (issue 12, defect 1).
    backoff_.recordEarlyFailure(clock_.now());
    scheduleSpawn();
  }
}

void WorkerPool::scheduleSpawn() {
  // Workers keep failing right after start: wait (restart_backoff.h).
  logger_.warn("worker restart backed off", {{"delay_ms", backoff_.delay().count()},
                                             {"consecutive_failures", backoff_.failures()}});
  spawnTimer_.schedule(backoff_.schedule(clock_.now()));
}

void WorkerPool::onSpawnDue() {
  // Only the spawns due now: one scheduled from here (a spawn that failed again) waits its turn.
  size_t due = backoff_.takeDue(clock_.now());
  for (; due > 0; --due) {
    if (host_.stage() == ServerStage::kEnding) break;
    if (count(isActive) + backoff_.waiting() < target_) spawn();
  }
  if (auto next = backoff_.nextDue()) spawnTimer_.schedule(*next);
}

void WorkerPool::sendConfigure(WorkerProcess& worker) {
  capnp::MallocMessageBuilder message;
  auto configure = message.initRoot<ipc::Envelope>().initConfigure();
  configure.setProtocolVersion(ipc::kProtocolVersion);
  configure.setMaxIsolates(config_.maxIsolates);
  configure.setIsolateIdleTimeoutMs(config_.isolateIdleTimeoutSec * 1000);
  configure.setWaitUntilTimeoutMs(config_.waitUntilTimeoutSec * 1000);
  worker.send(message);
}

void WorkerPool::reconcile() {
  if (host_.stage() == ServerStage::kEnding) return;

  // A retiring worker drains once enough serving workers stand in for it.
  size_t serving = count(isServing);
  for (auto& worker : workers_) {
    if (worker->accepting() && worker->retiring() && serving >= target_) {
      logger_.info("worker draining", {{"worker", worker->id()},
                                       {"pid", worker->pid()},
                                       {"reason", worker->retireReason()},
                                       {"in_flight", worker->outstandingCount()}});
      worker->shutdown(config_.drainTimeoutSec * 1000);
    }
  }

  size_t active = count(isActive) + backoff_.waiting();
  for (; active < target_; ++active) {
    if (backoff_.failures() == 0) {
      spawn();
      // A failed boot (or an operator's drain) stops the filling here.
      ServerStage stage = host_.stage();
      if (stage != ServerStage::kBooting && stage != ServerStage::kServing &&
          stage != ServerStage::kDraining) {
        return;
      }
      continue;
    }
    scheduleSpawn();
  }
}

// ---- recycling and scaling ----

void WorkerPool::retire(WorkerProcess& worker, const std::string& reason) {
  if (worker.retiring() || !isAlive(worker)) return;
  worker.markRetiring(reason);
  ++restarts_[reason];
  logger_.info("recycling worker", {{"worker", worker.id()},
                                    {"pid", worker.pid()},
                                    {"reason", reason},
                                    {"rss_mb", worker.rssBytes >> 20},
                                    {"requests_served", worker.requestsServed}});
  reconcile();
}

bool WorkerPool::recycle(uint32_t id, const std::string& reason) {
  for (auto& worker : workers_) {
    if (worker->id() == id && worker->accepting() && !worker->retiring()) {
      retire(*worker, reason);
      return true;
    }
  }
  return false;
}

void WorkerPool::scale(uint32_t workers) {
  min_ = std::min(min_, workers);
  max_ = std::max(max_, workers);
  uint32_t before = target_;
  target_ = workers;
  logger_.info("scaling", {{"from", before}, {"to", workers}});
  // Shrinking retires the newest serving workers beyond the target.
  size_t serving = count(isServing);
  for (auto it = workers_.rbegin(); it != workers_.rend() && serving > target_; ++it) {
    if (isServing(**it)) {
      retire(**it, "scale-down");
      --serving;
    }
  }
  reconcile();
}

void WorkerPool::autoscale(size_t queued) {
  if (host_.stage() != ServerStage::kServing || reloadActive_ || min_ == max_) return;
  size_t serving = count(isServing);
  size_t demand = queued;
  for (const auto& worker : workers_)
    demand += worker->outstandingCount();
  double load = static_cast<double>(demand) / static_cast<double>(std::max<size_t>(1, serving));
  busySeconds_ = (load >= kScaleUpLoad || queued > 0) ? busySeconds_ + 1 : 0;
  idleSeconds_ = load < kScaleDownLoad ? idleSeconds_ + 1 : 0;
  if (busySeconds_ >= config_.scaleUpAfterSec && target_ < max_) {
    busySeconds_ = 0;
    ++target_;
    logger_.info("scaling up", {{"target", target_}, {"load", load}});
    reconcile();
  } else if (idleSeconds_ >= config_.scaleDownAfterSec && target_ > min_) {
    idleSeconds_ = 0;
    --target_;
    logger_.info("scaling down", {{"target", target_}, {"load", load}});
    // The newest serving worker goes: older ones have warm caches.
    for (auto it = workers_.rbegin(); it != workers_.rend(); ++it) {
      if (isServing(**it)) {
        retire(**it, "scale-down");
        break;
      }
    }
  }
}

void WorkerPool::updateDegraded() {
  if (host_.stage() != ServerStage::kServing) return;
  size_t serving = count(isServing);
  bool degraded = serving < target_ && (backoff_.failures() > 0 || serving == 0);
  if (degraded && !degraded_) {
    logger_.warn(
        "pool degraded",
        {{"serving", serving}, {"target", target_}, {"consecutive_failures", backoff_.failures()}});
  } else if (!degraded && degraded_) {
    logger_.info("pool restored", {{"serving", serving}, {"target", target_}});
  }
  degraded_ = degraded;
}

void WorkerPool::forgetQuietFailures() {
  if (backoff_.forgetIfQuiet(clock_.now())) updateDegraded();
}

// ---- worker events ----

void WorkerPool::noteReady(WorkerProcess& worker, ipc::Hello::Reader hello) {
  worker.rssBytes = readRssBytes(worker.pid());
  logger_.info("worker ready", {{"worker", worker.id()},
                                {"pid", worker.pid()},
                                {"load_ms", hello.getStartupMs()},
                                {"spawn_to_ready_ms", millisSince(worker.spawnedAt())}});
}

void WorkerPool::settleAfterReady(const WorkerProcess& worker) {
  // Drain the worker this one replaces before marking the next one of a reload, so that a
  // rolling reload holds at most one extra worker.
  reconcile();
  if (worker.generation == generation_) continueReload();
}

void WorkerPool::notePong(WorkerProcess& worker, ipc::Pong::Reader pong) {
  worker.heapUsedBytes = pong.getHeapUsedBytes();
  worker.heapLimitBytes = pong.getHeapLimitBytes();
  worker.eventLoopLagMs = pong.getEventLoopLagMs();
  worker.probeOk = pong.getProbeOk();
  worker.cpuLimitTerminations = pong.getCpuLimitTerminations();
  worker.memoryLimitTerminations = pong.getMemoryLimitTerminations();
  worker.droppedLogLines = pong.getDroppedLogLines();
  worker.isolatesLoaded = pong.getIsolatesLoaded();
  if (worker.probeOk) {
    worker.healthMisses = 0;
    return;
  }
  ++worker.healthMisses;
  logger_.warn("worker health probe failed",
               {{"worker", worker.id()}, {"pid", worker.pid()}, {"misses", worker.healthMisses}});
  // Killing from inside the channel callback is safe: the channel defers its own teardown.
  if (worker.healthMisses >= config_.healthFailures) {
    worker.lossCause = "health";
    worker.kill("health probe failed " + std::to_string(worker.healthMisses) + " times");
  }
}

void WorkerPool::noteLoss(const WorkerProcess& worker) {
  if (worker.shutdownSent()) return;
  std::string cause = worker.lossCause.empty() ? "crash" : worker.lossCause;
  if (cause == "reload-refused") return;
  ++restarts_[cause];
  if (diedEarly(worker)) {
    backoff_.recordEarlyFailure(clock_.now());
  } else if (backoff_.reset()) {
    // A worker that had served was lost: a fresh failure count, and the spawns still waiting
    // out a backoff go now, so that the pool is never left empty by the delay.
    spawnTimer_.cancel();
  }
}

// ---- reload ----

void WorkerPool::restartAll() {
  ++generation_;
  reloadActive_ = true;
  reloadQueue_.clear();
  for (auto& worker : workers_) {
    if (isActive(*worker)) reloadQueue_.push_back(worker->id());
  }
  continueReload();
}

void WorkerPool::continueReload() {
  if (!reloadActive_ || !host_.reloadMayContinue()) return;
  // One old worker at a time: the next is marked only when a new one has become ready.
  while (!reloadQueue_.empty()) {
    uint32_t id = reloadQueue_.front();
    reloadQueue_.pop_front();
    for (auto& worker : workers_) {
      if (worker->id() == id && isActive(*worker)) {
        retire(*worker, "reload");
        return;
      }
    }
  }
  bool oldRemain = std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
    return isActive(*w) && w->generation != generation_;
  });
  if (!oldRemain) {
    reloadActive_ = false;
    logger_.info("reload complete", {{"workers", count(isServing)}});
  }
}

// ---- health and memory ----

void WorkerPool::checkHealth(Clock::time_point now) {
  auto interval = std::chrono::milliseconds(config_.healthIntervalMs);
  auto timeout = std::chrono::milliseconds(config_.healthTimeoutMs);
  // Killing a worker spawns its replacement, which would invalidate an iterator over workers_:
  // collect first, kill after.
  std::vector<WorkerProcess*> unhealthy;
  // A worker is pinged only once it has said Hello; until then its start-up has a deadline
  // (issue 12, defect 10): one stopped or hung before Hello would otherwise hold its place in
  // the pool forever.
  std::vector<WorkerProcess*> stalled;
  auto startDeadline = std::chrono::milliseconds(config_.workerStartTimeoutMs);
  for (auto& worker : workers_) {
    if (worker->state() == WorkerState::kStarting && now - worker->spawnedAt() > startDeadline) {
      stalled.push_back(worker.get());
    }
    if (worker->state() != WorkerState::kReady) continue;
    auto since = worker->pingOutstandingSince();
    if (since && now - *since > timeout) {
      // A late Pong is one miss per interval: a stopped or deadlocked worker accumulates them.
      if (now - worker->lastMissAt >= interval || worker->healthMisses == 0) {
        worker->lastMissAt = now;
        ++worker->healthMisses;
        logger_.warn(
            "worker missed a health check",
            {{"worker", worker->id()}, {"pid", worker->pid()}, {"misses", worker->healthMisses}});
      }
      if (worker->healthMisses >= config_.healthFailures) unhealthy.push_back(worker.get());
    } else if (!since && now - worker->lastPingAt() >= interval) {
      worker->ping();
    }
  }
  for (WorkerProcess* worker : stalled) {
    logger_.warn("worker did not start in time, replacing it",
                 {{"worker", worker->id()},
                  {"pid", worker->pid()},
                  {"timeout_ms", config_.workerStartTimeoutMs}});
    worker->lossCause = "start-timeout";
    worker->kill("no Hello within " + std::to_string(config_.workerStartTimeoutMs) + " ms");
  }
  for (WorkerProcess* worker : unhealthy) {
    logger_.warn(
        "worker unhealthy, replacing it",
        {{"worker", worker->id()}, {"pid", worker->pid()}, {"misses", worker->healthMisses}});
    worker->lossCause = "health";
    worker->kill("health check timed out");
  }
}

void WorkerPool::killOverdueDrains(Clock::time_point now) {
  // Retiring workers that outlive their drain deadline are killed; their requests get 502.
  if (host_.stage() == ServerStage::kEnding) return;
  auto drainDeadline = std::chrono::seconds(config_.drainTimeoutSec);
  std::vector<WorkerProcess*> overdue;
  for (auto& worker : workers_) {
    auto since = worker->stoppingSince();
    if (isAlive(*worker) && since && now - *since > drainDeadline) overdue.push_back(worker.get());
  }
  for (WorkerProcess* worker : overdue)
    worker->kill("drain deadline passed");
}

void WorkerPool::checkMemory() {
  uint64_t soft = uint64_t{config_.memoryThresholdMb} << 20;
  uint64_t hard = uint64_t{config_.effectiveHardThresholdMb()} << 20;
  std::vector<WorkerProcess*> overHard;
  std::vector<WorkerProcess*> overSoft;
  for (auto& worker : workers_) {
    if (!isAlive(*worker)) continue;
    // The supervisor's own reading: a worker's report about itself is not trusted.
    worker->rssBytes = readRssBytes(worker->pid());
    if (worker->rssBytes > hard) {
      overHard.push_back(worker.get());
    } else if (worker->rssBytes > soft && worker->accepting() && !worker->retiring()) {
      overSoft.push_back(worker.get());
    }
  }
  for (WorkerProcess* worker : overHard) {
    logger_.warn("worker over the hard memory threshold, killing it",
                 {{"worker", worker->id()},
                  {"pid", worker->pid()},
                  {"rss_mb", worker->rssBytes >> 20},
                  {"threshold_mb", config_.effectiveHardThresholdMb()}});
    worker->lossCause = "memory-hard";
    worker->kill("memory over the hard threshold");
  }
  auto now = Clock::now();
  for (WorkerProcess* worker : overSoft) {
    // A worker holding several apps first drops its idle isolates; it is recycled only if that
    // was not enough by the next check after kEvictGrace.
    bool evictedLately = worker->evictSentAt && now - *worker->evictSentAt < kEvictGrace;
    bool triedLately = worker->evictSentAt && now - *worker->evictSentAt < kEvictRetryAfter;
    if (worker->isolates.size() > 1 && !triedLately) {
      worker->evictSentAt = now;
      logger_.info("worker over its memory threshold, evicting idle isolates",
                   {{"worker", worker->id()},
                    {"rss_mb", worker->rssBytes >> 20},
                    {"isolates", worker->isolates.size()}});
      capnp::MallocMessageBuilder message;
      message.initRoot<ipc::Envelope>().initEvictIdle();
      worker->send(message);
    } else if (!evictedLately) {
      retire(*worker, "memory");
    }
  }
}

// ---- ending ----

bool WorkerPool::reaped(pid_t pid, int status) {
  WorkerProcess* worker = findByPid(pid);
  if (worker == nullptr) return false;
  worker->process().markReaped();
  std::string how = describeExitStatus(status);
  bool expected = worker->shutdownSent() && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  logger_.log(expected ? LogLevel::kInfo : LogLevel::kWarn, "worker exited",
              {{"worker", worker->id()}, {"pid", pid}, {"status", how}});
  // The process can end before its channel reports EOF; either way it is lost now.
  if (worker->state() != WorkerState::kLost) worker->kill("process " + how);
  droppedLogLinesOfExited_ += worker->droppedLogLines;
  if (host_.stage() != ServerStage::kEnding) {
    std::string why = worker->retiring()           ? worker->retireReason()
                      : !worker->lossCause.empty() ? worker->lossCause
                                                   : std::string("crash");
    SlotHistory& history = slots_[worker->slot];
    ++history.restarts;
    history.lastExitReason = why;
  }
  std::erase_if(workers_, [&](const auto& w) { return w.get() == worker; });
  return true;
}

void WorkerPool::stop(uint32_t deadlineMs) {
  logger_.info("stopping workers", {{"workers", count(isAlive)}});
  for (auto& worker : workers_)
    worker->shutdown(deadlineMs);
  stopTimer_.arm(deadlineMs);
}

void WorkerPool::killAll() {
  for (auto& worker : workers_)
    worker->process().signal(SIGKILL);
}

// ---- slots ----

uint32_t WorkerPool::freeSlot() const {
  for (uint32_t slot = 1;; ++slot) {
    bool taken = std::any_of(workers_.begin(), workers_.end(),
                             [&](const auto& w) { return w->slot == slot && isActive(*w); });
    if (!taken) return slot;
  }
}

const WorkerPool::SlotHistory* WorkerPool::slotHistory(uint32_t slot) const {
  auto it = slots_.find(slot);
  return it == slots_.end() ? nullptr : &it->second;
}

}  // namespace isolated::supervisor
