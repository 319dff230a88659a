// Supervisor: dispatch, queueing, worker replacement, health checks, signals and draining.
#include "supervisor/supervisor.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/read_file.h"
#include "common/syscall.h"
#include "common/version.h"
#include "supervisor/http_reply.h"
#include "supervisor/status_json.h"

namespace isolated::supervisor {

namespace {

constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);
// Ten housekeeping ticks: memory is read from /proc and autoscaling is evaluated once a second.
constexpr uint64_t kTicksPerSecond = 10;
// A worker that dies younger than this is an early failure (like PM2's min_uptime): repeated
// early failures back off. One that lived longer is replaced at once.
constexpr auto kStableAfter = std::chrono::seconds(1);
// Early failures are forgotten after this long without another one.
constexpr auto kFailureMemory = std::chrono::seconds(30);
// How long workers get to exit after Shutdown at the end of a drain before they are killed.
constexpr uint32_t kWorkerStopDeadlineMs = 5000;
// Autoscaling thresholds, in requests outstanding or queued per ready worker. The gap between
// them, and the time each must hold, is the hysteresis.
constexpr double kScaleUpLoad = 2.0;
constexpr double kScaleDownLoad = 0.25;
// Every reason a worker is replaced for, reported even while zero.
constexpr const char* kRestartReasons[] = {"crash",        "memory", "memory-hard", "health",
                                           "max-requests", "reload", "scale-down",  "manual"};

const char* methodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "GET";
}

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

bool isServing(const WorkerProcess& w) {
  return w.accepting() && !w.retiring();
}
bool isActive(const WorkerProcess& w) {
  return (w.state() == WorkerState::kStarting || w.state() == WorkerState::kReady) && !w.retiring();
}
bool isAlive(const WorkerProcess& w) {
  return w.state() != WorkerState::kLost;
}

}  // namespace

Supervisor::Supervisor(event_base* base, const ServeConfig& config,
                       std::vector<std::string> workerCommand, Logger& logger)
    : base_(base),
      config_(config),
      workerCommand_(std::move(workerCommand)),
      logger_(logger),
      listener_(base, config, *this),
      random_(std::random_device{}()),
      startedAt_(Clock::now()),
      targetWorkers_(config.workers),
      minWorkers_(std::min(config.minWorkers, config.workers)),
      maxWorkers_(std::max(config.maxWorkers, config.workers)) {
  workerCommand_.insert(
      workerCommand_.end(),
      {"--script", config.scriptPath, "--script-name", config.scriptName, "--cpu-limit-ms",
       std::to_string(config.cpuLimitMs), "--heap-limit-mb", std::to_string(config.heapLimitMb),
       "--isolation", isolationModeName(config.isolation), "--log-level",
       std::string(logLevelName(config.logLevel)), "--log-format",
       config.logFormat == LogFormat::kJson ? "json" : "text"});

  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGHUP}) {
    EventPtr ev(evsignal_new(
        base_, sig,
        [](evutil_socket_t s, short, void* self) {
          static_cast<Supervisor*>(self)->onSignal(static_cast<int>(s));
        },
        this));
    event_add(ev.get(), nullptr);
    signalEvents_.push_back(std::move(ev));
  }
  housekeepingTimer_.reset(event_new(
      base_, -1, EV_PERSIST,
      [](evutil_socket_t, short, void* self) { static_cast<Supervisor*>(self)->housekeeping(); },
      this));
  timeval period = millisToTimeval(kHousekeepingPeriod.count());
  event_add(housekeepingTimer_.get(), &period);

  if (!config.controlSocketPath.empty()) {
    control_ = std::make_unique<ControlServer>(base_, config.controlSocketPath, *this, logger_);
  }
  if (config.adminPort >= 0) {
    admin_ = std::make_unique<AdminServer>(base_, config.adminHost,
                                           static_cast<uint16_t>(config.adminPort), *this);
  }
}

Supervisor::~Supervisor() = default;

int Supervisor::run() {
  logger_.info("listening", {{"address", listener_.address()},
                             {"script", config_.scriptPath},
                             {"workers", config_.workers}});
  if (control_) logger_.info("control socket", {{"path", control_->path()}});
  if (admin_) logger_.info("admin listening", {{"address", admin_->address()}});
  reconcilePool();
  if (phase_ != Phase::kStopped) event_base_dispatch(base_);
  return exitCode_;
}

// ---- worker pool ----

size_t Supervisor::countWorkers(bool (*predicate)(const WorkerProcess&)) const {
  return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(),
                                           [&](const auto& w) { return predicate(*w); }));
}

void Supervisor::spawnWorker() {
  uint32_t id = nextWorkerId_++;
  try {
    auto worker =
        std::make_unique<WorkerProcess>(id, base_, workerCommand_, ipc::FrameLimits{}, *this);
    worker->generation = generation_;
    worker->slot = freeSlot();
    if (config_.maxRequests > 0) {
      uint64_t jitter = config_.maxRequestsJitter;
      worker->requestLimit = config_.maxRequests + (jitter > 0 ? random_() % (jitter + 1) : 0);
    }
    logger_.debug("worker spawned", {{"worker", id}, {"pid", worker->pid()}});
    workers_.push_back(std::move(worker));
  } catch (const SyscallError& e) {
    logger_.error("cannot spawn a worker", {{"worker", id}, {"error", e.what()}});
    if (phase_ == Phase::kBooting) return failBoot(e.what());
    ++earlyFailures_;
    lastEarlyFailureAt_ = Clock::now();
  }
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

  size_t active = countWorkers(isActive) + scheduledSpawns_;
  for (; active < targetWorkers_; ++active) {
    if (earlyFailures_ == 0) {
      spawnWorker();
      if (phase_ != Phase::kBooting && phase_ != Phase::kServing && phase_ != Phase::kDraining) {
        return;
      }
      continue;
    }
    // Workers keep failing right after start: wait, doubling the delay up to the cap, so that a
    // crash loop costs no CPU.
    double backoff =
        config_.restartBackoffBaseMs * std::pow(2.0, std::min<uint32_t>(earlyFailures_ - 1, 30));
    long delayMs = static_cast<long>(std::min<double>(backoff, config_.restartBackoffMaxMs));
    logger_.warn("worker restart backed off",
                 {{"delay_ms", delayMs}, {"consecutive_failures", earlyFailures_}});
    std::erase_if(spawnTimers_,
                  [](const EventPtr& e) { return !event_pending(e.get(), EV_TIMEOUT, nullptr); });
    EventPtr timer(event_new(
        base_, -1, 0,
        [](evutil_socket_t, short, void* self) {
          auto* supervisor = static_cast<Supervisor*>(self);
          --supervisor->scheduledSpawns_;
          if (supervisor->phase_ == Phase::kStopping || supervisor->phase_ == Phase::kStopped) {
            return;
          }
          if (supervisor->countWorkers(isActive) + supervisor->scheduledSpawns_ <
              supervisor->targetWorkers_) {
            supervisor->spawnWorker();
          }
        },
        this));
    timeval tv = millisToTimeval(delayMs);
    event_add(timer.get(), &tv);
    spawnTimers_.push_back(std::move(timer));
    ++scheduledSpawns_;
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
  bool degraded = serving < targetWorkers_ && (earlyFailures_ > 0 || serving == 0);
  if (degraded && !degraded_) {
    logger_.warn("pool degraded", {{"serving", serving},
                                   {"target", targetWorkers_},
                                   {"consecutive_failures", earlyFailures_}});
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
  if (phase_ == Phase::kBooting && countWorkers(isServing) >= targetWorkers_) {
    phase_ = Phase::kServing;
    logger_.info("ready",
                 {{"workers", countWorkers(isServing)}, {"startup_ms", millisSince(startedAt_)}});
    notifier_.ready("serving with " + std::to_string(countWorkers(isServing)) + " workers");
  }
  // Drain the worker this one replaces before marking the next one of a reload, so that a
  // rolling reload holds at most one extra worker.
  reconcilePool();
  if (worker.generation == generation_) continueReload();
  pumpQueue();
  updateDegraded();
}

void Supervisor::onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) {
  std::string where = std::string(error.getFile().cStr());
  if (error.getLine() > 0) where += ":" + std::to_string(error.getLine());
  std::string text = where + ": " + error.getMessage().cStr();
  logger_.error("script failed to load", {{"worker", worker.id()},
                                          {"file", error.getFile().cStr()},
                                          {"line", error.getLine()},
                                          {"error", error.getMessage().cStr()}});
  if (phase_ == Phase::kBooting) {
    bootLoadError_ = text;
    return;
  }
  if (worker.generation == generation_ && (!reloadQueue_.empty() || reloadActive_)) {
    // The new script does not load: keep the old workers serving.
    logger_.error("reload refused: the new script failed to load; old workers keep serving",
                  {{"error", text}});
    reloadQueue_.clear();
    reloadActive_ = false;
    --generation_;
    worker.lossCause = "reload-refused";
    for (auto& w : workers_) {
      if (w->retireReason() == "reload" && w->accepting()) w->clearRetiring();
    }
  }
}

void Supervisor::onWorkerLost(WorkerProcess& worker, const std::string& reason) {
  size_t failed = 0;
  for (uint64_t id : worker.outstanding()) {
    auto it = inFlight_.find(id);
    if (it == inFlight_.end()) continue;
    replyError(it->second, 502, "worker-lost",
               "Bad Gateway: the worker handling this request exited");
    inFlight_.erase(it);
    ++failed;
  }
  worker.outstanding().clear();
  // A worker told to shut down closes its channel as it exits; any other loss means the process
  // must go now. Either way it is reaped (and the object freed) on SIGCHLD.
  bool expected = worker.shutdownSent();
  if (!expected) worker.process().signal(SIGKILL);
  logger_.log(expected ? LogLevel::kDebug : LogLevel::kWarn, "worker lost",
              {{"worker", worker.id()},
               {"pid", worker.pid()},
               {"reason", reason},
               {"failed_requests", failed}});

  if (phase_ == Phase::kBooting) {
    return failBoot(bootLoadError_.value_or("worker " + std::to_string(worker.id()) +
                                            " exited before it was ready: " + reason));
  }
  if (!expected) {
    std::string cause = worker.lossCause.empty() ? "crash" : worker.lossCause;
    if (cause != "reload-refused") {
      ++restarts_[cause];
      bool early = Clock::now() - worker.spawnedAt() < kStableAfter;
      // A crash of a worker that had been serving for a while starts a fresh failure count.
      earlyFailures_ = early ? earlyFailures_ + 1 : 0;
      if (early) lastEarlyFailureAt_ = Clock::now();
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
  if (log.getRequestId() != 0) {
    auto it = inFlight_.find(log.getRequestId());
    logger_.log(level, log.getMessage().cStr(),
                {{"worker", worker.id()},
                 {"pid", worker.pid()},
                 {"request", log.getRequestId()},
                 {"request_id", it != inFlight_.end() ? it->second.requestId : std::string()}});
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

// ---- reload ----

bool Supervisor::beginReload() {
  if (phase_ != Phase::kServing || reloadActive_) {
    logger_.warn("reload ignored", {{"reason", reloadActive_ ? "a reload is already running"
                                                             : "the server is not serving"}});
    return false;
  }
  ++generation_;
  reloadActive_ = true;
  for (auto& worker : workers_) {
    if (isActive(*worker)) reloadQueue_.push_back(worker->id());
  }
  logger_.info("reloading", {{"script", config_.scriptPath}, {"workers", reloadQueue_.size()}});
  continueReload();
  return true;
}

void Supervisor::continueReload() {
  if (!reloadActive_) return;
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

// ---- requests ----

void Supervisor::onHttpRequest(evhttp_request* request) {
  PendingRequest pending{request, nextRequestId_++, Clock::now(), {}, 0};
  // The request id goes back on every answer, the supervisor's own errors included.
  const char* given = evhttp_find_header(evhttp_request_get_input_headers(request),
                                         config_.requestIdHeader.c_str());
  pending.requestId = given != nullptr && *given != '\0' && std::strlen(given) <= 128
                          ? std::string(given)
                          : newRequestId();
  evkeyvalq* out = evhttp_request_get_output_headers(request);
  evhttp_add_header(out, config_.requestIdHeader.c_str(), pending.requestId.c_str());

  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped || phase_ == Phase::kPaused) {
    evhttp_add_header(out, "connection", "close");
    return replyError(pending, 503, "shutting-down", "Service Unavailable: draining", 1);
  }
  if (queue_.empty() && tryAssign(pending)) return;
  if (queue_.size() >= config_.queueSize) {
    return replyError(pending, 503, "overloaded",
                      "Service Unavailable: every worker is busy and the queue is full", 1);
  }
  queue_.push_back(std::move(pending));
}

std::string Supervisor::newRequestId() {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random_()));
  return buf;
}

void Supervisor::replyError(const PendingRequest& request, int status, std::string_view kind,
                            std::string_view message, int retryAfterSec) {
  supervisor::replyError(request.http, status, kind, message, retryAfterSec);
  if (status == 504) metrics_.recordLimit("wall-limit");
  recordAnswer(request, status, request.workerId);
}

void Supervisor::replyFromWorker(const PendingRequest& request, const WorkerProcess& worker,
                                 ipc::Response::Reader response) {
  supervisor::replyFromWorker(request.http, response);
  if (response.hasRuntimeError()) {
    std::string kind = response.getRuntimeError().cStr();
    if (kind == "cpu-limit" || kind == "memory-limit" || kind == "context-reset") {
      metrics_.recordLimit(kind);
    }
  }
  recordAnswer(request, response.getStatus(), worker.id());
}

void Supervisor::recordAnswer(const PendingRequest& request, int status, uint32_t workerId) {
  double seconds = std::chrono::duration<double>(Clock::now() - request.arrived).count();
  metrics_.recordResponse(status, seconds);
  if (!config_.accessLog) return;
  const char* uri = evhttp_request_get_uri(request.http);
  logger_.info("request", {{"method", methodName(evhttp_request_get_command(request.http))},
                           {"path", uri != nullptr ? uri : ""},
                           {"status", status},
                           {"duration_ms", seconds * 1000},
                           {"worker", workerId},
                           {"request_id", request.requestId}});
}

uint32_t Supervisor::workerCapacity() const {
  // Fresh state per request means one request at a time per worker: two requests sharing the
  // fresh context would share state.
  return config_.isolation == IsolationMode::kShared ? config_.workerQueueSize : 1;
}

bool Supervisor::tryAssign(PendingRequest& request) {
  // Retiring workers still serve while their replacements start, but only when no other
  // worker has room: that way they drain sooner.
  candidates_.resize(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    candidates_[i] = {isServing(*workers_[i]), workers_[i]->outstandingCount(), workerCapacity()};
  }
  auto index = dispatcher_.pick(candidates_);
  if (!index) {
    for (size_t i = 0; i < workers_.size(); ++i)
      candidates_[i].accepting = workers_[i]->accepting();
    index = dispatcher_.pick(candidates_);
  }
  if (!index) return false;
  sendToWorker(*workers_[*index], request);
  return true;
}

void Supervisor::sendToWorker(WorkerProcess& worker, PendingRequest& request) {
  evhttp_request* http = request.http;
  capnp::MallocMessageBuilder message;
  auto start = message.initRoot<ipc::Envelope>().initRequestStart();
  start.setId(request.id);
  start.setScript(config_.scriptName);
  start.setMethod(methodName(evhttp_request_get_command(http)));

  evkeyvalq* in = evhttp_request_get_input_headers(http);
  const char* host = evhttp_find_header(in, "host");
  std::string url = "http://";
  url += host != nullptr ? host : listener_.address();
  url += evhttp_request_get_uri(http);
  start.setUrl(url);
  start.setRequestId(request.requestId);
  metrics_.recordQueueWait(std::chrono::duration<double>(Clock::now() - request.arrived).count());

  unsigned count = 0;
  for (evkeyval* h = in->tqh_first; h != nullptr; h = h->next.tqe_next)
    ++count;
  auto headers = start.initHeaders(count);
  unsigned i = 0;
  for (evkeyval* h = in->tqh_first; h != nullptr; h = h->next.tqe_next, ++i) {
    headers[i].setName(h->key);
    headers[i].setValue(h->value);
  }

  if (evhttp_connection* conn = evhttp_request_get_connection(http)) {
    char* address = nullptr;
    uint16_t port = 0;
    evhttp_connection_get_peer(conn, &address, &port);
    if (address != nullptr) start.setClientAddress(address);
  }

  evbuffer* body = evhttp_request_get_input_buffer(http);
  size_t length = evbuffer_get_length(body);
  if (length > 0) {
    auto bytes = start.initBody(static_cast<unsigned>(length));
    evbuffer_copyout(body, bytes.begin(), length);
  }

  worker.send(message);
  request.workerId = worker.id();
  worker.outstanding().insert(request.id);
  inFlight_.emplace(request.id, request);
}

void Supervisor::onWorkerResponse(WorkerProcess& worker, ipc::Response::Reader response) {
  uint64_t id = response.getId();
  auto it = inFlight_.find(id);
  // Unknown ids are answers to requests already answered by the supervisor: ignore them.
  if (it == inFlight_.end() || it->second.workerId != worker.id()) return;
  replyFromWorker(it->second, worker, response);
  inFlight_.erase(it);
  worker.outstanding().erase(id);
  ++worker.requestsServed;
  if (worker.requestLimit > 0 && worker.requestsServed >= worker.requestLimit) {
    retire(worker, "max-requests");
  }
  pumpQueue();
  checkDrained();
}

void Supervisor::pumpQueue() {
  while (!queue_.empty() && tryAssign(queue_.front()))
    queue_.pop_front();
}

void Supervisor::expireQueue(Clock::time_point now) {
  auto timeout = std::chrono::milliseconds(config_.queueTimeoutMs);
  while (!queue_.empty() && now - queue_.front().arrived >= timeout) {
    replyError(queue_.front(), 503, "queue-timeout",
               "Service Unavailable: no worker could take the request in time", 1);
    queue_.pop_front();
  }
}

void Supervisor::expireInFlight(Clock::time_point now) {
  auto limit = std::chrono::milliseconds(config_.wallLimitMs);
  std::vector<uint64_t> expired;
  for (const auto& [id, request] : inFlight_) {
    if (now - request.arrived >= limit) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    auto it = inFlight_.find(id);
    uint32_t workerId = it->second.workerId;
    replyError(it->second, 504, "wall-limit",
               "Gateway Timeout: the request exceeded its time limit of " +
                   std::to_string(config_.wallLimitMs) + " ms");
    inFlight_.erase(it);
    for (auto& worker : workers_) {
      if (worker->id() != workerId) continue;
      worker->outstanding().erase(id);
      capnp::MallocMessageBuilder message;
      message.initRoot<ipc::Envelope>().initRequestCancel().setId(id);
      worker->send(message);
    }
  }
  if (!expired.empty()) pumpQueue();
}

// ---- health, memory, scaling ----

void Supervisor::checkHealth(Clock::time_point now) {
  auto interval = std::chrono::milliseconds(config_.healthIntervalMs);
  auto timeout = std::chrono::milliseconds(config_.healthTimeoutMs);
  // Killing a worker spawns its replacement, which would invalidate an iterator over workers_:
  // collect first, kill after.
  std::vector<WorkerProcess*> unhealthy;
  for (auto& worker : workers_) {
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
  for (WorkerProcess* worker : overSoft)
    retire(*worker, "memory");
}

void Supervisor::autoscale() {
  if (phase_ != Phase::kServing || reloadActive_ || minWorkers_ == maxWorkers_) return;
  size_t serving = countWorkers(isServing);
  size_t demand = queue_.size();
  for (const auto& worker : workers_)
    demand += worker->outstandingCount();
  double load = static_cast<double>(demand) / static_cast<double>(std::max<size_t>(1, serving));
  busySeconds_ = (load >= kScaleUpLoad || !queue_.empty()) ? busySeconds_ + 1 : 0;
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
    WorkerProcess* worker = findWorkerByPid(static_cast<pid_t>(pid));
    if (worker == nullptr) continue;
    worker->process().markReaped();
    std::string how = describeExitStatus(status);
    bool expected = worker->shutdownSent() && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    logger_.log(expected ? LogLevel::kInfo : LogLevel::kWarn, "worker exited",
                {{"worker", worker->id()}, {"pid", pid}, {"status", how}});
    // The process can end before its channel reports EOF; either way it is lost now.
    if (worker->state() != WorkerState::kLost) worker->kill("process " + how);
    droppedLogLinesOfExited_ += worker->droppedLogLines;
    if (phase_ != Phase::kStopping && phase_ != Phase::kStopped) {
      std::string why = worker->retiring()           ? worker->retireReason()
                        : !worker->lossCause.empty() ? worker->lossCause
                                                     : std::string("crash");
      recordExit(*worker, why);
    }
    std::erase_if(workers_, [&](const auto& w) { return w.get() == worker; });
  }
  finishIfStopped();
}

void Supervisor::housekeeping() {
  auto now = Clock::now();
  ++housekeepingTicks_;
  notifier_.watchdog();
  expireQueue(now);
  expireInFlight(now);
  checkHealth(now);
  // Retiring workers that outlive their drain deadline are killed; their requests get 502.
  auto drainDeadline = std::chrono::seconds(config_.drainTimeoutSec);
  std::vector<WorkerProcess*> overdue;
  for (auto& worker : workers_) {
    auto since = worker->stoppingSince();
    if (phase_ != Phase::kStopping && isAlive(*worker) && since && now - *since > drainDeadline) {
      overdue.push_back(worker.get());
    }
  }
  for (WorkerProcess* worker : overdue)
    worker->kill("drain deadline passed");
  if (housekeepingTicks_ % kTicksPerSecond == 0) {
    if (earlyFailures_ > 0 && scheduledSpawns_ == 0 && now - lastEarlyFailureAt_ > kFailureMemory) {
      earlyFailures_ = 0;
      updateDegraded();
    }
    checkMemory();
    autoscale();
  }
  checkDrained();
}

void Supervisor::beginDrain() {
  if (phase_ == Phase::kBooting || phase_ == Phase::kServing || phase_ == Phase::kPaused) {
    phase_ = Phase::kDraining;
    notifier_.stopping();
    listener_.stopAccepting();
    logger_.info("listener closed, draining", {{"in_flight", inFlight_.size()},
                                               {"queued", queue_.size()},
                                               {"timeout_s", config_.drainTimeoutSec}});
    drainTimer_.reset(event_new(
        base_, -1, 0,
        [](evutil_socket_t, short, void* self) {
          static_cast<Supervisor*>(self)->forceStop("drain timeout");
        },
        this));
    timeval tv = millisToTimeval(static_cast<long>(config_.drainTimeoutSec) * 1000);
    event_add(drainTimer_.get(), &tv);
  }
  checkDrained();
}

void Supervisor::checkDrained() {
  if (phase_ == Phase::kDraining && inFlight_.empty() && queue_.empty()) stopWorkers();
}

void Supervisor::stopWorkers() {
  phase_ = Phase::kStopping;
  drainTimer_.reset();
  logger_.info("stopping workers", {{"workers", countWorkers(isAlive)}});
  for (auto& worker : workers_)
    worker->shutdown(kWorkerStopDeadlineMs);
  stopTimer_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        auto* supervisor = static_cast<Supervisor*>(self);
        for (auto& worker : supervisor->workers_)
          worker->process().signal(SIGKILL);
      },
      this));
  timeval tv = millisToTimeval(kWorkerStopDeadlineMs);
  event_add(stopTimer_.get(), &tv);
  finishIfStopped();
}

void Supervisor::forceStop(const std::string& why) {
  logger_.warn("stopping now",
               {{"reason", why}, {"abandoned_requests", inFlight_.size() + queue_.size()}});
  listener_.stopAccepting();
  for (auto& request : queue_) {
    replyError(request, 503, "shutting-down", "Service Unavailable: shutting down", 1);
  }
  queue_.clear();
  for (auto& [id, request] : inFlight_) {
    replyError(request, 503, "shutting-down", "Service Unavailable: shutting down", 1);
  }
  inFlight_.clear();
  for (auto& worker : workers_)
    worker->outstanding().clear();
  if (phase_ != Phase::kStopping) stopWorkers();
  for (auto& worker : workers_)
    worker->process().signal(SIGKILL);
}

void Supervisor::finishIfStopped() {
  if (phase_ == Phase::kStopping && workers_.empty()) {
    phase_ = Phase::kStopped;
    logger_.info("stopped", {{"exit_code", exitCode_}});
    event_base_loopexit(base_, nullptr);
  }
}

void Supervisor::failBoot(const std::string& reason) {
  if (phase_ != Phase::kBooting) return;
  logger_.error("cannot start the worker pool", {{"error", reason}});
  exitCode_ = 1;
  phase_ = Phase::kStopping;
  for (auto& worker : workers_)
    worker->process().signal(SIGKILL);
  for (auto& request : queue_) {
    replyError(request, 503, "shutting-down", "Service Unavailable: failed to start", 1);
  }
  queue_.clear();
  finishIfStopped();
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
    if (!beginReload()) {
      return fail("cannot reload now: a reload is running or the server is not serving");
    }
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
  return fail("unknown command '" + cmd +
              "': expected status, workers, metrics, reload, restart, drain, resume or scale");
}

std::string Supervisor::metricsText() {
  return metrics_.render(snapshot());
}

bool Supervisor::ready() {
  return phase_ == Phase::kServing && countWorkers(isServing) > 0;
}

}  // namespace isolated::supervisor
