// Supervisor: what operators see and do. Drain and resume, scaling, the status snapshot, the
// control-socket commands, metrics text and readiness.
#include "supervisor/supervisor.h"

#include <unistd.h>

#include <algorithm>

#include "common/version.h"
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
  listener_.stopAccepting();
  logger_.info("paused: listener closed, finishing requests in flight",
               {{"in_flight", inFlight_.size()}, {"queued", queue_.size()}});
  return "draining: the listener is closed; " + std::to_string(inFlight_.size() + queue_.size()) +
         " requests still in flight";
}

std::optional<std::string> Supervisor::resume() {
  if (phase_ != Phase::kPaused) return std::nullopt;
  if (!listener_.resumeAccepting()) return std::nullopt;
  phase_ = Phase::kServing;
  logger_.info("resumed", {{"address", listener_.address()}});
  return "serving on " + listener_.address();
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
  status.listen = listener_.address();
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
  status.inFlight = inFlight_.size();
  status.queued = queue_.size();
  for (const char* reason : kRestartReasons)
    status.restarts[reason] = 0;
  for (const auto& [reason, count] : restarts_)
    status.restarts[reason] = count;
  status.limitTerminations = metrics_.limits();
  status.droppedLogLines = droppedLogLinesOfExited_ + logger_.droppedLines();
  status.fetchesInFlight = fetch_->activeCount();
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
  return status;
}

nlohmann::json Supervisor::handleControl(const nlohmann::json& request) {
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
  if (cmd == "status") return {{"ok", true}, {"status", toJson(snapshot())}};
  if (cmd == "workers") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& w : snapshot().workerList)
      rows.push_back(toJson(w));
    return {{"ok", true}, {"workers", rows}};
  }
  if (cmd == "metrics") return {{"ok", true}, {"text", metricsText()}};
  if (cmd == "reload") {
    size_t workers = countWorkers(isActive);
    std::string why;
    if (!beginReload(&why)) return fail("cannot reload now: " + why);
    return done("reloading " + std::to_string(workers) + " workers one at a time");
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
    std::vector<std::string> expressions;
    if (request.contains("cron") && request["cron"].is_string() &&
        !request["cron"].get<std::string>().empty()) {
      expressions.push_back(request["cron"].get<std::string>());
    } else {
      for (const auto& entry : crons_)
        expressions.push_back(entry.schedule.expression());
    }
    if (expressions.empty()) {
      return fail("trigger-cron needs \"cron\": no --cron schedule is configured");
    }
    for (const auto& expression : expressions) {
      if (auto error = triggerScheduled(expression)) return fail("trigger-cron: " + *error);
    }
    return done("triggered the scheduled handler for " +
                (expressions.size() == 1 ? "'" + expressions.front() + "'"
                                         : std::to_string(expressions.size()) + " schedules") +
                "; its outcome is logged");
  }
  return fail("unknown command '" + cmd +
              "': expected status, workers, metrics, reload, restart, drain, resume, scale or "
              "trigger-cron");
}

std::string Supervisor::metricsText() {
  return metrics_.render(snapshot());
}

bool Supervisor::ready() {
  return phase_ == Phase::kServing && countWorkers(isServing) > 0;
}

}  // namespace isolated::supervisor
