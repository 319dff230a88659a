// Supervisor: dispatch, queueing, worker replacement, health checks, signals and draining.
#include "supervisor/supervisor.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>

#include "common/syscall.h"
#include "supervisor/http_reply.h"

namespace isolated::supervisor {

namespace {

constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);
// Restart backoff for workers that die before serving: 100 ms doubling to 10 s.
constexpr long kBackoffBaseMs = 100;
constexpr long kBackoffCapMs = 10000;
// A worker that served this long before dying counts as healthy: its successor starts at once.
constexpr auto kStableAfter = std::chrono::seconds(10);
// How long stopping workers get to exit after Shutdown before they are killed.
constexpr uint32_t kWorkerStopDeadlineMs = 5000;

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

}  // namespace

Supervisor::Supervisor(event_base* base, const ServeConfig& config,
                       std::vector<std::string> workerCommand, Logger& logger)
    : base_(base),
      config_(config),
      workerCommand_(std::move(workerCommand)),
      logger_(logger),
      listener_(base, config, *this),
      startedAt_(Clock::now()) {
  workerCommand_.insert(workerCommand_.end(),
                        {"--script", config.scriptPath, "--script-name", config.scriptName,
                         "--log-level", std::string(logLevelName(config.logLevel)), "--log-format",
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
}

Supervisor::~Supervisor() = default;

int Supervisor::run() {
  logger_.info("listening", {{"address", listener_.address()},
                             {"script", config_.scriptPath},
                             {"workers", config_.workers}});
  for (uint32_t i = 0; i < config_.workers && phase_ == Phase::kBooting; ++i)
    spawnWorker();
  if (phase_ != Phase::kStopped) event_base_dispatch(base_);
  return exitCode_;
}

// ---- worker pool ----

void Supervisor::spawnWorker() {
  uint32_t id = nextWorkerId_++;
  try {
    auto worker =
        std::make_unique<WorkerProcess>(id, base_, workerCommand_, ipc::FrameLimits{}, *this);
    logger_.debug("worker spawned", {{"worker", id}, {"pid", worker->pid()}});
    workers_.push_back(std::move(worker));
  } catch (const SyscallError& e) {
    logger_.error("cannot spawn a worker", {{"worker", id}, {"error", e.what()}});
    if (phase_ == Phase::kBooting) return failBoot(e.what());
    scheduleReplacement(true);
  }
}

void Supervisor::scheduleReplacement(bool crashedEarly) {
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped) return;
  earlyFailures_ = crashedEarly ? earlyFailures_ + 1 : 0;
  long delayMs = 0;
  if (earlyFailures_ > 0) {
    double backoff = kBackoffBaseMs * std::pow(2.0, std::min<uint32_t>(earlyFailures_ - 1, 20));
    delayMs = static_cast<long>(std::min<double>(backoff, kBackoffCapMs));
  }
  if (delayMs == 0) return spawnWorker();
  logger_.warn("worker restart backed off",
               {{"delay_ms", delayMs}, {"consecutive_failures", earlyFailures_}});
  std::erase_if(spawnTimers_,
                [](const EventPtr& e) { return !event_pending(e.get(), EV_TIMEOUT, nullptr); });
  EventPtr timer(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        auto* supervisor = static_cast<Supervisor*>(self);
        if (supervisor->phase_ != Phase::kStopping && supervisor->phase_ != Phase::kStopped) {
          supervisor->spawnWorker();
        }
      },
      this));
  timeval tv = millisToTimeval(delayMs);
  event_add(timer.get(), &tv);
  spawnTimers_.push_back(std::move(timer));
}

WorkerProcess* Supervisor::findWorker(uint32_t id) {
  for (auto& w : workers_) {
    if (w->id() == id) return w.get();
  }
  return nullptr;
}

WorkerProcess* Supervisor::findWorkerByPid(pid_t pid) {
  for (auto& w : workers_) {
    if (w->pid() == pid) return w.get();
  }
  return nullptr;
}

size_t Supervisor::liveWorkerCount() const {
  return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) {
    return w->state() != WorkerState::kLost;
  }));
}

void Supervisor::onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) {
  logger_.info("worker ready", {{"worker", worker.id()},
                                {"pid", worker.pid()},
                                {"load_ms", hello.getStartupMs()},
                                {"spawn_to_ready_ms", millisSince(worker.spawnedAt())}});
  if (phase_ == Phase::kBooting) {
    size_t ready = static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(),
                                                     [](const auto& w) { return w->accepting(); }));
    if (ready >= config_.workers) {
      phase_ = Phase::kServing;
      logger_.info("ready", {{"workers", ready}, {"startup_ms", millisSince(startedAt_)}});
    }
  }
  pumpQueue();
}

void Supervisor::onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) {
  std::string where = std::string(error.getFile().cStr());
  if (error.getLine() > 0) where += ":" + std::to_string(error.getLine());
  std::string text = where + ": " + error.getMessage().cStr();
  logger_.error("script failed to load", {{"worker", worker.id()},
                                          {"file", error.getFile().cStr()},
                                          {"line", error.getLine()},
                                          {"error", error.getMessage().cStr()}});
  if (phase_ == Phase::kBooting) bootLoadError_ = text;
}

void Supervisor::onWorkerLost(WorkerProcess& worker, const std::string& reason) {
  bool wasServing = worker.spawnedAt() + kStableAfter < Clock::now();
  size_t failed = 0;
  for (uint64_t id : worker.outstanding()) {
    auto it = inFlight_.find(id);
    if (it == inFlight_.end()) continue;
    replyError(it->second.http, 502, "worker-lost",
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
  if (phase_ == Phase::kServing || phase_ == Phase::kDraining) {
    scheduleReplacement(!wasServing);
  }
  pumpQueue();
  checkDrained();
  finishIfStopped();
}

void Supervisor::onWorkerLog(WorkerProcess& worker, ipc::Log::Reader log) {
  LogLevel level = toLogLevel(log.getLevel());
  if (!logger_.enabled(level)) return;
  if (log.getRequestId() != 0) {
    logger_.log(level, log.getMessage().cStr(),
                {{"worker", worker.id()}, {"pid", worker.pid()}, {"request", log.getRequestId()}});
  } else {
    logger_.log(level, log.getMessage().cStr(), {{"worker", worker.id()}, {"pid", worker.pid()}});
  }
}

// ---- requests ----

void Supervisor::onHttpRequest(evhttp_request* request) {
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "connection", "close");
    return replyError(request, 503, "shutting-down", "Service Unavailable: shutting down", 1);
  }
  PendingRequest pending{request, nextRequestId_++, Clock::now()};
  if (queue_.empty() && tryAssign(pending)) return;
  if (queue_.size() >= config_.queueSize) {
    return replyError(request, 503, "overloaded",
                      "Service Unavailable: every worker is busy and the queue is full", 1);
  }
  queue_.push_back(pending);
}

bool Supervisor::tryAssign(PendingRequest& request) {
  candidates_.resize(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    candidates_[i] = {workers_[i]->accepting(), workers_[i]->outstandingCount(),
                      config_.workerQueueSize};
  }
  auto index = dispatcher_.pick(candidates_);
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
  replyFromWorker(it->second.http, response);
  inFlight_.erase(it);
  worker.outstanding().erase(id);
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
    replyError(queue_.front().http, 503, "queue-timeout",
               "Service Unavailable: no worker could take the request in time", 1);
    queue_.pop_front();
  }
  checkDrained();
}

// ---- lifecycle ----

void Supervisor::onSignal(int sig) {
  switch (sig) {
    case SIGCHLD:
      return reapChildren();
    case SIGHUP:
      logger_.warn("SIGHUP received: rolling reload is not implemented yet; ignoring");
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
    logger_.log(phase_ == Phase::kStopping ? LogLevel::kInfo : LogLevel::kWarn, "worker exited",
                {{"worker", worker->id()}, {"pid", pid}, {"status", how}});
    // The process can end before its channel reports EOF; either way it is lost now.
    if (worker->state() != WorkerState::kLost) worker->kill("process " + how);
    std::erase_if(workers_, [&](const auto& w) { return w.get() == worker; });
  }
  finishIfStopped();
}

void Supervisor::housekeeping() {
  auto now = Clock::now();
  expireQueue(now);
  auto interval = std::chrono::milliseconds(config_.healthIntervalMs);
  auto timeout = std::chrono::milliseconds(config_.healthTimeoutMs);
  // Killing a worker spawns its replacement, which would invalidate an iterator over workers_:
  // collect first, kill after.
  std::vector<WorkerProcess*> unhealthy;
  for (auto& worker : workers_) {
    if (worker->state() != WorkerState::kReady) continue;
    if (auto since = worker->pingOutstandingSince(); since && now - *since > timeout) {
      unhealthy.push_back(worker.get());
    } else if (now - worker->lastPingAt() >= interval) {
      worker->ping();
    }
  }
  for (WorkerProcess* worker : unhealthy) {
    logger_.warn("worker failed its health check", {{"worker", worker->id()},
                                                    {"pid", worker->pid()},
                                                    {"timeout_ms", config_.healthTimeoutMs}});
    worker->kill("health check timed out");
  }
}

void Supervisor::beginDrain() {
  if (phase_ == Phase::kBooting || phase_ == Phase::kServing) {
    phase_ = Phase::kDraining;
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
  logger_.info("stopping workers", {{"workers", liveWorkerCount()}});
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
    replyError(request.http, 503, "shutting-down", "Service Unavailable: shutting down", 1);
  }
  queue_.clear();
  for (auto& [id, request] : inFlight_) {
    replyError(request.http, 503, "shutting-down", "Service Unavailable: shutting down", 1);
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
    replyError(request.http, 503, "shutting-down", "Service Unavailable: failed to start", 1);
  }
  queue_.clear();
  finishIfStopped();
}

}  // namespace isolated::supervisor
