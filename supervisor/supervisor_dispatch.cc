// Supervisor: requests on workers. Placement of a request on a worker (tryAssign), the LoadApp
// and RequestStart or Scheduled it needs there, the queue that waits for room, the wall-time
// limit of requests in flight, and what a request that ended gives back. Also the apps' side of
// the workers: which apps each worker defines (LoadApp, UnloadApp, ForgetApp after an
// eviction), and the workers' load reports, handed to the AppLifecycle.
#include "supervisor/supervisor.h"

#include <cstring>

#include "ipc/protocol.h"
#include "ipc/small_message_builder.h"
#include "supervisor/http/request_url.h"
#include "supervisor/socket_address.h"

namespace isolated::supervisor {

namespace {

void copyText(capnp::Text::Builder to, std::string_view from) {
  if (!from.empty()) std::memcpy(to.begin(), from.data(), from.size());
}

}  // namespace

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
  const WorkerPool::Workers& workers = pool_.workers();
  candidates_.resize(workers.size());
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerProcess& worker = *workers[i];
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
  ranks_.resize(workers.size());
  std::optional<size_t> index;
  if (avoidNoisy) {
    // First choice for a well-behaved app: a worker where no noisy app's request is running.
    for (size_t i = 0; i < workers.size(); ++i)
      candidates_[i].accepting = isServing(*workers[i]) && workers[i]->noisyOutstanding == 0;
    index = placement_.pick(app.hash, spreadLoad, candidates_, ranks_, perApp);
  }
  if (!index) {
    for (size_t i = 0; i < workers.size(); ++i)
      candidates_[i].accepting = isServing(*workers[i]);
    index = placement_.pick(app.hash, spreadLoad, candidates_, ranks_, perApp);
  }
  // Retiring workers still serve while their replacements start, but only when no other
  // worker has room: that way they drain sooner.
  if (!index) {
    for (size_t i = 0; i < workers.size(); ++i)
      candidates_[i].accepting = workers[i]->accepting();
    index = placement_.pick(app.hash, spreadLoad, candidates_, ranks_, perApp);
  }
  if (!index) return false;
  request.noisy = noisy;
  sendToWorker(*workers[*index], request);
  return true;
}

void Supervisor::defineApp(WorkerProcess& worker, const Deployment& deployment, bool preload) {
  if (!worker.defined.insert(deployment.id).second) return;
  worker.forgotten.erase(deployment.id);
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

void Supervisor::onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) {
  lifecycle_->onLoadError(worker.id(), error);
}

void Supervisor::onWorkerAppLoaded(WorkerProcess& worker, ipc::AppLoaded::Reader loaded) {
  lifecycle_->onAppLoaded(worker.id(), loaded);
}

void Supervisor::onWorkerAppEvicted(WorkerProcess& worker, ipc::AppEvicted::Reader evicted) {
  App* app = apps_.appOf(evicted.getApp());
  if (app == nullptr) return;
  std::string reason = evicted.getReason().cStr();
  if (reason != "unload") ++app->counters.evictions;
  logger_.debug("app isolate evicted",
                {{"app", app->config.name}, {"worker", worker.id()}, {"reason", reason}});
  if (reason != "unload") forget(worker, evicted.getApp());
}

void Supervisor::forget(WorkerProcess& worker, uint32_t deployment) {
  // With a request outstanding, the worker has the isolate again (or will, on reading it), and
  // its next eviction is the time. Otherwise nothing for the deployment is on its way to the
  // worker, which can drop the definition (ipc/protocol.h rule 21, forgetting).
  if (!isAlive(worker) || worker.appOutstanding.contains(deployment) ||
      !worker.defined.contains(deployment)) {
    return;
  }
  worker.defined.erase(deployment);
  worker.forgotten.insert(deployment);
  ipc::SmallMessageBuilder message;
  message.initRoot<ipc::Envelope>().initForgetApp().setApp(deployment);
  worker.send(message);
}

std::optional<uint32_t> Supervisor::validatorFor(const App& app) {
  const WorkerPool::Workers& workers = pool_.workers();
  candidates_.resize(workers.size());
  ranks_.resize(workers.size());
  for (size_t i = 0; i < workers.size(); ++i) {
    candidates_[i] = {workers[i]->slot, isServing(*workers[i]), 0, 1, 0};
  }
  auto index = placement_.pick(app.hash, 0, candidates_, ranks_);
  if (!index) return std::nullopt;
  return workers[*index]->id();
}

void Supervisor::preloadOn(uint32_t workerId, const Deployment& deployment) {
  if (WorkerProcess* worker = findWorker(workerId)) defineApp(*worker, deployment, true);
}

void Supervisor::preloadEverywhere(const Deployment& deployment) {
  for (auto& worker : pool_.workers()) {
    if (isServing(*worker)) defineApp(*worker, deployment, true);
  }
}

void Supervisor::unloadEverywhere(uint32_t deployment) {
  for (auto& worker : pool_.workers()) {
    bool held = worker->defined.erase(deployment) + worker->forgotten.erase(deployment) > 0;
    if (!isAlive(*worker) || !held) continue;
    capnp::MallocMessageBuilder message;
    message.initRoot<ipc::Envelope>().initUnloadApp().setApp(deployment);
    worker->send(message);
  }
}

void Supervisor::sendToWorker(WorkerProcess& worker, PendingRequest& request) {
  http::ClientRequest* http = request.http;
  const Deployment& deployment = *request.app->live;
  defineApp(worker, deployment, false);
  request.deployment = deployment.id;
  request.workerId = worker.id();
  worker.outstanding().insert(request.id);
  ++worker.appOutstanding[deployment.id];
  worker.appLastSent[deployment.id] = Clock::now();
  if (request.noisy) ++worker.noisyOutstanding;
  ++request.app->inFlight;
  if (request.service) return services_.sendRequest(worker, request);
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
  return pool_.find(id);
}

void Supervisor::pumpQueue() {
  // Apps take turns: each dispatches at most one request per round, and a round that
  // dispatches nothing ends the pump (every app left waits for room).
  queue_.pump([this](PendingRequest& request) { return tryAssign(request); });
}

void Supervisor::expireQueue() {
  auto timeout = std::chrono::milliseconds(config_.queueTimeoutMs);
  queue_.expire(clock_.now(), timeout, [this](PendingRequest& request) {
    replyError(request, 503, "queue-timeout",
               "Service Unavailable: no worker could take the request in time", 1);
  });
  // A queue expires from its front (in admission order, which is arrival order but for bodies
  // read before admission), as the periodic scan did.
  if (auto earliest = queue_.earliestFront()) queueTimer_.schedule(*earliest + timeout);
}

void Supervisor::failQueue(App& app, int status, std::string_view kind,
                           const std::string& message) {
  queue_.failAll(app,
                 [&](PendingRequest& request) { replyError(request, status, kind, message, 1); });
}

PendingRequest& Supervisor::startInFlight(PendingRequest&& request) {
  wallTimer_.schedule(request.arrived + request.wallLimit);
  return requests_.start(std::move(request));
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
      services_.drop(done.workerId, done.id, cancelReason);
    } else {
      ++worker->requestsServed;
      if (worker->requestLimit > 0 && worker->requestsServed >= worker->requestLimit) {
        pool_.retire(*worker, "max-requests");
      }
    }
  }
  pumpQueue();
  checkDrained();
}

}  // namespace isolated::supervisor
