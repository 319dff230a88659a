// Supervisor: the life of a request. Admission with request ids, dispatch to a worker, the
// answer (the worker's or the supervisor's own error) with its metrics and access log, the
// queue and the wall-time limit. Requests come from the HTTP/1.1 layer (supervisor/http/).
#include "supervisor/supervisor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <cstdio>
#include <cstring>

#include "ipc/protocol.h"
#include "ipc/small_message_builder.h"
#include "supervisor/http/request_url.h"

namespace isolated::supervisor {

namespace {

// How long an app that ran into its CPU limit counts as noisy (see App::noisyUntil).
constexpr auto kNoisyFor = std::chrono::seconds(10);

// Headers of a worker's Response passed on to a client, at most (a fetch's are bounded at
// ipc::kFetchMaxHeaders; an answer may carry more, such as many Set-Cookie fields).
constexpr size_t kMaxResponseHeaders = 1024;

std::string_view view(capnp::Text::Reader text) {
  return {text.cStr(), text.size()};
}

void copyText(capnp::Text::Builder to, std::string_view from) {
  if (!from.empty()) std::memcpy(to.begin(), from.data(), from.size());
}

// Headers of a script's response the supervisor does not pass on (the layer frames the answer
// and drops Connection, Keep-Alive, Content-Length and Transfer-Encoding itself as well).
bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kDropped[] = {
      "connection", "keep-alive", "transfer-encoding", "content-length",
      "upgrade",    "te",         "trailer",           "proxy-connection"};
  for (std::string_view dropped : kDropped) {
    if (name.size() == dropped.size() && strncasecmp(name.data(), dropped.data(), name.size()) == 0)
      return true;
  }
  return false;
}

// The isolated-error kind of an answer the HTTP layer makes itself.
std::string_view rejectionKind(int status) {
  switch (status) {
    case 408:
      return "request-timeout";
    case 413:
      return "body-too-large";
    case 414:
      return "uri-too-long";
    case 417:
      return "expectation-failed";
    case 431:
      return "headers-too-large";
    case 501:
      return "not-implemented";
    case 505:
      return "version-not-supported";
    default:
      return "bad-request";
  }
}

std::string peerAddress(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
  }
  return text;
}

// Bytes of the request line and headers as received (give or take separators), as the evhttp
// front measured them.
size_t headSize(const http::HttpRequest& request) {
  size_t size = request.target().size() + 16;
  for (const http::HttpHeader& h : request.headers())
    size += h.name.size() + h.value.size() + 4;
  return size;
}

}  // namespace

// ---- the layer's callbacks ----

void ClientLink::onBodyData(std::string_view data) {
  supervisor_.onClientBody(id_, data);
}
void ClientLink::onBodyEnd() {
  supervisor_.onClientBodyEnd(id_);
}
void ClientLink::onWritable() {
  supervisor_.onClientWritable(id_);
}
void ClientLink::onClientGone(http::GoneReason reason) {
  supervisor_.onClientGone(id_, reason);
}

// ---- requests ----

void Supervisor::onRequest(http::HttpRequest& request) {
  PendingRequest pending;
  pending.http = &request;
  pending.id = requests_.nextId();
  pending.arrived = Clock::now();
  // The request id goes back on every answer, the supervisor's own errors included.
  auto given = request.header(config_.requestIdHeader);
  pending.requestId = given && !given->empty() && given->size() <= 128
                          ? std::string(*given)
                          : std::string(request.idText());
  if (config_.accessLog) {
    pending.method = request.method();
    pending.target = request.target();
  }
  pending.client = std::make_unique<ClientLink>(*this, pending.id);
  request.setObserver(pending.client.get());
  // The front answered heads up to twice --max-header-size read whole with a precise 431 (and
  // refused larger ones before reading them whole: see onRejected); it still does.
  if (headSize(request) > config_.maxHeaderBytes) {
    return replyError(pending, 431, "headers-too-large",
                      "request head exceeds " + std::to_string(config_.maxHeaderBytes) + " bytes");
  }
  auto length = request.contentLength();
  if (request.hasBody() && length && *length <= kInlineBodyBytes) {
    // Read whole first, then routed and sent inline, as if it had arrived with its head.
    pending.inlineBody.reserve(static_cast<size_t>(*length));
    request.grantBody(static_cast<size_t>(*length));
    requests_.startReading(std::move(pending));
    return;
  }
  pending.streamedBody = request.hasBody();
  routeRequest(std::move(pending));
}

void Supervisor::onRejected(http::HttpRejection& rejection) {
  // A head the layer found over its limit (twice --max-header-size) before reading it whole
  // gets 400, as it did from the evhttp front; heads read whole and over the limit get 431
  // (onRequest).
  if (rejection.status == 431 && rejection.why == "request head too large") rejection.status = 400;
  rejection.headers.push_back({"content-type", "text/plain; charset=utf-8"});
  rejection.headers.push_back({"isolated-error", rejectionKind(rejection.status)});
  if (logger_.enabled(LogLevel::kDebug)) {
    logger_.debug("request refused", {{"status", rejection.status},
                                      {"reason", rejection.why},
                                      {"client", peerAddress(rejection.peer)}});
  }
}

void Supervisor::routeRequest(PendingRequest&& pending) {
  http::HttpRequest& request = *pending.http;
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped || phase_ == Phase::kPaused) {
    request.closeAfterResponse();
    return replyError(pending, 503, "shutting-down", "Service Unavailable: draining", 1);
  }
  // Route on the Host header and the target's path (origin-form; an absolute-form target
  // carries its own host and path). The layer has checked the Host's syntax; what the URL
  // parser would read differently is refused here, so that the script's URL always names the
  // host and path that were routed.
  http::TargetParts parts = http::splitTarget(request.target());
  std::string_view host =
      parts.hasAuthority ? parts.authority : request.header("host").value_or("");
  if (!parts.valid || (!host.empty() && !http::hostFitsUrl(host))) {
    if (logger_.enabled(LogLevel::kDebug)) {
      logger_.debug("request refused",
                    {{"status", 400},
                     {"reason", parts.valid ? "invalid Host" : "invalid request-target"},
                     {"client", peerAddress(request.peer())}});
    }
    request.closeAfterResponse();
    return replyError(pending, 400, "bad-request", "Bad Request: invalid host");
  }
  std::string_view path = parts.pathAndQuery;
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty()) path = "/";
  App* app = apps_.route(host, path);
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
  // A client that leaves while its request waits takes the request out of the queue
  // (onClientGone).
  enqueue(app, std::move(pending));
}

void Supervisor::enqueue(App& app, PendingRequest&& request) {
  queueTimer_.schedule(request.arrived + std::chrono::milliseconds(config_.queueTimeoutMs));
  app.queue.push_back(std::move(request));
  ++queued_;
  if (!app.waiting) {
    app.waiting = true;
    waiting_.push_back(&app);
  }
}

std::string Supervisor::newRequestId() {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random_()));
  return buf;
}

void Supervisor::release(PendingRequest& request) {
  // The layer's request may be reused for the next one of its connection: never touched again.
  request.http = nullptr;
}

void Supervisor::replyError(PendingRequest& request, int status, std::string_view kind,
                            std::string_view message, int retryAfterSec) {
  if (request.service) {
    failService(request, status, kind, message, retryAfterSec);
    if (status == 504) metrics_.recordLimit("wall-limit");
    recordAnswer(request, request.responseStreaming ? request.responseStatus : status,
                 request.workerId);
    return;
  }
  if (status == 504) metrics_.recordLimit("wall-limit");
  if (request.responseStreaming) {
    // The status line is out: the connection closes so the client sees a truncated body.
    logger_.info("streamed response aborted",
                 {{"request_id", request.requestId}, {"reason", std::string(kind)}});
    recordAnswer(request, request.responseStatus, request.workerId);
    if (request.http != nullptr) request.http->abort();
    release(request);
    return;
  }
  recordAnswer(request, status, request.workerId);
  if (request.http != nullptr) {
    char retryAfter[16] = "";
    answerHeaders_.clear();
    answerHeaders_.push_back({config_.requestIdHeader, request.requestId});
    answerHeaders_.push_back({"content-type", "text/plain; charset=utf-8"});
    answerHeaders_.push_back({"isolated-error", kind});
    if (retryAfterSec > 0) {
      int n = std::snprintf(retryAfter, sizeof retryAfter, "%d", retryAfterSec);
      answerHeaders_.push_back(
          {"retry-after", std::string_view(retryAfter, static_cast<size_t>(n))});
    }
    std::string body;
    body.reserve(message.size() + 1);
    body.append(message);
    body.push_back('\n');
    request.http->respond(status, answerHeaders_, body);
    release(request);
  } else if (!request.cron.empty()) {
    logger_.error("scheduled event failed", {{"cron", request.cron},
                                             {"status", status},
                                             {"error", std::string(kind)},
                                             {"detail", std::string(message)},
                                             {"request_id", request.requestId}});
  }
}

void Supervisor::replyFromWorker(PendingRequest& request, const WorkerProcess& worker,
                                 ipc::Response::Reader response) {
  recordAnswer(request, response.getStatus(), worker.id());
  if (request.service) {
    answerService(request, response);
  } else if (request.http != nullptr) {
    answerHeaders_.clear();
    answerHeaders_.push_back({config_.requestIdHeader, request.requestId});
    for (auto header : response.getHeaders()) {
      std::string_view name = view(header.getName());
      if (!isHopByHop(name)) answerHeaders_.push_back({name, view(header.getValue())});
    }
    if (response.hasRuntimeError())
      answerHeaders_.push_back({"isolated-error", view(response.getRuntimeError())});
    auto body = response.getBody();
    request.http->respond(
        response.getStatus(), answerHeaders_,
        std::string_view(reinterpret_cast<const char*>(body.begin()), body.size()));
    release(request);
  } else if (request.cron.empty()) {
    // An HTTP request whose client has gone: nothing to answer.
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
    std::string_view kind = view(response.getRuntimeError());
    if (kind == "cpu-limit" || kind == "memory-limit" || kind == "context-reset") {
      metrics_.recordLimit(std::string(kind));
    }
    // An app that runs into its CPU limit blocks its worker's thread for that long: for a while
    // it is kept on its home worker and other apps are placed away from it (tryAssign).
    if (kind == "cpu-limit") request.app->noisyUntil = Clock::now() + kNoisyFor;
  }
}

void Supervisor::recordAnswer(const PendingRequest& request, int status, uint32_t workerId) {
  requests_.rememberAnswer(request, workerId);
  double seconds = std::chrono::duration<double>(Clock::now() - request.arrived).count();
  metrics_.recordResponse(status, seconds);
  if (request.app != nullptr) {
    AppCounters& counters = request.app->counters;
    ++counters.requests;
    if (status >= 100 && status < 600) ++counters.classes[static_cast<size_t>(status / 100)];
    counters.latency.observe(seconds);
  }
  if (!config_.accessLog || !request.cron.empty()) return;
  logger_.info("request", {{"method", request.method},
                           {"path", request.target},
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
    auto apps = static_cast<uint32_t>(worker.appLastSent.size());
    candidates_[i] = {worker.slot,
                      isServing(worker),
                      worker.outstandingCount(),
                      capacity,
                      it == worker.appOutstanding.end() ? 0u : it->second,
                      apps - (worker.appLastSent.contains(deployment.id) ? 1u : 0u)};
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
  http::HttpRequest* http = request.http;
  const Deployment& deployment = *request.app->live;
  defineApp(worker, deployment, false);
  request.deployment = deployment.id;
  request.workerId = worker.id();
  worker.outstanding().insert(request.id);
  ++worker.appOutstanding[deployment.id];
  worker.appLastSent[deployment.id] = Clock::now();
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
    startInFlight(std::move(request));
    return;
  }
  auto start = message.initRoot<ipc::Envelope>().initRequestStart();
  start.setId(request.id);
  start.setApp(deployment.id);
  copyText(start.initMethod(static_cast<unsigned>(http->method().size())), http->method());

  // routeRequest() checked the target and host: the URL names what was routed.
  http::TargetParts parts = http::splitTarget(http->target());
  std::string_view host = parts.hasAuthority ? parts.authority : http->header("host").value_or("");
  if (host.empty()) host = listenAddress_;
  auto url = start.initUrl(static_cast<unsigned>(7 + host.size() + parts.pathAndQuery.size()));
  std::memcpy(url.begin(), "http://", 7);
  std::memcpy(url.begin() + 7, host.data(), host.size());
  std::memcpy(url.begin() + 7 + host.size(), parts.pathAndQuery.data(), parts.pathAndQuery.size());
  start.setRequestId(request.requestId);
  metrics_.recordQueueWait(std::chrono::duration<double>(Clock::now() - request.arrived).count());

  auto in = http->headers();
  auto headers = start.initHeaders(static_cast<unsigned>(in.size()));
  for (unsigned i = 0; i < in.size(); ++i) {
    copyText(headers[i].initName(static_cast<unsigned>(in[i].name.size())), in[i].name);
    copyText(headers[i].initValue(static_cast<unsigned>(in[i].value.size())), in[i].value);
  }
  start.setClientAddress(peerAddress(http->peer()));

  if (request.streamedBody) {
    start.setBodyFollows(true);
  } else if (!request.inlineBody.empty()) {
    auto bytes = start.initBody(static_cast<unsigned>(request.inlineBody.size()));
    std::memcpy(bytes.begin(), request.inlineBody.data(), request.inlineBody.size());
  }

  worker.send(message);
  PendingRequest& sent = startInFlight(std::move(request));
  sent.inlineBody = std::string();
  if (sent.streamedBody) {
    // The body comes as the worker makes room for it (onWorkerBodyCredit); until then it waits
    // in the connection, which pushes back on the client.
    sent.bodyWindow = CreditSender(ipc::kBodyWindowBytes);
    http->grantBody(sent.bodyWindow.room());
  }
}

WorkerProcess* Supervisor::findWorker(uint32_t id) {
  for (auto& worker : workers_) {
    if (worker->id() == id) return worker.get();
  }
  return nullptr;
}

void Supervisor::releaseRequest(const requests::FinishedRequest& done) {
  using Kind = requests::RequestEnding::Kind;
  --done.app->inFlight;
  if (done.ending.kind == Kind::kWorkerLost || done.ending.kind == Kind::kForcedStop) return;
  if (WorkerProcess* worker = findWorker(done.workerId)) {
    worker->outstanding().erase(done.id);
    if (done.noisy) --worker->noisyOutstanding;
    if (auto slot = worker->appOutstanding.find(done.deployment);
        slot != worker->appOutstanding.end() && --slot->second == 0) {
      worker->appOutstanding.erase(slot);
    }
    if (done.ending.kind == Kind::kCancelled) {
      const char* cancelReason = done.ending.cancelReason;
      capnp::MallocMessageBuilder message;
      message.initRoot<ipc::Envelope>().initRequestCancel().setId(done.id);
      worker->send(message);
      fetch_->failParent(done.workerId, done.id, std::string("fetch() cancelled: ") + cancelReason);
      dropServiceCalls(done.workerId, done.id, cancelReason);
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
  PendingRequest* request = requests_.findHeldBy(id, worker.id());
  // Unknown ids are answers to requests already answered by the supervisor: ignore them.
  if (request == nullptr) return;
  if (request->responseStreaming) {
    return worker.kill("protocol error: a second Response for one request");
  }
  // A legal frame can carry millions of (empty) headers; the answer is refused rather than
  // copied header by header.
  if (response.getHeaders().size() > kMaxResponseHeaders) {
    logger_.warn("response refused: too many headers", {{"request_id", request->requestId},
                                                        {"worker", worker.id()},
                                                        {"headers", response.getHeaders().size()}});
    replyError(*request, 502, "bad-response",
               "Bad Gateway: the response has more than " + std::to_string(ipc::kFetchMaxHeaders) +
                   " headers");
    finishRequest(id,
                  requests::RequestEnding::answeredOrCancelled(
                      response.getBodyFollows() ? "its response had too many headers" : nullptr));
    return;
  }
  if (response.getBodyFollows()) {
    if (request->http == nullptr && !request->service) {
      return worker.kill("protocol error: a streamed Response to a scheduled event");
    }
    return startStreamedResponse(*request, response);
  }
  replyFromWorker(*request, worker, response);
  finishRequest(id, requests::RequestEnding::answered());
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

PendingRequest& Supervisor::startInFlight(PendingRequest&& request) {
  wallTimer_.schedule(request.arrived + request.wallLimit);
  return requests_.start(std::move(request));
}

void Supervisor::expireQueue() {
  auto now = clock_.now();
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
  // A queue expires from its front (in admission order, which is arrival order but for bodies
  // read before admission), as the periodic scan did.
  for (App* app : waiting_)
    queueTimer_.schedule(app->queue.front().arrived + timeout);
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

void Supervisor::expireInFlight() {
  // Answering may start queued requests (startInFlight() schedules their deadlines): the ids
  // are taken first.
  std::vector<uint64_t>& expired = expiredScratch_;
  requests_.takeExpired(clock_.now(), expired);
  for (uint64_t id : expired) {
    PendingRequest* request = requests_.find(id);
    if (request == nullptr) continue;
    replyError(*request, 504, "wall-limit",
               "Gateway Timeout: the request exceeded its time limit of " +
                   std::to_string(request->wallLimit.count()) + " ms");
    finishRequest(
        id, requests::RequestEnding::cancelled("the request that made it exceeded its time limit"));
  }
  if (auto next = requests_.nextDeadline()) wallTimer_.schedule(*next);
}

}  // namespace isolated::supervisor
