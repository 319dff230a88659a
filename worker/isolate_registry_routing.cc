// IsolateRegistry's routing: each supervisor message to the host it concerns (by app, request
// id, fetch or call id), the fair-order key of a batch's messages, and what a host's outgoing
// messages say about the end of a request's routing.
#include "worker/isolate_registry.h"

#include <algorithm>

#include "worker/response_writer.h"

namespace isolated::worker {

bool IsolateRegistry::dispatch(ipc::Envelope::Reader message, std::string& error) {
  bool scheduled = message.isScheduled();
  uint64_t id = scheduled ? message.getScheduled().getId() : message.getRequestStart().getId();
  uint32_t appId = scheduled ? message.getScheduled().getApp() : message.getRequestStart().getApp();
  App* app = find(appId);
  if (app == nullptr || app->unloading) {
    error = std::string(scheduled ? "Scheduled " : "RequestStart ") + std::to_string(id) +
            " names app " + std::to_string(appId) + ", which the worker " +
            (app == nullptr ? "does not hold" : "was told to unload");
    return false;
  }
  // A host that failed (or a shared isolate at its heap limit) is replaced before it is given
  // another request, rather than handing the request to state that is being discarded.
  if (app->failure || (sharedIsolate_ && sharedIsolate_->heapLimitHit())) reap();
  IsolateHost* host = ensureHost(*app, /*coldStart=*/true);
  if (host == nullptr) {
    ResponseWriter(outbox_, options_.logBacklogBytes, appId)
        .runtimeError(id, runtime_error::kAppFailed,
                      "app " + appLabel(app->definition) + " could not be loaded");
    return true;
  }
  requestApp_[id] = appId;
  touch(*app);
  if (host->holdIfBackground(message)) return true;
  if (scheduled) {
    host->dispatchScheduled(message.getScheduled());
  } else {
    host->dispatch(message.getRequestStart());
  }
  return true;
}

BatchEntry IsolateRegistry::batchEntry(ipc::Envelope::Reader message,
                                       std::vector<std::pair<uint64_t, uint32_t>>& started) const {
  std::optional<uint32_t> app;
  std::optional<uint64_t> request;
  switch (message.which()) {
    case ipc::Envelope::REQUEST_START:
      app = message.getRequestStart().getApp();
      started.emplace_back(message.getRequestStart().getId(), *app);
      break;
    case ipc::Envelope::SCHEDULED:
      app = message.getScheduled().getApp();
      started.emplace_back(message.getScheduled().getId(), *app);
      break;
    case ipc::Envelope::BINDING_RESULT:
      app = FetchIdSequence::appOf(message.getBindingResult().getCallId());
      break;
    case ipc::Envelope::FETCH_HEAD:
    case ipc::Envelope::FETCH_BODY:
    case ipc::Envelope::FETCH_FAILED:
    case ipc::Envelope::FETCH_UPLOAD_CREDIT:
      if (auto fetchId = fetchIdOf(message)) app = FetchIdSequence::appOf(*fetchId);
      break;
    case ipc::Envelope::REQUEST_CANCEL:
      request = message.getRequestCancel().getId();
      break;
    case ipc::Envelope::BODY_CHUNK:
      request = message.getBodyChunk().getId();
      break;
    case ipc::Envelope::BODY_CREDIT:
      request = message.getBodyCredit().getId();
      break;
    default:
      break;
  }
  if (request) {
    if (auto it = requestApp_.find(*request); it != requestApp_.end()) {
      app = it->second;
    } else {
      for (const auto& [id, startedApp] : started) {
        if (id == *request) app = startedApp;
      }
    }
  }
  if (!app || *app == BatchEntry::kBarrier) return BatchEntry{};
  auto it = apps_.find(*app);
  size_t load = it != apps_.end() && it->second->host ? it->second->host->inFlight() : 0;
  return BatchEntry{*app, static_cast<uint32_t>(std::min<size_t>(load, UINT32_MAX - 1))};
}

void IsolateRegistry::cancel(uint64_t id) {
  auto it = requestApp_.find(id);
  if (it == requestApp_.end()) return;
  App* app = find(it->second);
  requestApp_.erase(it);
  if (app == nullptr || !app->host) return;
  app->host->cancel(id);
  touch(*app);
  if (app->unloading) scheduleReap();
}

bool IsolateRegistry::bodyChunk(ipc::BodyChunk::Reader chunk) {
  auto it = requestApp_.find(chunk.getId());
  if (it == requestApp_.end()) return true;  // crossed a cancel or an answer
  App* app = find(it->second);
  if (app == nullptr || !app->host) return true;
  touch(*app);
  return app->host->bodyChunk(chunk);
}

void IsolateRegistry::bodyCredit(ipc::BodyCredit::Reader credit) {
  auto it = requestApp_.find(credit.getId());
  if (it == requestApp_.end()) return;
  App* app = find(it->second);
  if (app == nullptr || !app->host) return;
  touch(*app);
  app->host->bodyCredit(credit);
}

void IsolateRegistry::onFetchMessage(ipc::Envelope::Reader message) {
  std::optional<uint64_t> id = fetchIdOf(message);
  if (!id) return;
  uint64_t fetchId = *id;
  // A fetch of an isolate since evicted or rebuilt is unknown to the new one, which ignores it.
  App* app = find(FetchIdSequence::appOf(fetchId));
  if (app == nullptr || !app->host) return;
  touch(*app);
  app->host->onFetchMessage(message);
}

void IsolateRegistry::onBindingResult(ipc::BindingResult::Reader result) {
  // A call of an isolate since evicted or rebuilt is unknown to the new one, which ignores it.
  App* app = find(FetchIdSequence::appOf(result.getCallId()));
  if (app == nullptr || !app->host) return;
  touch(*app);
  app->host->onBindingResult(result);
}

void IsolateRegistry::noteSent(App& app, capnp::MessageBuilder& message) {
  auto envelope = message.getRoot<ipc::Envelope>().asReader();
  uint64_t done = 0;
  if (envelope.isResponse() && !envelope.getResponse().getBodyFollows()) {
    done = envelope.getResponse().getId();
  } else if (envelope.isBodyChunk() && envelope.getBodyChunk().getEnd()) {
    done = envelope.getBodyChunk().getId();
  }
  if (done != 0) {
    requestApp_.erase(done);
    if (app.unloading) scheduleReap();
  }
  touch(app);
}

void IsolateRegistry::runPlatformTasks(LoopNotifyingPlatform& platform) {
  auto ready = platform.takeReady(platform.MonotonicallyIncreasingTime());
  if (ready.empty()) return;
  bool sharedPumped = false;
  for (auto& [id, app] : apps_) {
    if (!app->host || !ready.contains(app->host->isolate())) continue;
    // One pump runs every task of the isolate, whichever context it belongs to.
    if (app->host->sharesIsolate()) {
      if (sharedPumped) continue;
      sharedPumped = true;
    }
    app->host->runPlatformTasks(platform.defaultPlatform());
  }
}

bool IsolateRegistry::probe() {
  App* newest = nullptr;
  for (auto& [id, app] : apps_) {
    if (!app->host || app->failure) continue;
    if (newest == nullptr || app->lastActive > newest->lastActive) newest = app.get();
  }
  return newest == nullptr || newest->host->probe();
}

}  // namespace isolated::worker
