// Supervisor: outbound fetch() on behalf of the workers. The FetchClient does the HTTP; here
// each FetchStart is checked against its parent request (--max-subrequests, which worker may
// fetch for it) and the per-worker bound, and fetches end with their worker or their
// cancelled parent request.
#include "supervisor/supervisor.h"

#include <algorithm>

#include "ipc/protocol.h"

namespace isolated::supervisor {

void Supervisor::sendFetchMessage(uint32_t workerId, capnp::MessageBuilder& message) {
  for (auto& worker : workers_) {
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
  if (fetch_->activeCount(worker.id()) + serviceCallsOf(worker.id()) >= ipc::kFetchMaxPerWorker) {
    return fetch_->refuse(worker.id(), fetchId,
                          "fetch() refused: the worker already has " +
                              std::to_string(ipc::kFetchMaxPerWorker) + " fetches in flight");
  }
  ++count.started;
  count.lastStart = now;
  if (start.hasService() && start.getService().size() > 0) {
    return startServiceCall(worker, deployment, start);
  }
  fetch_->start(worker.id(), start);
}

void Supervisor::onWorkerFetchCredit(WorkerProcess& worker, ipc::FetchCredit::Reader credit) {
  if (ServiceCall* call = findServiceCall(worker.id(), credit.getFetchId())) {
    return creditService(*call, credit.getBytes());
  }
  fetch_->credit(worker.id(), credit.getFetchId(), credit.getBytes());
}

void Supervisor::onWorkerFetchAbort(WorkerProcess& worker, ipc::FetchAbort::Reader abort) {
  if (ServiceCall* call = findServiceCall(worker.id(), abort.getFetchId())) {
    return endServiceCall(*call, "the service binding's caller aborted its fetch");
  }
  fetch_->abort(worker.id(), abort.getFetchId());
}

void Supervisor::onWorkerFetchUpload(WorkerProcess& worker, ipc::FetchUpload::Reader upload) {
  if (ServiceCall* call = findServiceCall(worker.id(), upload.getFetchId())) {
    auto data = upload.getData();
    if (!call->bodyFollows || call->uploadEnded || data.size() > ipc::kFetchMaxChunkBytes ||
        !call->upload.receive(data.size())) {
      sendServiceFailed(*call, "fetch() failed: the request body broke the upload window");
      return endServiceCall(*call, "the service binding's caller broke its upload");
    }
    call->uploadQueue.emplace_back(
        std::string(reinterpret_cast<const char*>(data.begin()), data.size()), upload.getEnd());
    call->uploadEnded = upload.getEnd();
    return pumpServiceUpload(*call);
  }
  fetch_->upload(worker.id(), upload.getFetchId(), upload.getData(), upload.getEnd());
}

void Supervisor::pruneSubrequests(Clock::time_point now) {
  // A fetch lives at most its total timeout (the wall limit and a second) from its start.
  uint32_t wallLimitMs = config_.wallLimitMs;
  for (const auto& [name, app] : apps_.apps())
    wallLimitMs = std::max(wallLimitMs, app->config.wallLimitMs.value_or(0));
  auto horizon = std::chrono::milliseconds(wallLimitMs) + std::chrono::seconds(2);
  requests_.pruneSubrequests(now, horizon);
  // A service call whose callee has answered lives no longer than a network fetch would: a
  // caller that never reads (nor aborts) the body does not keep it here.
  std::vector<ServiceKey> stale;
  for (const auto& [key, call] : serviceCalls_) {
    if (!requests_.inFlight(call->requestId) && now - call->started > horizon) {
      stale.push_back(key);
    }
  }
  for (const ServiceKey& key : stale) {
    if (ServiceCall* call = findServiceCall(key.first, key.second)) {
      sendServiceFailed(*call, "fetch() failed: service binding " + call->binding +
                                   ": the response was not read in time");
      endServiceCall(*call, "its caller's fetch timed out");
    }
  }
}

}  // namespace isolated::supervisor
