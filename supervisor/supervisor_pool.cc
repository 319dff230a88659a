// Supervisor: the worker pool. Spawning with restart backoff, keeping the pool at its target,
// recycling (replacement ready first), worker events, rolling reload, health and memory
// checks, autoscaling and slot history.
#include "supervisor/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
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

LogLevel toLogLevel(ipc::Log::Level level) {
  switch (level) {
    case ipc::Log::Level::DEBUG:
      return LogLevel::kDebug;
    case ipc::Log::Level::INFO:
      return LogLevel::kInfo;
    case ipc::Log::Level::WARN:
      return LogLevel::kWarn;
    case ipc::Log::Level::ERROR:
      return LogLevel::kError;
  }
  return LogLevel::kInfo;
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

// ---- worker pool ----

size_t Supervisor::countWorkers(bool (*predicate)(const WorkerProcess&)) const {
  return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(),
                                           [&](const auto& w) { return predicate(*w); }));
}

void Supervisor::spawnWorker() {
  uint32_t id = nextWorkerId_++;
  try {
    auto worker = std::make_unique<WorkerProcess>(id, base_, workerCommand_, ipc::FrameLimits{},
                                                  *this, &config_.workerSandbox);
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
    if (phase_ == Phase::kBooting) return failBoot(e.what());
    // Out of descriptors or processes for now (EMFILE, EAGAIN): a failed spawn is an early
    // failure, and the worker is tried again after the backoff delay, so the pool refills once
    // the resource frees (issue 12, defect 1).
    backoff_.recordEarlyFailure(clock_.now());
    scheduleSpawn();
  }
}

void Supervisor::scheduleSpawn() {
  // Workers keep failing right after start: wait (restart_backoff.h).
  logger_.warn("worker restart backed off", {{"delay_ms", backoff_.delay().count()},
                                             {"consecutive_failures", backoff_.failures()}});
  spawnTimer_.schedule(backoff_.schedule(clock_.now()));
}

void Supervisor::onSpawnDue() {
  // Only the spawns due now: one scheduled from here (a spawn that failed again) waits its turn.
  size_t due = backoff_.takeDue(clock_.now());
  for (; due > 0; --due) {
    if (phase_ == Phase::kStopping || phase_ == Phase::kStopped) break;
    if (countWorkers(isActive) + backoff_.waiting() < targetWorkers_) spawnWorker();
  }
  if (auto next = backoff_.nextDue()) spawnTimer_.schedule(*next);
}

void Supervisor::cancelBackoff() {
  backoff_.cancelWaiting();
  spawnTimer_.cancel();
}

void Supervisor::reconcilePool() {
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped) return;

  // A retiring worker drains once enough serving workers stand in for it.
  size_t serving = countWorkers(isServing);
  for (auto& worker : workers_) {
    if (worker->accepting() && worker->retiring() && serving >= targetWorkers_) {
      logger_.info("worker draining", {{"worker", worker->id()},
                                       {"pid", worker->pid()},
                                       {"reason", worker->retireReason()},
                                       {"in_flight", worker->outstandingCount()}});
      worker->shutdown(config_.drainTimeoutSec * 1000);
    }
  }

  size_t active = countWorkers(isActive) + backoff_.waiting();
  for (; active < targetWorkers_; ++active) {
    if (backoff_.failures() == 0) {
      spawnWorker();
      if (phase_ != Phase::kBooting && phase_ != Phase::kServing && phase_ != Phase::kDraining) {
        return;
      }
      continue;
    }
    scheduleSpawn();
  }
}

void Supervisor::retire(WorkerProcess& worker, const std::string& reason) {
  if (worker.retiring() || !isAlive(worker)) return;
  worker.markRetiring(reason);
  ++restarts_[reason];
  logger_.info("recycling worker", {{"worker", worker.id()},
                                    {"pid", worker.pid()},
                                    {"reason", reason},
                                    {"rss_mb", worker.rssBytes >> 20},
                                    {"requests_served", worker.requestsServed}});
  reconcilePool();
}

bool Supervisor::recycleWorker(uint32_t id, const std::string& reason) {
  for (auto& worker : workers_) {
    if (worker->id() == id && worker->accepting() && !worker->retiring()) {
      retire(*worker, reason);
      return true;
    }
  }
  return false;
}

WorkerProcess* Supervisor::findWorkerByPid(pid_t pid) {
  for (auto& w : workers_) {
    if (w->pid() == pid) return w.get();
  }
  return nullptr;
}

void Supervisor::updateDegraded() {
  if (phase_ != Phase::kServing) return;
  size_t serving = countWorkers(isServing);
  bool degraded = serving < targetWorkers_ && (backoff_.failures() > 0 || serving == 0);
  if (degraded && !degraded_) {
    logger_.warn("pool degraded", {{"serving", serving},
                                   {"target", targetWorkers_},
                                   {"consecutive_failures", backoff_.failures()}});
  } else if (!degraded && degraded_) {
    logger_.info("pool restored", {{"serving", serving}, {"target", targetWorkers_}});
  }
  degraded_ = degraded;
}

void Supervisor::onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) {
  worker.rssBytes = readRssBytes(worker.pid());
  logger_.info("worker ready", {{"worker", worker.id()},
                                {"pid", worker.pid()},
                                {"load_ms", hello.getStartupMs()},
                                {"spawn_to_ready_ms", millisSince(worker.spawnedAt())}});
  // Validations and preloads first: requests sent after them wait behind them in the worker.
  // At boot every app loads on its own home worker, so validation waits for the whole pool
  // (otherwise the first worker to say Hello would load every app).
  lifecycle_->onWorkerReady(worker.id(),
                            phase_ != Phase::kBooting || countWorkers(isServing) >= targetWorkers_);
  maybeFinishBoot();
  // Drain the worker this one replaces before marking the next one of a reload, so that a
  // rolling reload holds at most one extra worker.
  reconcilePool();
  if (worker.generation == generation_) continueReload();
  pumpQueue();
  updateDegraded();
}

void Supervisor::maybeFinishBoot() {
  if (phase_ != Phase::kBooting || countWorkers(isServing) < targetWorkers_ ||
      lifecycle_->validationsPending()) {
    return;
  }
  phase_ = Phase::kServing;
  logger_.info("ready", {{"workers", countWorkers(isServing)},
                         {"apps", apps_.apps().size()},
                         {"startup_ms", millisSince(startedAt_)}});
  notifier_.ready("serving with " + std::to_string(countWorkers(isServing)) + " workers");
  watch_->refresh();
}

void Supervisor::onWorkerLost(WorkerProcess& worker, const std::string& reason) {
  size_t failed = 0;
  for (uint64_t id : worker.outstanding()) {
    PendingRequest* request = requests_.find(id);
    if (request == nullptr) continue;
    replyError(*request, 502, "worker-lost",
               "Bad Gateway: the worker handling this request exited");
    // The worker's accounting is cleared whole below, and the queue pumped once.
    finishRequest(id, requests::RequestEnding::workerLost());
    ++failed;
  }
  worker.outstanding().clear();
  worker.appOutstanding.clear();
  worker.noisyOutstanding = 0;
  worker.isolates.clear();
  // A deploy being validated on this worker starts again on another.
  lifecycle_->onWorkerLost(worker.id());
  fetch_->dropWorker(worker.id());
  services_.drop(worker.id(), 0, "the worker that made it is gone");
  requests_.forgetWorker(worker.id());
  // A worker told to shut down closes its channel as it exits; any other loss means the process
  // must go now. Either way it is reaped (and the object freed) on SIGCHLD.
  bool expected = worker.shutdownSent();
  if (!expected) worker.process().signal(SIGKILL);
  logger_.log(expected ? LogLevel::kDebug : LogLevel::kWarn, "worker lost",
              {{"worker", worker.id()},
               {"pid", worker.pid()},
               {"reason", reason},
               {"failed_requests", failed}});

  if (phase_ == Phase::kBooting && !worker.shutdownSent() && worker.lossCause.empty()) {
    return failBoot("worker " + std::to_string(worker.id()) +
                    " exited before it was ready: " + reason);
  }
  if (!expected) {
    std::string cause = worker.lossCause.empty() ? "crash" : worker.lossCause;
    if (cause != "reload-refused") {
      ++restarts_[cause];
      if (diedEarly(worker)) {
        backoff_.recordEarlyFailure(clock_.now());
      } else if (backoff_.reset()) {
        // A worker that had served was lost: a fresh failure count, and the spawns still
        // waiting out a backoff go now, so that the pool is never left empty by the delay.
        spawnTimer_.cancel();
      }
    }
  }
  reconcilePool();
  pumpQueue();
  checkDrained();
  finishIfStopped();
  updateDegraded();
}

void Supervisor::onWorkerLog(WorkerProcess& worker, ipc::Log::Reader log) {
  LogLevel level = toLogLevel(log.getLevel());
  if (!logger_.enabled(level)) return;
  const App* app = log.getApp() != 0 ? apps_.appOf(log.getApp()) : nullptr;
  std::string appName = app != nullptr ? app->config.name : std::string();
  if (log.getRequestId() != 0) {
    // After its answer, a request's waitUntil() work may still log.
    std::string requestId(requests_.requestIdOf(log.getRequestId()));
    logger_.log(level, log.getMessage().cStr(),
                {{"worker", worker.id()},
                 {"pid", worker.pid()},
                 {"app", appName},
                 {"request", log.getRequestId()},
                 {"request_id", requestId}});
  } else if (app != nullptr) {
    logger_.log(level, log.getMessage().cStr(),
                {{"worker", worker.id()}, {"pid", worker.pid()}, {"app", appName}});
  } else {
    logger_.log(level, log.getMessage().cStr(), {{"worker", worker.id()}, {"pid", worker.pid()}});
  }
}

void Supervisor::onWorkerPong(WorkerProcess& worker, ipc::Pong::Reader pong) {
  worker.heapUsedBytes = pong.getHeapUsedBytes();
  worker.heapLimitBytes = pong.getHeapLimitBytes();
  worker.eventLoopLagMs = pong.getEventLoopLagMs();
  worker.probeOk = pong.getProbeOk();
  worker.cpuLimitTerminations = pong.getCpuLimitTerminations();
  worker.memoryLimitTerminations = pong.getMemoryLimitTerminations();
  worker.droppedLogLines = pong.getDroppedLogLines();
  worker.isolatesLoaded = pong.getIsolatesLoaded();
  for (auto usage : pong.getApps()) {
    if (App* app = apps_.appOf(usage.getApp())) {
      app->counters.cpuMicros += usage.getCpuMicros();
      app->counters.limitTerminations +=
          usage.getCpuLimitTerminations() + usage.getMemoryLimitTerminations();
    }
  }
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

void Supervisor::sendConfigure(WorkerProcess& worker) {
  capnp::MallocMessageBuilder message;
  auto configure = message.initRoot<ipc::Envelope>().initConfigure();
  configure.setProtocolVersion(ipc::kProtocolVersion);
  configure.setMaxIsolates(config_.maxIsolates);
  configure.setIsolateIdleTimeoutMs(config_.isolateIdleTimeoutSec * 1000);
  configure.setWaitUntilTimeoutMs(config_.waitUntilTimeoutSec * 1000);
  worker.send(message);
}

// ---- reload ----

void Supervisor::restartWorkers() {
  ++generation_;
  reloadActive_ = true;
  reloadQueue_.clear();
  for (auto& worker : workers_) {
    if (isActive(*worker)) reloadQueue_.push_back(worker->id());
  }
  continueReload();
}

void Supervisor::onScriptSnapshotDone() {
  if (phase_ == Phase::kBooting) {
    lifecycle_->createBootDeployments();
    reconcilePool();
  } else {
    lifecycle_->onSnapshotDone();
  }
}

void Supervisor::continueReload() {
  if (!reloadActive_ || (snapshotter_ && snapshotter_->busy())) return;
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
    logger_.info("reload complete", {{"workers", countWorkers(isServing)}});
  }
}

// ---- health, memory, scaling ----

void Supervisor::checkHealth(Clock::time_point now) {
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

void Supervisor::checkMemory() {
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

void Supervisor::autoscale() {
  if (phase_ != Phase::kServing || reloadActive_ || minWorkers_ == maxWorkers_) return;
  size_t serving = countWorkers(isServing);
  size_t demand = queue_.size();
  for (const auto& worker : workers_)
    demand += worker->outstandingCount();
  double load = static_cast<double>(demand) / static_cast<double>(std::max<size_t>(1, serving));
  busySeconds_ = (load >= kScaleUpLoad || queue_.size() > 0) ? busySeconds_ + 1 : 0;
  idleSeconds_ = load < kScaleDownLoad ? idleSeconds_ + 1 : 0;
  if (busySeconds_ >= config_.scaleUpAfterSec && targetWorkers_ < maxWorkers_) {
    busySeconds_ = 0;
    ++targetWorkers_;
    logger_.info("scaling up", {{"target", targetWorkers_}, {"load", load}});
    reconcilePool();
  } else if (idleSeconds_ >= config_.scaleDownAfterSec && targetWorkers_ > minWorkers_) {
    idleSeconds_ = 0;
    --targetWorkers_;
    logger_.info("scaling down", {{"target", targetWorkers_}, {"load", load}});
    // The newest serving worker goes: older ones have warm caches.
    for (auto it = workers_.rbegin(); it != workers_.rend(); ++it) {
      if (isServing(**it)) {
        retire(**it, "scale-down");
        break;
      }
    }
  }
}

// ---- slots ----

uint32_t Supervisor::freeSlot() const {
  for (uint32_t slot = 1;; ++slot) {
    bool taken = std::any_of(workers_.begin(), workers_.end(),
                             [&](const auto& w) { return w->slot == slot && isActive(*w); });
    if (!taken) return slot;
  }
}

void Supervisor::recordExit(const WorkerProcess& worker, const std::string& reason) {
  SlotHistory& history = slots_[worker.slot];
  ++history.restarts;
  history.lastExitReason = reason;
}

}  // namespace isolated::supervisor
