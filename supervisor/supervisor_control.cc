// Supervisor: what operators see and do (OperatorActions). Drain and resume, scaling, the
// status snapshot, SIGHUP's reload, metrics text and readiness. The control socket's commands
// that reach these are ControlCommands' (supervisor/control_commands.h).
#include "supervisor/supervisor.h"

#include <algorithm>

#include "common/version.h"

namespace isolated::supervisor {

namespace {

// Every reason a worker is replaced for, reported even while zero.
constexpr const char* kRestartReasons[] = {"crash",        "memory", "memory-hard", "health",
                                           "max-requests", "reload", "scale-down",  "manual"};

}  // namespace

// ---- operator actions ----

std::optional<std::string> Supervisor::pause() {
  if (phase_ != Phase::kServing) return std::nullopt;
  phase_ = Phase::kPaused;
  front_->stopListening();
  logger_.info("paused: listener closed, finishing requests in flight",
               {{"in_flight", requests_.inFlightCount()}, {"queued", queue_.size()}});
  return "draining: the listener is closed; " +
         std::to_string(requests_.inFlightCount() + queue_.size()) + " requests still in flight";
}

std::optional<std::string> Supervisor::resume() {
  if (phase_ != Phase::kPaused) return std::nullopt;
  try {
    front_->listen(config_.listenHost, port_);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  phase_ = Phase::kServing;
  logger_.info("resumed", {{"address", listenAddress_}});
  return "serving on " + listenAddress_;
}

void Supervisor::scale(uint32_t workers) {
  pool_.scale(workers);
}

ServerStatus Supervisor::snapshot() const {
  auto now = Clock::now();
  ServerStatus status;
  status.version = kVersion;
  status.pid = getpid();
  status.uptimeSec = std::chrono::duration<double>(now - startedAt_).count();
  status.script = config_.scriptPath;
  status.config = config_.configPath;
  if (const registry::RegistrySync* registry = lifecycle_->registry()) {
    status.registry = registry->where();
    status.registryReachable = registry->reachable();
    status.registryListening = registry->listening();
  }
  status.metricsPerApp = config_.metricsPerApp;
  status.listen = listenAddress_;
  status.isolation = isolationModeName(config_.isolation);
  switch (phase_) {
    case Phase::kBooting:
      status.state = "starting";
      break;
    case Phase::kServing:
      status.state = pool_.degraded() ? "degraded" : "serving";
      break;
    case Phase::kPaused:
    case Phase::kDraining:
      status.state = "draining";
      break;
    case Phase::kStopping:
    case Phase::kStopped:
      status.state = "stopping";
      break;
  }
  status.workers = static_cast<uint32_t>(pool_.count(isServing));
  status.target = pool_.target();
  status.minWorkers = pool_.minWorkers();
  status.maxWorkers = pool_.maxWorkers();
  status.requestsTotal = metrics_.total();
  status.responses = metrics_.byClass();
  status.inFlight = requests_.inFlightCount();
  status.queued = queue_.size();
  for (const char* reason : kRestartReasons)
    status.restarts[reason] = 0;
  for (const auto& [reason, count] : pool_.restarts())
    status.restarts[reason] = count;
  status.limitTerminations = metrics_.limits();
  status.droppedLogLines = pool_.droppedLogLinesOfExited() + logger_.droppedLines();
  status.fetchesInFlight = fetch_->activeCount();
  front::FrontStats front = front_->stats();
  status.ioThreads = front.ioThreads;
  status.connectionsOpen = front.openConnections;
  status.connectionsAccepted = front.acceptedConnections;
  status.requestRecords = {{"recent", requests_.recentCount()},
                           {"lingering", requests_.lingeringCount()},
                           {"subrequests", requests_.subrequestCount()}};
  for (const char* outcome : {"completed", "failed", "denied", "refused", "cancelled", "aborted"})
    status.fetches[outcome] = 0;
  for (const auto& [outcome, count] : fetch_->outcomes())
    status.fetches[outcome] = count;
  for (const auto& w : pool_.workers()) {
    status.droppedLogLines += w->droppedLogLines;
    WorkerStatus row;
    row.id = w->id();
    row.slot = w->slot;
    row.pid = w->pid();
    row.uptimeSec = std::chrono::duration<double>(now - w->spawnedAt()).count();
    row.requestsServed = w->requestsServed;
    row.inFlight = w->outstandingCount();
    row.capacity = workerCapacity();
    row.rssBytes = w->rssBytes;
    row.heapUsedBytes = w->heapUsedBytes;
    row.heapLimitBytes = w->heapLimitBytes;
    row.eventLoopLagMs = w->eventLoopLagMs;
    row.cpuLimitTerminations = w->cpuLimitTerminations;
    row.memoryLimitTerminations = w->memoryLimitTerminations;
    row.retiring = w->retireReason();
    row.isolates = static_cast<uint32_t>(w->isolates.size());
    row.apps = static_cast<uint32_t>(w->defined.size());
    row.background = w->background;
    if (const WorkerPool::SlotHistory* history = pool_.slotHistory(w->slot)) {
      row.restarts = history->restarts;
      row.lastExitReason = history->lastExitReason;
    }
    bool late = w->pingOutstandingSince() && now - *w->pingOutstandingSince() >
                                                 std::chrono::milliseconds(config_.healthTimeoutMs);
    if (!w->probeOk) {
      row.health = "probe-failed";
    } else if (late || w->healthMisses > 0) {
      row.health = "late";
    } else if (w->heapLimitBytes == 0) {
      row.health = "pending";
    } else {
      row.health = "ok";
    }
    switch (w->state()) {
      case WorkerState::kStarting:
        row.state = "starting";
        break;
      case WorkerState::kReady:
        row.state = w->retiring() ? "draining" : (w->healthMisses > 0 ? "unhealthy" : "ready");
        break;
      case WorkerState::kStopping:
        row.state = "draining";
        break;
      case WorkerState::kLost:
        row.state = "lost";
        break;
    }
    status.workerList.push_back(std::move(row));
  }
  for (const auto& [name, app] : apps_.apps()) {
    AppStatus row;
    row.name = name;
    const Deployment* shown = app->live ? app->live.get() : app->candidate.get();
    row.state = app->live ? (app->candidate ? "deploying" : "serving")
                          : (app->candidate ? "loading" : "failed");
    if (shown != nullptr) {
      row.version = shown->version;
      row.script = shown->scriptPath;
      row.isolation = isolationModeName(shown->isolation);
    }
    row.routes = app->config.routes;
    if (app->live) {
      for (const auto& w : pool_.workers()) {
        if (w->isolates.contains(app->live->id)) row.workers.push_back(w->id());
      }
    }
    const AppCounters& c = app->counters;
    row.requests = c.requests;
    for (size_t cls = 1; cls <= 5; ++cls)
      row.responses[std::to_string(cls) + "xx"] = c.classes[cls];
    row.errors5xx = c.classes[5];
    row.inFlight = app->inFlight;
    row.queued = app->queue.size();
    row.coldStarts = c.coldStarts;
    row.evictions = c.evictions;
    row.loadFailures = c.loadFailures;
    row.limitTerminations = c.limitTerminations;
    row.cpuSeconds = static_cast<double>(c.cpuMicros) / 1e6;
    row.p50Ms = c.latency.quantile(0.5) * 1000;
    row.p99Ms = c.latency.quantile(0.99) * 1000;
    row.maxConcurrent = app->config.maxConcurrent;
    row.lastError = app->lastError;
    row.latency = &c.latency;
    status.apps.push_back(std::move(row));
  }
  return status;
}

bool Supervisor::beginReload(std::string* why) {
  auto refuse = [&](const std::string& reason) {
    logger_.warn("reload ignored", {{"reason", reason}});
    if (why != nullptr) *why = reason;
    return false;
  };
  if (phase_ != Phase::kServing) return refuse("the server is not serving");
  if (!config_.configPath.empty()) {
    if (!readConfig_) return refuse("the config file cannot be re-read");
    auto next = readConfig_();
    if (auto* error = std::get_if<std::string>(&next)) {
      logger_.error("reload refused: the config file does not load; the apps keep serving",
                    {{"error", *error}});
      if (why != nullptr) *why = "the config file does not load: " + *error;
      return false;
    }
    const ServeConfig& config = std::get<ServeConfig>(next);
    deployCommands_->configRead(config.configText);
    lifecycle_->applyConfig(config, why);
    return true;
  }
  if (!config_.registryUrl.empty()) {
    return refuse("the apps come from the registry (docs/registry.md): no config file to re-read");
  }
  return lifecycle_->reloadSingle(why);
}

std::string Supervisor::metricsText() {
  return metrics_.render(snapshot());
}

bool Supervisor::ready() {
  return phase_ == Phase::kServing && pool_.count(isServing) > 0;
}

}  // namespace isolated::supervisor
