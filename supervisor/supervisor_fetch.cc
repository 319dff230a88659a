// Supervisor: outbound fetch() on behalf of the workers. The FetchClient does the HTTP; here
// each FetchStart is checked against its parent request (--max-subrequests, which worker may
// fetch for it) and the per-worker bound, and fetches end with their worker or their
// cancelled parent request. A FetchStart naming a service binding goes to services_
// (supervisor/bindings/service_calls.h) instead, and this file is that class's ServiceCallHost.
#include "supervisor/supervisor.h"

#include <algorithm>

#include "ipc/protocol.h"

namespace isolated::supervisor {

void Supervisor::sendFetchMessage(uint32_t workerId, capnp::MessageBuilder& message) {
  for (auto& worker : pool_.workers()) {
    if (worker->id() == workerId) {
      if (isAlive(*worker)) worker->send(message);
      return;
    }
  }
}

void Supervisor::onWorkerFetchStart(WorkerProcess& worker, ipc::FetchStart::Reader start) {
  uint64_t fetchId = start.getFetchId();
  uint64_t parentId = start.getParentId();
  if (!requests_.issued(parentId)) {
    return fetch_->refuse(worker.id(), fetchId,
                          "fetch() refused: it can only be called while handling a request");
  }
  auto now = Clock::now();
  // The parent must be a request this worker holds (or held: waitUntil() work) for this app.
  uint32_t deployment = start.getApp();
  if (!holdsRequest(worker.id(), deployment, parentId)) {
    return fetch_->refuse(worker.id(), fetchId,
                          "fetch() refused: request " + std::to_string(parentId) +
                              " does not belong to this worker and app");
  }
  requests::SubrequestCount& count = requests_.subrequests(parentId, worker.id(), deployment, now);
  if (count.started >= config_.maxSubrequests) {
    return fetch_->refuse(worker.id(), fetchId,
                          "fetch() refused: too many subrequests; one request may make at most " +
                              std::to_string(config_.maxSubrequests) + " (--max-subrequests)");
  }
  if (fetch_->activeCount(worker.id()) + services_.openBy(worker.id()) >= ipc::kFetchMaxPerWorker) {
    return fetch_->refuse(worker.id(), fetchId,
                          "fetch() refused: the worker already has " +
                              std::to_string(ipc::kFetchMaxPerWorker) + " fetches in flight");
  }
  ++count.started;
  count.lastStart = now;
  if (start.hasService() && start.getService().size() > 0) {
    return services_.start(worker.id(), deployment, start);
  }
  fetch_->start(worker.id(), start);
}

void Supervisor::onWorkerFetchCredit(WorkerProcess& worker, ipc::FetchCredit::Reader credit) {
  if (services_.credit(worker.id(), credit.getFetchId(), credit.getBytes())) return;
  fetch_->credit(worker.id(), credit.getFetchId(), credit.getBytes());
}

void Supervisor::onWorkerFetchAbort(WorkerProcess& worker, ipc::FetchAbort::Reader abort) {
  if (services_.abort(worker.id(), abort.getFetchId())) return;
  fetch_->abort(worker.id(), abort.getFetchId());
}

void Supervisor::onWorkerFetchUpload(WorkerProcess& worker, ipc::FetchUpload::Reader upload) {
  if (services_.upload(worker.id(), upload)) return;
  fetch_->upload(worker.id(), upload.getFetchId(), upload.getData(), upload.getEnd());
}

void Supervisor::pruneSubrequests(Clock::time_point now) {
  // A fetch lives at most its total timeout (the wall limit and a second) from its start.
  uint32_t wallLimitMs = config_.wallLimitMs;
  for (const auto& [name, app] : apps_.apps())
    wallLimitMs = std::max(wallLimitMs, app->config.wallLimitMs.value_or(0));
  auto horizon = std::chrono::milliseconds(wallLimitMs) + std::chrono::seconds(2);
  requests_.pruneSubrequests(now, horizon);
  // A service call whose callee has answered lives no longer than a network fetch would.
  services_.expire(now, horizon);
}

const std::vector<ServiceBindingSpec>* Supervisor::serviceBindingsOf(uint32_t deployment) {
  // The bindings of the caller's version (an older version still finishing uses its own).
  App* caller = apps_.appOf(deployment);
  if (caller == nullptr) return nullptr;
  if (caller->live && caller->live->id == deployment) return &caller->live->services;
  if (caller->candidate && caller->candidate->id == deployment) {
    return &caller->candidate->services;
  }
  return &caller->config.services;
}

App* Supervisor::serviceTarget(const std::string& name) {
  App* app = apps_.find(name);
  return app == nullptr || app->removed ? nullptr : app;
}

void Supervisor::refuseFetch(uint32_t workerId, uint64_t fetchId, const std::string& message) {
  fetch_->refuse(workerId, fetchId, message);
}

void Supervisor::abandonQueued(App& app, uint64_t id) {
  // An emptied queue leaves the turn list at the next pump or expiry.
  if (queue_.removeFrom(app, id)) checkDrained();
}

}  // namespace isolated::supervisor
