// Supervisor: construction, the run loop, signals, reaping, housekeeping and the shutdown
// sequence. The pool's events, requests and operator actions live in supervisor_pool.cc,
// supervisor_requests.cc and supervisor_control.cc; the pool itself is a WorkerPool's.
#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>

#include "common/syscall.h"
#include "supervisor/descriptor_budget.h"
#include "supervisor/socket_address.h"

namespace isolated::supervisor {

namespace {

constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);

// Ten housekeeping ticks: memory is read from /proc and autoscaling is evaluated once a second.
constexpr uint64_t kTicksPerSecond = 10;

// How long workers get to exit after Shutdown at the end of a drain before they are killed.
constexpr uint32_t kWorkerStopDeadlineMs = 5000;

// A fetch's total timeout is the wall limit plus this.
constexpr auto kFetchTimeoutMargin = std::chrono::seconds(1);

}  // namespace

std::vector<std::string> Supervisor::workerArguments(std::vector<std::string> command,
                                                     const ServeConfig& config) {
  command.insert(command.end(),
                 {"--log-level", std::string(logLevelName(config.logLevel)), "--log-format",
                  config.logFormat == LogFormat::kJson ? "json" : "text"});
  if (!config.builtinsSnapshot) command.push_back("--no-builtins-snapshot");
  if (config.sharedIsolate) command.push_back("--shared-isolate");
  return command;
}

Supervisor::Supervisor(event_base* base, const ServeConfig& config,
                       std::vector<std::string> workerCommand, Logger& logger,
                       std::vector<std::string> snapshotCommand, ConfigReader readConfig)
    : base_(base),
      config_(config),
      logger_(logger),
      libeventLog_(logger),
      dispatcher_(base),
      readConfig_(std::move(readConfig)),
      random_(std::random_device{}()),
      startedAt_(Clock::now()),
      pool_(base, dispatcher_, clock_, config, workerArguments(std::move(workerCommand), config),
            logger, *this, *this) {
  if (config.apps.empty() && config.registryUrl.empty()) {
    throw std::runtime_error("no app to serve");
  }
  // The request path: the HTTP/1.1 layer on this loop. Heads up to twice --max-header-size are
  // read whole so that those over it get a precise 431 (onRequest).
  httpLimits_.maxTargetBytes = config.maxUrlBytes;
  httpLimits_.maxHeaderBytes = 2 * size_t{config.maxHeaderBytes};
  httpLimits_.maxBodyBytes = config.maxBodyBytes;
  httpLimits_.readBufferBytes =
      std::max<size_t>(httpLimits_.readBufferBytes, httpLimits_.maxHeaderBytes + 4096);
  httpLimits_.headerTimeoutMs = config.headerTimeoutMs;
  httpLimits_.idleTimeoutMs = config.idleTimeoutMs;
  httpLimits_.bodyTimeoutMs = config.bodyTimeoutMs;
  uint64_t openFiles = raiseOpenFileLimit();
  httpLimits_.maxConnections =
      config.maxConnections > 0
          ? config.maxConnections
          : defaultMaxConnections(openFiles, std::max(config.maxWorkers, config.workers));
  front_ = front::makeRequestFront(dispatcher_, *this, &Supervisor::shapeRejection, httpLimits_,
                                   config.listenHost, config.listenPort, config.ioThreads);
  port_ = front_->port();
  listenAddress_ = formatHostPort(config.listenHost, port_);
  // A script snapshot is made for a single-script server (with many apps, each app's isolate
  // starts from the built-ins snapshot and the worker's code cache).
  if (config.snapshotScript && !snapshotCommand.empty() && config.configPath.empty() &&
      config.registryUrl.empty() && config.apps.size() == 1) {
    snapshotCommand.insert(snapshotCommand.end(),
                           {"--script", config.apps.front().scriptPath, "--log-level",
                            std::string(logLevelName(config.logLevel)), "--log-format",
                            config.logFormat == LogFormat::kJson ? "json" : "text"});
    try {
      snapshotter_ = std::make_unique<ScriptSnapshotter>(
          base_, std::move(snapshotCommand), logger_, [this] { onScriptSnapshotDone(); },
          &config_.workerSandbox);
    } catch (const SyscallError& e) {
      logger_.warn("script snapshot off: no private directory for it", {{"error", e.what()}});
    }
  }

  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGHUP}) {
    signalEvents_.push_back(
        std::make_unique<event::SignalEvent>(dispatcher_, sig, [this, sig] { onSignal(sig); }));
  }
  housekeepingTimer_.start(static_cast<uint32_t>(kHousekeepingPeriod.count()));

  // Parsing validated every app already (routes, bindings, crons). Config apps are routed from
  // the start: their requests wait while the first version loads.
  for (const auto& appConfig : config.apps)
    apps_.add(appConfig).routed = true;
  if (auto error = apps_.rebuildRoutes()) throw std::runtime_error(*error);
  LifecycleHost& host = *this;  // a private base: converted here, where it is accessible
  lifecycle_ = std::make_unique<AppLifecycle>(base_, config_, logger_, apps_, cron_, host,
                                              snapshotter_.get());
  deployCommands_ = std::make_unique<DeployCommands>(config_, logger_, apps_, *lifecycle_);
  watch_ = std::make_unique<watch::WatchReloads>(base_, dispatcher_, config_, logger_, apps_,
                                                 *lifecycle_, *this);

  if (!config.controlSocketPath.empty()) {
    controlCommands_ =
        std::make_unique<ControlCommands>(config_, *this, apps_, *lifecycle_, *deployCommands_);
    control_ = std::make_unique<ControlServer>(base_, config.controlSocketPath, *controlCommands_,
                                               logger_);
  }
  if (config.adminPort >= 0) {
    admin_ = std::make_unique<AdminServer>(base_, config.adminHost,
                                           static_cast<uint16_t>(config.adminPort), *this);
  }
  // A fetch made while its request runs ends with the request's wall limit (the supervisor
  // cancels it, with a message that says so); the total timeout, a second later, bounds the
  // rest: fetches still running after their response (waitUntil work).
  FetchOptions fetchOptions{config.fetchDeny, config.fetchCaFile,
                            std::chrono::milliseconds(config.fetchConnectTimeoutMs),
                            std::chrono::milliseconds(config.wallLimitMs) + kFetchTimeoutMargin};
  fetch_ = std::make_unique<FetchClient>(
      base_, std::move(fetchOptions),
      [this](uint32_t workerId, capnp::MessageBuilder& message) {
        sendFetchMessage(workerId, message);
      },
      logger_);
}

Supervisor::~Supervisor() {
  // Connections close before the rest of the supervisor goes; their requests are dropped.
  destroying_ = true;
  front_.reset();
}

int Supervisor::run() {
  if (App* app = singleApp()) {
    logger_.info("listening", {{"address", listenAddress_},
                               {"script", app->config.scriptPath},
                               {"workers", config_.workers},
                               {"max_connections", httpLimits_.maxConnections}});
  } else {
    logger_.info("listening", {{"address", listenAddress_},
                               {"config", config_.configPath},
                               {"apps", apps_.apps().size()},
                               {"workers", config_.workers},
                               {"max_connections", httpLimits_.maxConnections}});
  }
  if (control_) logger_.info("control socket", {{"path", control_->path()}});
  if (admin_) logger_.info("admin listening", {{"address", admin_->address()}});
  for (const auto& [name, app] : apps_.apps()) {
    std::string error;
    auto bindings = loadBindings(app->config.bindings, error);
    if (!bindings || bindings->empty()) continue;
    size_t secrets = static_cast<size_t>(std::count_if(bindings->begin(), bindings->end(),
                                                       [](const Binding& b) { return b.secret; }));
    logger_.info("script environment",
                 {{"app", name}, {"variables", bindings->size() - secrets}, {"secrets", secrets}});
  }
  cron_.rearm();
  lifecycle_->startRegistry();
  // With a script snapshot, the pool starts once the helper has made it (or given up).
  App* single = singleApp();
  if (!snapshotter_ || single == nullptr ||
      !snapshotter_->start(single->lastVersion + 1, hasEnv(single->config))) {
    lifecycle_->createBootDeployments();
    pool_.reconcile();
  }
  if (phase_ != Phase::kStopped) event_base_dispatch(base_);
  return exitCode_;
}

// ---- lifecycle ----

void Supervisor::onSignal(int sig) {
  switch (sig) {
    case SIGCHLD:
      return reapChildren();
    case SIGHUP:
      logger_.info("SIGHUP received");
      beginReload();
      return;
    case SIGTERM:
    case SIGINT:
      if (phase_ == Phase::kDraining || phase_ == Phase::kStopping) {
        return forceStop("second termination signal");
      }
      logger_.info("termination signal received", {{"signal", sig}});
      return beginDrain();
    default:
      return;
  }
}

void Supervisor::reapChildren() {
  for (;;) {
    int status = 0;
    long pid = trySyscall([&] { return ::waitpid(-1, &status, WNOHANG); });
    if (pid <= 0) break;
    if (snapshotter_ && snapshotter_->reaped(static_cast<pid_t>(pid), status)) continue;
    pool_.reaped(static_cast<pid_t>(pid), status);
  }
  finishIfStopped();
}

void Supervisor::forgetIdleNeighbours(Clock::time_point now) {
  for (auto& worker : pool_.workers()) {
    std::erase_if(worker->appLastSent, [&](const auto& entry) {
      return now - entry.second > kNeighbourWindow && !worker->appOutstanding.contains(entry.first);
    });
  }
}

void Supervisor::housekeeping() {
  auto now = Clock::now();
  ++housekeepingTicks_;
  notifier_.watchdog();
  forgetIdleNeighbours(now);
  priorities_.update(pool_.workers(), apps_, storage_.get(), now);
  pool_.checkHealth(now);
  pool_.killOverdueDrains(now);
  // Memory every tick: a fast leak (a few GB/s) must meet the graceful threshold before the hard
  // one, and reading /proc/PID/statm costs three syscalls per worker.
  pool_.checkMemory();
  if (housekeepingTicks_ % kTicksPerSecond == 0) {
    pool_.forgetQuietFailures();
    pool_.autoscale(queue_.size());
    pruneSubrequests(now);
    requests_.pruneLingering(now);
    apps_.collect();
  }
  checkDrained();
}

void Supervisor::beginDrain() {
  if (phase_ == Phase::kBooting || phase_ == Phase::kServing || phase_ == Phase::kPaused) {
    phase_ = Phase::kDraining;
    drainStartedAt_ = Clock::now();
    cron_.cancel();
    notifier_.stopping();
    // Idle connections close now; busy ones after their answers, which say Connection: close.
    front_->drain();
    logger_.info("listener closed, draining", {{"in_flight", requests_.inFlightCount()},
                                               {"queued", queue_.size()},
                                               {"timeout_s", config_.drainTimeoutSec}});
    drainTimer_.arm(static_cast<uint32_t>(
        std::min<uint64_t>(uint64_t{config_.drainTimeoutSec} * 1000, UINT32_MAX)));
  }
  checkDrained();
}

void Supervisor::checkDrained() {
  if (phase_ == Phase::kDraining && requests_.idle() && queue_.size() == 0) {
    stopWorkers();
  }
}

void Supervisor::stopWorkers() {
  phase_ = Phase::kStopping;
  drainTimer_.cancel();
  // Workers may still finish waitUntil() work: they get what is left of the drain time, and
  // at least the usual stop deadline.
  auto drainLeft = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::seconds(config_.drainTimeoutSec) - (Clock::now() - drainStartedAt_));
  uint32_t deadlineMs = static_cast<uint32_t>(
      std::max<int64_t>(kWorkerStopDeadlineMs, static_cast<int64_t>(drainLeft.count())));
  cron_.cancel();
  pool_.stop(deadlineMs);
  finishIfStopped();
}

void Supervisor::forceStop(const std::string& why) {
  logger_.warn("stopping now", {{"reason", why},
                                {"abandoned_requests", requests_.inFlightCount() + queue_.size()}});
  front_->drain();
  requests_.drainReading([this](PendingRequest& request) {
    replyError(request, 503, "shutting-down", "Service Unavailable: shutting down", 1);
  });
  for (const auto& [name, app] : apps_.apps())
    failQueue(*app, 503, "shutting-down", "Service Unavailable: shutting down");
  std::vector<uint64_t> inFlight;
  requests_.inFlightIds(inFlight);
  for (uint64_t id : inFlight) {
    PendingRequest* request = requests_.find(id);
    if (request == nullptr) continue;
    replyError(*request, 503, "shutting-down", "Service Unavailable: shutting down", 1);
    // Every worker's accounting is cleared whole below.
    finishRequest(id, requests::RequestEnding::forcedStop());
  }
  for (auto& worker : pool_.workers()) {
    worker->outstanding().clear();
    worker->appOutstanding.clear();
    worker->noisyOutstanding = 0;
  }
  if (phase_ != Phase::kStopping) stopWorkers();
  pool_.killAll();
}

void Supervisor::finishIfStopped() {
  if (phase_ == Phase::kStopping && pool_.empty()) {
    phase_ = Phase::kStopped;
    logger_.info("stopped", {{"exit_code", exitCode_}});
    event_base_loopexit(base_, nullptr);
  }
}

ServerStage Supervisor::stage() const {
  switch (phase_) {
    case Phase::kBooting:
      return ServerStage::kBooting;
    case Phase::kServing:
      return ServerStage::kServing;
    case Phase::kPaused:
      return ServerStage::kPaused;
    case Phase::kDraining:
      return ServerStage::kDraining;
    case Phase::kStopping:
    case Phase::kStopped:
      break;
  }
  return ServerStage::kEnding;
}

void Supervisor::versionSettled(bool serves) {
  maybeFinishBoot();
  watch_->refresh();
  if (serves) pumpQueue();
}

void Supervisor::failBoot(const std::string& reason) {
  if (phase_ != Phase::kBooting) return;
  logger_.error("cannot start the worker pool", {{"error", reason}});
  exitCode_ = 1;
  phase_ = Phase::kStopping;
  pool_.killAll();
  for (const auto& [name, app] : apps_.apps())
    failQueue(*app, 503, "shutting-down", "Service Unavailable: failed to start");
  finishIfStopped();
}

}  // namespace isolated::supervisor
