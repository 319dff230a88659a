// Supervisor: what operators see and do. Drain and resume, scaling, the status snapshot, the
// control-socket commands, metrics text and readiness.
#include "supervisor/supervisor.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>

#include "common/version.h"
#include "supervisor/apps/deploy_request.h"
#include "supervisor/status_json.h"

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
  minWorkers_ = std::min(minWorkers_, workers);
  maxWorkers_ = std::max(maxWorkers_, workers);
  uint32_t before = targetWorkers_;
  targetWorkers_ = workers;
  logger_.info("scaling", {{"from", before}, {"to", workers}});
  // Shrinking retires the newest serving workers beyond the target.
  size_t serving = countWorkers(isServing);
  for (auto it = workers_.rbegin(); it != workers_.rend() && serving > targetWorkers_; ++it) {
    if (isServing(**it)) {
      retire(**it, "scale-down");
      --serving;
    }
  }
  reconcilePool();
}

ServerStatus Supervisor::snapshot() const {
  auto now = Clock::now();
  ServerStatus status;
  status.version = kVersion;
  status.pid = getpid();
  status.uptimeSec = std::chrono::duration<double>(now - startedAt_).count();
  status.script = config_.scriptPath;
  status.config = config_.configPath;
  if (registry_) {
    status.registry = registry_->where();
    status.registryReachable = registry_->reachable();
    status.registryListening = registry_->listening();
  }
  status.metricsPerApp = config_.metricsPerApp;
  status.listen = listenAddress_;
  status.isolation = isolationModeName(config_.isolation);
  switch (phase_) {
    case Phase::kBooting:
      status.state = "starting";
      break;
    case Phase::kServing:
      status.state = degraded_ ? "degraded" : "serving";
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
  status.workers = static_cast<uint32_t>(countWorkers(isServing));
  status.target = targetWorkers_;
  status.minWorkers = minWorkers_;
  status.maxWorkers = maxWorkers_;
  status.requestsTotal = metrics_.total();
  status.responses = metrics_.byClass();
  status.inFlight = requests_.inFlightCount();
  status.queued = queue_.size();
  for (const char* reason : kRestartReasons)
    status.restarts[reason] = 0;
  for (const auto& [reason, count] : restarts_)
    status.restarts[reason] = count;
  status.limitTerminations = metrics_.limits();
  status.droppedLogLines = droppedLogLinesOfExited_ + logger_.droppedLines();
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
  for (const auto& w : workers_) {
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
    if (auto it = slots_.find(w->slot); it != slots_.end()) {
      row.restarts = it->second.restarts;
      row.lastExitReason = it->second.lastExitReason;
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
      for (const auto& w : workers_) {
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

std::optional<nlohmann::json> Supervisor::handleControl(const nlohmann::json& request,
                                                        const ControlResponder& respond) {
  const std::string cmd = request["cmd"].get<std::string>();
  auto fail = [](const std::string& error) {
    return nlohmann::json{{"ok", false}, {"error", error}};
  };
  auto done = [](const std::string& message) {
    return nlohmann::json{{"ok", true}, {"message", message}};
  };
  auto number = [&](const char* key) -> std::optional<uint64_t> {
    if (!request.contains(key) || !request[key].is_number_unsigned()) return std::nullopt;
    return request[key].get<uint64_t>();
  };
  auto text = [&](const char* key) -> std::string {
    return request.contains(key) && request[key].is_string() ? request[key].get<std::string>()
                                                             : std::string();
  };
  if (cmd == "status") return nlohmann::json{{"ok", true}, {"status", toJson(snapshot())}};
  if (cmd == "workers") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& w : snapshot().workerList)
      rows.push_back(toJson(w));
    return nlohmann::json{{"ok", true}, {"workers", rows}};
  }
  if (cmd == "apps") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& app : snapshot().apps)
      rows.push_back(toJson(app));
    return nlohmann::json{{"ok", true}, {"apps", rows}};
  }
  if (cmd == "metrics") return nlohmann::json{{"ok", true}, {"text", metricsText()}};
  if (cmd == "reload") {
    size_t workers = countWorkers(isActive);
    std::string why;
    if (!beginReload(&why)) return fail("cannot reload now: " + why);
    if (!config_.configPath.empty()) {
      return done("re-read " + config_.configPath + "; changed apps are deploying" +
                  (why.empty() ? "" : " (" + why + ", see the log)"));
    }
    return done("reloading " + std::to_string(workers) + " workers one at a time");
  }
  if (cmd == "deploy") return deployCommand(request, respond);
  if (cmd == "undeploy") {
    std::string name = text("name");
    if (name.empty()) return fail("undeploy needs \"name\": an app name (see `isolated ctl apps`)");
    bool save = request.contains("save") && request["save"] == true;
    if (save) return undeployCommand(name, true);
    if (registry_) {
      // Undeploying while a version is being written would leave the registry holding it.
      const App* app = apps_.find(name);
      if (app != nullptr && app->candidate && publishing_.contains(app->candidate->id)) {
        return fail("undeploy: a version of '" + name +
                    "' is being written to the registry; try again once its deploy has answered");
      }
      if (registry_->holds(name)) return registryUndeploy(name, respond);
    }
    return undeployCommand(name, false);
  }
  if (cmd == "restart") {
    auto id = number("id");
    if (!id) return fail("restart needs \"id\": a worker id (see `isolated ctl workers`)");
    if (!recycleWorker(static_cast<uint32_t>(*id), "manual")) {
      return fail("no serving worker with id " + std::to_string(*id));
    }
    return done("recycling worker " + std::to_string(*id));
  }
  if (cmd == "drain") {
    auto message = pause();
    return message ? done(*message) : fail("cannot drain: the server is not serving");
  }
  if (cmd == "resume") {
    auto message = resume();
    return message ? done(*message)
                   : fail("cannot resume: not drained by `drain`, or the address is taken");
  }
  if (cmd == "scale") {
    auto n = number("workers");
    if (!n || *n < 1 || *n > 256) return fail("scale needs \"workers\": a number from 1 to 256");
    if (phase_ != Phase::kServing) return fail("cannot scale: the server is not serving");
    scale(static_cast<uint32_t>(*n));
    return done("scaling to " + std::to_string(*n) + " workers");
  }
  if (cmd == "trigger-cron") {
    std::string appName = text("app");
    App* app = appName.empty() ? singleApp() : apps_.find(appName);
    if (app == nullptr) {
      return fail(appName.empty() ? "trigger-cron needs \"app\": the server has several apps"
                                  : "trigger-cron: no app named '" + appName + "'");
    }
    std::vector<std::string> expressions;
    if (std::string cron = text("cron"); !cron.empty()) {
      expressions.push_back(cron);
    } else {
      for (const auto& entry : app->crons)
        expressions.push_back(entry.schedule.expression());
    }
    if (expressions.empty()) {
      return fail("trigger-cron needs \"cron\": no --cron schedule is configured");
    }
    for (const auto& expression : expressions) {
      if (auto error = triggerScheduled(app->config.name, expression)) {
        return fail("trigger-cron: " + *error);
      }
    }
    return done("triggered the scheduled handler for " +
                (expressions.size() == 1 ? "'" + expressions.front() + "'"
                                         : std::to_string(expressions.size()) + " schedules") +
                "; its outcome is logged");
  }
  return fail("unknown command '" + cmd +
              "': expected status, workers, apps, metrics, reload, deploy, undeploy, restart, "
              "drain, resume, scale or trigger-cron");
}

std::optional<nlohmann::json> Supervisor::deployCommand(const nlohmann::json& request,
                                                        const ControlResponder& respond) {
  auto fail = [](const std::string& error) {
    return nlohmann::json{{"ok", false}, {"error", error}};
  };
  const App* existing = request.contains("name") && request["name"].is_string()
                            ? apps_.find(request["name"].get<std::string>())
                            : nullptr;
  auto parsed = deployRequestConfig(request, existing != nullptr ? &existing->config : nullptr,
                                    [this](const std::string& name) {
                                      const App* app = apps_.find(name);
                                      return app != nullptr && !app->removed;
                                    });
  if (auto* error = std::get_if<std::string>(&parsed)) return fail(*error);
  AppConfig app = std::move(std::get<AppConfig>(parsed));
  if (::access(app.scriptPath.c_str(), R_OK) != 0) {
    return fail("deploy: cannot read " + app.scriptPath + ": " + std::strerror(errno));
  }
  std::string name = app.name;
  bool save = request.contains("save") && request["save"] == true;
  if (save) {
    if (auto refused = refuseSave(name)) return fail(*refused + "; nothing was deployed");
  }
  bool runtimeOnly = !config_.configPath.empty() && !registry_;
  std::string registryWhere = registry_ ? registry_->where() : std::string();
  auto error = deploy(
      std::move(app), [this, respond, name, save, runtimeOnly, registryWhere,
                       path = config_.configPath](const std::optional<std::string>& failure) {
        if (failure) {
          respond({{"ok", false}, {"error", "deploy of '" + name + "' refused: " + *failure}});
          return;
        }
        std::string message = "deployed '" + name + "'";
        if (save) {
          // The version serves: only now is it written (a refused deploy writes nothing).
          auto saved = saveDeployed(name);
          if (auto* refusal = std::get_if<nlohmann::json>(&saved)) return respond(*refusal);
          message += std::get<std::string>(saved);
        } else if (runtimeOnly) {
          message += "; runtime only (not saved; use --save): " + path + " is unchanged";
        }
        if (!registryWhere.empty()) {
          message += "; written to the registry at " + registryWhere +
                     ": every server sharing it applies it";
        }
        respond({{"ok", true}, {"message", message}});
      });
  if (error) return fail("deploy: " + *error);
  // With a registry, the version is written there once it has loaded, before it serves.
  if (registry_) markForRegistry(name);
  return std::nullopt;
}

std::string Supervisor::metricsText() {
  return metrics_.render(snapshot());
}

bool Supervisor::ready() {
  return phase_ == Phase::kServing && countWorkers(isServing) > 0;
}

}  // namespace isolated::supervisor
