// Supervisor: what the server does when a worker speaks or goes (Hello, Log, Pong, loss), and
// the LifecycleHost calls that restart the workers. The pool itself (spawning, recycling,
// health, memory, scaling, the rolling reload) is a WorkerPool's (supervisor/pool/worker_pool.h).
#include "supervisor/supervisor.h"

#include <signal.h>

#include <chrono>

namespace isolated::supervisor {

namespace {

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

}  // namespace

bool Supervisor::recycleWorker(uint32_t id, const std::string& reason) {
  return pool_.recycle(id, reason);
}

void Supervisor::onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) {
  pool_.noteReady(worker, hello);
  // Validations and preloads first: requests sent after them wait behind them in the worker.
  // At boot every app loads on its own home worker, so validation waits for the whole pool
  // (otherwise the first worker to say Hello would load every app).
  lifecycle_->onWorkerReady(worker.id(),
                            phase_ != Phase::kBooting || pool_.count(isServing) >= pool_.target());
  maybeFinishBoot();
  pool_.settleAfterReady(worker);
  pumpQueue();
  pool_.updateDegraded();
}

void Supervisor::maybeFinishBoot() {
  if (phase_ != Phase::kBooting || pool_.count(isServing) < pool_.target() ||
      lifecycle_->validationsPending()) {
    return;
  }
  phase_ = Phase::kServing;
  logger_.info("ready",
               {{"workers", pool_.count(isServing)},
                {"apps", apps_.apps().size()},
                {"startup_ms",
                 std::chrono::duration<double, std::milli>(Clock::now() - startedAt_).count()}});
  notifier_.ready("serving with " + std::to_string(pool_.count(isServing)) + " workers");
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
  pool_.noteLoss(worker);
  pool_.reconcile();
  pumpQueue();
  checkDrained();
  finishIfStopped();
  pool_.updateDegraded();
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
  for (auto usage : pong.getApps()) {
    if (App* app = apps_.appOf(usage.getApp())) {
      app->counters.cpuMicros += usage.getCpuMicros();
      app->counters.limitTerminations +=
          usage.getCpuLimitTerminations() + usage.getMemoryLimitTerminations();
    }
  }
  pool_.notePong(worker, pong);
}

// ---- reload ----

void Supervisor::restartWorkers() {
  pool_.restartAll();
}

void Supervisor::onScriptSnapshotDone() {
  if (phase_ == Phase::kBooting) {
    lifecycle_->createBootDeployments();
    pool_.reconcile();
  } else {
    lifecycle_->onSnapshotDone();
  }
}

}  // namespace isolated::supervisor
