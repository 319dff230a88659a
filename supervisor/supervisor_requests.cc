// Supervisor: the life of a request. Admission with request ids, dispatch to a worker, the
// answer (the worker's or the supervisor's own error) with its metrics and access log, the
// queue and the wall-time limit.
#include "supervisor/supervisor.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include <sys/socket.h>

#include <cstdio>
#include <cstring>

#include "ipc/protocol.h"
#include "ipc/small_message_builder.h"
#include "supervisor/http_reply.h"

namespace isolated::supervisor {

namespace {

// How long an app that ran into its CPU limit counts as noisy (see App::noisyUntil).
constexpr auto kNoisyFor = std::chrono::seconds(10);

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

}  // namespace

// ---- requests ----

void Supervisor::onHttpRequest(evhttp_request* request, bool streamedBody) {
  PendingRequest pending;
  pending.http = request;
  pending.id = nextRequestId_++;
  pending.arrived = Clock::now();
  pending.streamedBody = streamedBody;
  // The request id goes back on every answer, the supervisor's own errors included.
  evkeyvalq* in = evhttp_request_get_input_headers(request);
  const char* given = evhttp_find_header(in, config_.requestIdHeader.c_str());
  pending.requestId = given != nullptr && *given != '\0' && std::strlen(given) <= 128
                          ? std::string(given)
                          : newRequestId();
  evkeyvalq* out = evhttp_request_get_output_headers(request);
  evhttp_add_header(out, config_.requestIdHeader.c_str(), pending.requestId.c_str());

  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped || phase_ == Phase::kPaused) {
    evhttp_add_header(out, "connection", "close");
    return replyError(pending, 503, "shutting-down", "Service Unavailable: draining", 1);
  }
  // Route on the Host header and the target's path (origin-form; an absolute-form target
  // carries its own host and path).
  const char* host = evhttp_find_header(in, "host");
  const char* target = evhttp_request_get_uri(request);
  std::string_view path = target != nullptr ? target : "/";
  if (!path.starts_with('/')) {
    const evhttp_uri* parsed = evhttp_request_get_evhttp_uri(request);
    const char* uriHost = parsed != nullptr ? evhttp_uri_get_host(parsed) : nullptr;
    const char* uriPath = parsed != nullptr ? evhttp_uri_get_path(parsed) : nullptr;
    if (uriHost != nullptr) host = uriHost;
    path = uriPath != nullptr && *uriPath != '\0' ? uriPath : "/";
  }
  path = path.substr(0, path.find_first_of("?#"));
  App* app = apps_.route(host != nullptr ? host : "", path);
  if (app == nullptr) {
    return replyError(pending, 404, "no-route",
                      "Not Found: no app is routed for this host and path");
  }
  pending.app = app;
  admit(std::move(pending));
}

void Supervisor::admit(PendingRequest&& pending) {
  App& app = *pending.app;
  const Deployment* deployment = app.live ? app.live.get() : app.candidate.get();
  if (deployment == nullptr) {
    return replyError(
        pending, 503, "app-failed",
        "Service Unavailable: the app '" + app.config.name + "' failed to load: " + app.lastError,
        5);
  }
  if (app.config.maxConcurrent > 0 && app.outstanding() >= app.config.maxConcurrent) {
    return replyError(pending, 503, "app-overloaded",
                      "Service Unavailable: the app '" + app.config.name + "' has " +
                          std::to_string(app.config.maxConcurrent) + " requests in flight",
                      1);
  }
  pending.wallLimit = std::chrono::milliseconds(deployment->wallLimitMs);
  if (app.queue.empty() && tryAssign(pending)) return;
  if (queued_ >= config_.queueSize) {
    return replyError(pending, 503, "overloaded",
                      "Service Unavailable: every worker is busy and the queue is full", 1);
  }
  // A client that leaves while its request waits takes the request out of the queue.
  watchConnection(pending);
  enqueue(app, std::move(pending));
}

void Supervisor::enqueue(App& app, PendingRequest&& request) {
  app.queue.push_back(std::move(request));
  ++queued_;
  if (!app.waiting) {
    app.waiting = true;
    waiting_.push_back(&app);
  }
}

void Supervisor::watchConnection(PendingRequest& request) {
  if (request.http == nullptr || request.streamedBody || request.watched) return;
  BodyTap* tap = listener_.tapFor(request.http);
  if (tap == nullptr || !tap->watch()) return;
  request.watched = true;
  request.connection = evhttp_request_get_connection(request.http);
  byConnection_[request.connection] = request.id;
}

std::string Supervisor::newRequestId() {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random_()));
  return buf;
}

void Supervisor::replyError(PendingRequest& request, int status, std::string_view kind,
                            std::string_view message, int retryAfterSec) {
  releaseStreams(request);
  if (request.service) {
    failService(request, status, kind, message, retryAfterSec);
    if (status == 504) metrics_.recordLimit("wall-limit");
    recordAnswer(request, request.responseStreaming ? request.responseStatus : status,
                 request.workerId);
    return;
  }
  if (request.responseStreaming) {
    // The status line is out: close the connection so the client sees a truncated body (the
    // failed write frees the request).
    logger_.info("streamed response aborted",
                 {{"request_id", request.requestId}, {"reason", std::string(kind)}});
    if (status == 504) metrics_.recordLimit("wall-limit");
    // Recorded first: ending the reply may free the request at once.
    recordAnswer(request, request.responseStatus, request.workerId);
    if (evhttp_connection* connection = evhttp_request_get_connection(request.http)) {
      ::shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(connection)), SHUT_RDWR);
    }
    evhttp_send_reply_end(request.http);
    return;
  }
  if (request.http != nullptr) {
    supervisor::replyError(request.http, status, kind, message, retryAfterSec);
  } else {
    logger_.error("scheduled event failed", {{"cron", request.cron},
                                             {"status", status},
                                             {"error", std::string(kind)},
                                             {"detail", std::string(message)},
                                             {"request_id", request.requestId}});
  }
  if (status == 504) metrics_.recordLimit("wall-limit");
  recordAnswer(request, status, request.workerId);
}

void Supervisor::replyFromWorker(PendingRequest& request, const WorkerProcess& worker,
                                 ipc::Response::Reader response) {
  releaseStreams(request);
  if (request.http != nullptr) {
    supervisor::replyFromWorker(request.http, response);
  } else if (request.service) {
    answerService(request, response);
  } else if (response.getStatus() >= 400 || response.hasRuntimeError()) {
    // The worker has logged the script's error with the request id; this names the trigger.
    logger_.error("scheduled event failed",
                  {{"cron", request.cron},
                   {"status", response.getStatus()},
                   {"error", response.hasRuntimeError() ? response.getRuntimeError().cStr() : ""},
                   {"worker", worker.id()},
                   {"request_id", request.requestId}});
  } else {
    logger_.info(
        "scheduled event done",
        {{"cron", request.cron}, {"worker", worker.id()}, {"request_id", request.requestId}});
  }
  if (response.hasRuntimeError()) {
    std::string kind = response.getRuntimeError().cStr();
    if (kind == "cpu-limit" || kind == "memory-limit" || kind == "context-reset") {
      metrics_.recordLimit(kind);
    }
    // An app that runs into its CPU limit blocks its worker's thread for that long: for a while
    // it is kept on its home worker and other apps are placed away from it (tryAssign).
    if (kind == "cpu-limit") request.app->noisyUntil = Clock::now() + kNoisyFor;
  }
  recordAnswer(request, response.getStatus(), worker.id());
}

void Supervisor::recordAnswer(const PendingRequest& request, int status, uint32_t workerId) {
  if (recentRequestIds_
          .emplace(request.id, RecentAnswer{request.requestId, workerId, request.deployment})
          .second) {
    recentOrder_.push_back(request.id);
    if (recentOrder_.size() > kRecentAnswers) {
      recentRequestIds_.erase(recentOrder_.front());
      recentOrder_.pop_front();
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - request.arrived).count();
  metrics_.recordResponse(status, seconds);
  if (request.app != nullptr) {
    AppCounters& counters = request.app->counters;
    ++counters.requests;
    if (status >= 100 && status < 600) ++counters.classes[static_cast<size_t>(status / 100)];
    counters.latency.observe(seconds);
  }
  if (!config_.accessLog || request.http == nullptr) return;
  const char* uri = evhttp_request_get_uri(request.http);
  logger_.info("request", {{"method", methodName(evhttp_request_get_command(request.http))},
                           {"path", uri != nullptr ? uri : ""},
                           {"status", status},
                           {"duration_ms", seconds * 1000},
                           {"worker", workerId},
                           {"app", request.app != nullptr ? request.app->config.name : ""},
                           {"request_id", request.requestId}});
}

uint32_t Supervisor::appCapacity(const Deployment& deployment, uint32_t workerCapacity) {
  return deployment.isolation == IsolationMode::kShared ? workerCapacity : 1;
}

bool Supervisor::tryAssign(PendingRequest& request) {
  App& app = *request.app;
  // Requests wait while the app's first version is still being validated.
  if (!app.live) return false;
  const Deployment& deployment = *app.live;
  uint32_t capacity = workerCapacity();
  uint32_t perApp = appCapacity(deployment, capacity);
  const bool noisy = app.noisy(Clock::now());
  // A noisy app does not spread: its load stays on its home worker.
  const uint32_t spreadLoad = noisy ? 0 : app.inFlight;
  bool avoidNoisy = false;
  candidates_.resize(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    const WorkerProcess& worker = *workers_[i];
    auto it = worker.appOutstanding.find(deployment.id);
    candidates_[i] = {worker.slot, isServing(worker), worker.outstandingCount(), capacity,
                      it == worker.appOutstanding.end() ? 0u : it->second};
    avoidNoisy = avoidNoisy || (!noisy && worker.noisyOutstanding > 0);
  }
  ranks_.resize(workers_.size());
  std::optional<size_t> index;
  if (avoidNoisy) {
    // First choice for a well-behaved app: a worker where no noisy app's request is running.
    for (size_t i = 0; i < workers_.size(); ++i)
      candidates_[i].accepting = isServing(*workers_[i]) && workers_[i]->noisyOutstanding == 0;
    index = placement_.pick(app.hash, spreadLoad, candidates_, ranks_, perApp);
  }
  if (!index) {
    for (size_t i = 0; i < workers_.size(); ++i)
      candidates_[i].accepting = isServing(*workers_[i]);
    index = placement_.pick(app.hash, spreadLoad, candidates_, ranks_, perApp);
  }
  // Retiring workers still serve while their replacements start, but only when no other
  // worker has room: that way they drain sooner.
  if (!index) {
    for (size_t i = 0; i < workers_.size(); ++i)
      candidates_[i].accepting = workers_[i]->accepting();
    index = placement_.pick(app.hash, spreadLoad, candidates_, ranks_, perApp);
  }
  if (!index) return false;
  request.noisy = noisy;
  sendToWorker(*workers_[*index], request);
  return true;
}

void Supervisor::defineApp(WorkerProcess& worker, const Deployment& deployment, bool preload) {
  if (!worker.defined.insert(deployment.id).second) return;
  capnp::MallocMessageBuilder message;
  auto load = message.initRoot<ipc::Envelope>().initLoadApp();
  load.setApp(deployment.id);
  load.setName(deployment.app);
  load.setVersion(deployment.version);
  load.setScriptPath(deployment.scriptPath);
  load.setScriptSnapshot(deployment.snapshotPath);
  auto list = load.initBindings(static_cast<unsigned>(deployment.bindings.size()));
  for (size_t i = 0; i < deployment.bindings.size(); ++i) {
    list[static_cast<unsigned>(i)].setName(deployment.bindings[i].name);
    list[static_cast<unsigned>(i)].setValue(deployment.bindings[i].value);
    list[static_cast<unsigned>(i)].setJson(deployment.bindings[i].json);
  }
  load.setHeapLimitMb(deployment.heapLimitMb);
  load.setCpuLimitMs(deployment.cpuLimitMs);
  switch (deployment.isolation) {
    case IsolationMode::kShared:
      load.setIsolation(ipc::Isolation::SHARED);
      break;
    case IsolationMode::kContext:
      load.setIsolation(ipc::Isolation::CONTEXT);
      break;
    case IsolationMode::kIsolate:
      load.setIsolation(ipc::Isolation::ISOLATE);
      break;
  }
  load.setPreload(preload);
  describeBindings(deployment, load);
  auto modules = load.initModules(static_cast<unsigned>(deployment.modules.size()));
  for (size_t i = 0; i < deployment.modules.size(); ++i) {
    modules[static_cast<unsigned>(i)].setPath(deployment.modules[i].first);
    modules[static_cast<unsigned>(i)].setText(deployment.modules[i].second);
  }
  worker.send(message);
}

void Supervisor::unloadEverywhere(uint32_t deployment) {
  for (auto& worker : workers_) {
    if (!isAlive(*worker) || worker->defined.erase(deployment) == 0) continue;
    capnp::MallocMessageBuilder message;
    message.initRoot<ipc::Envelope>().initUnloadApp().setApp(deployment);
    worker->send(message);
  }
}

void Supervisor::sendToWorker(WorkerProcess& worker, PendingRequest& request) {
  evhttp_request* http = request.http;
  if (request.streamedBody && listener_.tapFor(http) == nullptr) {
    // The client left while the request waited in the queue: evhttp detached the request.
    if (evhttp_request_get_connection(http) == nullptr) {
      evhttp_request_free(http);
    } else {
      replyError(request, 500, "internal", "Internal Server Error: the request body was lost");
    }
    return;
  }
  const Deployment& deployment = *request.app->live;
  defineApp(worker, deployment, false);
  request.deployment = deployment.id;
  request.workerId = worker.id();
  worker.outstanding().insert(request.id);
  ++worker.appOutstanding[deployment.id];
  if (request.noisy) ++worker.noisyOutstanding;
  ++request.app->inFlight;
  if (request.service) return sendServiceRequest(worker, request);
  ipc::SmallMessageBuilder message;
  if (http == nullptr) {
    auto scheduled = message.initRoot<ipc::Envelope>().initScheduled();
    scheduled.setId(request.id);
    scheduled.setApp(deployment.id);
    scheduled.setScheduledTime(request.scheduledTimeMs);
    scheduled.setCron(request.cron);
    worker.send(message);
    inFlight_.emplace(request.id, request);
    return;
  }
  auto start = message.initRoot<ipc::Envelope>().initRequestStart();
  start.setId(request.id);
  start.setApp(deployment.id);
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

  if (request.streamedBody) {
    start.setBodyFollows(true);
  } else {
    evbuffer* body = evhttp_request_get_input_buffer(http);
    size_t length = evbuffer_get_length(body);
    if (length > 0) {
      auto bytes = start.initBody(static_cast<unsigned>(length));
      evbuffer_copyout(body, bytes.begin(), length);
    }
  }

  worker.send(message);
  PendingRequest& sent = inFlight_.emplace(request.id, request).first->second;
  if (!sent.streamedBody) {
    // Watched until answered (if not since it was queued): a client that leaves cancels the
    // request in the worker, and its Request's signal aborts. No system call, one map insert.
    watchConnection(sent);
  } else {
    BodyTap* tap = listener_.tapFor(http);
    if (tap == nullptr) return;  // the connection is already gone; onConnectionClosed follows
    sent.bodyCredit = ipc::kBodyWindowBytes;
    sent.connection = evhttp_request_get_connection(http);
    byConnection_[sent.connection] = sent.id;
    tap->setConsumer(this, sent.id);
    pumpRequestBody(sent);
  }
}

WorkerProcess* Supervisor::findWorker(uint32_t id) {
  for (auto& worker : workers_) {
    if (worker->id() == id) return worker.get();
  }
  return nullptr;
}

void Supervisor::finishInFlight(uint64_t id, const char* cancelReason) {
  auto it = inFlight_.find(id);
  if (it == inFlight_.end()) return;
  uint32_t workerId = it->second.workerId;
  uint32_t deployment = it->second.deployment;
  bool noisy = it->second.noisy;
  --it->second.app->inFlight;
  inFlight_.erase(it);
  if (WorkerProcess* worker = findWorker(workerId)) {
    worker->outstanding().erase(id);
    if (noisy) --worker->noisyOutstanding;
    if (auto slot = worker->appOutstanding.find(deployment);
        slot != worker->appOutstanding.end() && --slot->second == 0) {
      worker->appOutstanding.erase(slot);
    }
    if (cancelReason != nullptr) {
      capnp::MallocMessageBuilder message;
      message.initRoot<ipc::Envelope>().initRequestCancel().setId(id);
      worker->send(message);
      fetch_->failParent(workerId, id, std::string("fetch() cancelled: ") + cancelReason);
      dropServiceCalls(workerId, id, cancelReason);
    } else {
      ++worker->requestsServed;
      if (worker->requestLimit > 0 && worker->requestsServed >= worker->requestLimit) {
        retire(*worker, "max-requests");
      }
    }
  }
  pumpQueue();
  checkDrained();
}

void Supervisor::onWorkerResponse(WorkerProcess& worker, ipc::Response::Reader response) {
  uint64_t id = response.getId();
  auto it = inFlight_.find(id);
  // Unknown ids are answers to requests already answered by the supervisor: ignore them.
  if (it == inFlight_.end() || it->second.workerId != worker.id()) return;
  if (it->second.responseStreaming) {
    return worker.kill("protocol error: a second Response for one request");
  }
  if (response.getBodyFollows()) {
    if (it->second.http == nullptr && !it->second.service) {
      return worker.kill("protocol error: a streamed Response to a scheduled event");
    }
    return startStreamedResponse(it->second, response);
  }
  replyFromWorker(it->second, worker, response);
  finishInFlight(id);
}

void Supervisor::pumpQueue() {
  // Apps take turns: each dispatches at most one request per round, and a round that
  // dispatches nothing ends the pump (every app left waits for room).
  size_t idle = 0;
  while (!waiting_.empty() && idle < waiting_.size()) {
    App* app = waiting_.front();
    waiting_.pop_front();
    if (!app->queue.empty() && tryAssign(app->queue.front())) {
      app->queue.pop_front();
      --queued_;
      idle = 0;
    } else {
      ++idle;
    }
    if (app->queue.empty()) {
      app->waiting = false;
    } else {
      waiting_.push_back(app);
    }
  }
}

void Supervisor::expireQueue(Clock::time_point now) {
  auto timeout = std::chrono::milliseconds(config_.queueTimeoutMs);
  for (App* app : waiting_) {
    while (!app->queue.empty() && now - app->queue.front().arrived >= timeout) {
      PendingRequest request = std::move(app->queue.front());
      app->queue.pop_front();
      --queued_;
      replyError(request, 503, "queue-timeout",
                 "Service Unavailable: no worker could take the request in time", 1);
    }
  }
  std::erase_if(waiting_, [](App* app) {
    if (!app->queue.empty()) return false;
    app->waiting = false;
    return true;
  });
}

void Supervisor::failQueue(App& app, int status, std::string_view kind,
                           const std::string& message) {
  while (!app.queue.empty()) {
    PendingRequest request = std::move(app.queue.front());
    app.queue.pop_front();
    --queued_;
    replyError(request, status, kind, message, 1);
  }
  if (app.waiting) {
    app.waiting = false;
    std::erase(waiting_, &app);
  }
}

void Supervisor::expireInFlight(Clock::time_point now) {
  std::vector<uint64_t> expired;
  for (const auto& [id, request] : inFlight_) {
    if (now - request.arrived >= request.wallLimit) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    PendingRequest& request = inFlight_.at(id);
    replyError(request, 504, "wall-limit",
               "Gateway Timeout: the request exceeded its time limit of " +
                   std::to_string(request.wallLimit.count()) + " ms");
    finishInFlight(id, "the request that made it exceeded its time limit");
  }
}

}  // namespace isolated::supervisor
