// ServiceCalls (service_calls.h): the calls through service bindings, caller side and callee
// side.
#include "supervisor/bindings/service_calls.h"

#include <algorithm>

namespace isolated::supervisor {

namespace {

kj::ArrayPtr<const kj::byte> bytesOf(const std::string& text, size_t offset, size_t size) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(text.data()) + offset, size);
}

// Whether a response's headers fit the limits a network fetch's response has.
bool headersFit(capnp::List<ipc::Header>::Reader headers) {
  if (headers.size() > ipc::kFetchMaxHeaders) return false;
  size_t bytes = 0;
  for (auto header : headers)
    bytes += header.getName().size() + header.getValue().size();
  return bytes <= ipc::kFetchMaxHeaderBytes;
}

}  // namespace

size_t ServiceCalls::openBy(uint32_t workerId) const {
  auto begin = calls_.lower_bound({workerId, 0});
  auto end = calls_.lower_bound({workerId + 1, 0});
  return static_cast<size_t>(std::distance(begin, end));
}

ServiceCall* ServiceCalls::find(uint32_t workerId, uint64_t fetchId) {
  auto it = calls_.find({workerId, fetchId});
  return it == calls_.end() ? nullptr : it->second.get();
}

void ServiceCalls::start(uint32_t workerId, uint32_t deployment, ipc::FetchStart::Reader start) {
  uint64_t fetchId = start.getFetchId();
  uint64_t parentId = start.getParentId();
  std::string name = start.getService();
  // The bindings of the caller's version (an older version still finishing uses its own).
  const std::vector<ServiceBindingSpec>* services = host_.serviceBindingsOf(deployment);
  const ServiceBindingSpec* spec = nullptr;
  if (services != nullptr) {
    auto it = std::find_if(services->begin(), services->end(),
                           [&](const ServiceBindingSpec& s) { return s.name == name; });
    if (it != services->end()) spec = &*it;
  }
  if (spec == nullptr) {
    return host_.refuseFetch(
        workerId, fetchId,
        "fetch() refused: this app has no service binding named \"" + name + "\"");
  }
  uint32_t depth = requests_.serviceDepth(parentId) + 1;
  if (depth > ipc::kServiceMaxDepth) {
    logger_.warn(
        "service binding depth limit",
        {{"binding", name}, {"target", spec->app}, {"depth", depth}, {"worker", workerId}});
    return host_.refuseFetch(workerId, fetchId,
                             "fetch() refused: service binding " + name + ": more than " +
                                 std::to_string(ipc::kServiceMaxDepth) +
                                 " nested service calls (a loop between apps?)");
  }
  // The bounds of a network fetch (the worker checks them too; no peer is trusted).
  size_t headerBytes = 0;
  for (auto header : start.getHeaders())
    headerBytes += header.getName().size() + header.getValue().size();
  if (start.getUrl().size() > ipc::kFetchMaxUrlBytes ||
      start.getHeaders().size() > ipc::kFetchMaxHeaders ||
      headerBytes > ipc::kFetchMaxHeaderBytes ||
      start.getBody().size() > ipc::kFetchMaxRequestBodyBytes) {
    return host_.refuseFetch(workerId, fetchId,
                             "fetch() refused: the request is over the fetch limits");
  }

  auto call = std::make_shared<ServiceCall>();
  call->callerWorker = workerId;
  call->fetchId = fetchId;
  call->callerRequest = parentId;
  call->binding = name;
  call->depth = depth;
  call->started = Clock::now();
  call->method = start.getMethod();
  call->url = start.getUrl();
  for (auto header : start.getHeaders())
    call->headers.emplace_back(header.getName(), header.getValue());
  auto body = start.getBody();
  call->body.assign(reinterpret_cast<const char*>(body.begin()), body.size());
  call->bodyFollows = start.getBodyFollows();

  PendingRequest pending;
  pending.id = requests_.nextId();
  pending.arrived = Clock::now();
  pending.requestId = host_.newRequestId();
  pending.service = call;
  call->requestId = pending.id;
  // Remembered beyond the request, for calls from its waitUntil() work too.
  requests_.rememberServiceDepth(pending.id, depth);
  calls_[{workerId, fetchId}] = call;

  App* target = host_.serviceTarget(spec->app);
  if (target == nullptr) {
    return host_.replyError(pending, 503, "no-app",
                            "Service Unavailable: service binding " + name + ": no app named '" +
                                spec->app + "' serves on this server",
                            0);
  }
  pending.app = target;
  call->target = target;
  host_.admit(std::move(pending));
}

void ServiceCalls::sendRequest(WorkerProcess& worker, PendingRequest& request) {
  ServiceCall& call = *request.service;
  capnp::MallocMessageBuilder message;
  auto start = message.initRoot<ipc::Envelope>().initRequestStart();
  start.setId(request.id);
  start.setApp(request.deployment);
  start.setMethod(call.method);
  start.setUrl(call.url);
  start.setRequestId(request.requestId);
  auto headers = start.initHeaders(static_cast<unsigned>(call.headers.size()));
  for (size_t i = 0; i < call.headers.size(); ++i) {
    headers[static_cast<unsigned>(i)].setName(call.headers[i].first);
    headers[static_cast<unsigned>(i)].setValue(call.headers[i].second);
  }
  if (call.bodyFollows) {
    start.setBodyFollows(true);
  } else if (!call.body.empty()) {
    start.setBody(bytesOf(call.body, 0, call.body.size()));
  }
  metrics_.recordQueueWait(std::chrono::duration<double>(Clock::now() - request.arrived).count());
  worker.send(message);
  call.body.clear();
  call.body.shrink_to_fit();
  call.dispatched = true;
  host_.startInFlight(std::move(request));
  pumpUpload(call);
}

void ServiceCalls::pumpUpload(ServiceCall& call) {
  if (!call.dispatched) return;
  PendingRequest* request = requests_.find(call.requestId);
  WorkerProcess* worker = request == nullptr ? nullptr : host_.findWorker(request->workerId);
  if (worker == nullptr) {
    call.uploadQueue.clear();
    return;
  }
  // The caller never has more than one window unacknowledged, and the callee's window is as
  // large (both are credited 1:1), so everything held fits the callee's window.
  while (!call.uploadQueue.empty()) {
    auto& [data, end] = call.uploadQueue.front();
    capnp::MallocMessageBuilder message;
    auto chunk = message.initRoot<ipc::Envelope>().initBodyChunk();
    chunk.setId(call.requestId);
    if (!data.empty()) chunk.setData(bytesOf(data, 0, data.size()));
    chunk.setEnd(end);
    worker->send(message);
    call.uploadQueue.pop_front();
  }
}

void ServiceCalls::sendHead(ServiceCall& call, int status, const HeaderList& headers) {
  capnp::MallocMessageBuilder message;
  auto head = message.initRoot<ipc::Envelope>().initFetchHead();
  head.setFetchId(call.fetchId);
  head.setStatus(static_cast<uint16_t>(status));
  auto list = head.initHeaders(static_cast<unsigned>(headers.size()));
  for (size_t i = 0; i < headers.size(); ++i) {
    list[static_cast<unsigned>(i)].setName(headers[i].first);
    list[static_cast<unsigned>(i)].setValue(headers[i].second);
  }
  head.setUrl(call.url);
  host_.sendFetchMessage(call.callerWorker, message);
  call.headSent = true;
}

void ServiceCalls::sendFailed(ServiceCall& call, const std::string& text) {
  capnp::MallocMessageBuilder message;
  auto failed = message.initRoot<ipc::Envelope>().initFetchFailed();
  failed.setFetchId(call.fetchId);
  failed.setMessage(text);
  host_.sendFetchMessage(call.callerWorker, message);
}

void ServiceCalls::answer(PendingRequest& request, ipc::Response::Reader response) {
  ServiceCall& call = *request.service;
  if (!call.active || !forwardHead(call, response, nullptr)) return;
  auto body = response.getBody();
  call.pendingBody.assign(reinterpret_cast<const char*>(body.begin()), body.size());
  call.pendingOffset = 0;
  call.pendingWhole = true;
  pumpBody(call);
}

void ServiceCalls::pumpBody(ServiceCall& call) {
  while (call.active && call.pendingWhole) {
    size_t left = call.pendingBody.size() - call.pendingOffset;
    size_t n = std::min<size_t>({left, call.callerWindow.room(), ipc::kFetchMaxChunkBytes});
    bool end = n == left;
    if (n == 0 && !end) return;  // the caller's window is full: its FetchCredit resumes
    capnp::MallocMessageBuilder message;
    auto piece = message.initRoot<ipc::Envelope>().initFetchBody();
    piece.setFetchId(call.fetchId);
    if (n > 0) piece.setData(bytesOf(call.pendingBody, call.pendingOffset, n));
    piece.setEnd(end);
    host_.sendFetchMessage(call.callerWorker, message);
    call.callerWindow.sent(n);
    call.pendingOffset += n;
    if (end) return finish(call, nullptr);
  }
}

void ServiceCalls::startStream(PendingRequest& request, ipc::Response::Reader response) {
  request.responseStreaming = true;
  request.responseStatus = response.getStatus();
  ServiceCall& call = *request.service;
  call.streaming = true;
  if (call.active) forwardHead(call, response, "its caller refused the response");
}

bool ServiceCalls::forwardHead(ServiceCall& call, ipc::Response::Reader response,
                               const char* refusedReason) {
  if (!headersFit(response.getHeaders())) {
    sendFailed(call, "fetch() failed: service binding " + call.binding +
                         ": the response headers are over the fetch limits");
    finish(call, refusedReason);
    return false;
  }
  HeaderList headers;
  for (auto header : response.getHeaders())
    headers.emplace_back(header.getName(), header.getValue());
  if (response.hasRuntimeError())
    headers.emplace_back("isolated-error", response.getRuntimeError());
  sendHead(call, response.getStatus(), headers);
  return true;
}

void ServiceCalls::relayChunk(PendingRequest& request, ipc::BodyChunk::Reader chunk) {
  std::shared_ptr<ServiceCall> call = request.service;
  uint64_t id = request.id;
  if (chunk.getAborted()) {
    host_.replyError(request, 500, "stream-aborted", "the response stream failed", 0);
    host_.finishRequest(id, requests::RequestEnding::answered());
    return;
  }
  // Held in request.responseWindow (taken by onWorkerBodyChunk) until the caller credits it.
  auto data = chunk.getData();
  if (call->active) {
    capnp::MallocMessageBuilder message;
    auto piece = message.initRoot<ipc::Envelope>().initFetchBody();
    piece.setFetchId(call->fetchId);
    if (data.size() > 0) piece.setData(data);
    piece.setEnd(chunk.getEnd());
    host_.sendFetchMessage(call->callerWorker, message);
    call->callerWindow.sent(data.size());
  }
  if (chunk.getEnd()) {
    host_.recordAnswer(request, request.responseStatus, request.workerId);
    host_.finishRequest(id, requests::RequestEnding::answered());
    if (call->active) finish(*call, nullptr);
  }
}

bool ServiceCalls::credit(uint32_t workerId, uint64_t fetchId, uint32_t bytes) {
  ServiceCall* call = find(workerId, fetchId);
  if (call == nullptr) return false;
  call->callerWindow.credit(bytes);
  if (call->pendingWhole) {
    pumpBody(*call);
    return true;
  }
  if (!call->streaming) return true;
  // The caller has taken streamed bytes: the callee may send as many more.
  PendingRequest* request = requests_.find(call->requestId);
  if (request == nullptr) return true;
  WorkerProcess* worker = host_.findWorker(request->workerId);
  if (worker == nullptr) return true;
  request->responseWindow.passedOn(bytes);
  auto grant = static_cast<uint32_t>(request->responseWindow.grant());
  if (grant == 0) return true;
  capnp::MallocMessageBuilder message;
  auto credit = message.initRoot<ipc::Envelope>().initBodyCredit();
  credit.setId(request->id);
  credit.setBytes(grant);
  worker->send(message);
  return true;
}

bool ServiceCalls::abort(uint32_t workerId, uint64_t fetchId) {
  ServiceCall* call = find(workerId, fetchId);
  if (call == nullptr) return false;
  finish(*call, "the service binding's caller aborted its fetch");
  return true;
}

bool ServiceCalls::upload(uint32_t workerId, ipc::FetchUpload::Reader upload) {
  ServiceCall* call = find(workerId, upload.getFetchId());
  if (call == nullptr) return false;
  auto data = upload.getData();
  if (!call->bodyFollows || call->uploadEnded || data.size() > ipc::kFetchMaxChunkBytes ||
      !call->upload.receive(data.size())) {
    sendFailed(*call, "fetch() failed: the request body broke the upload window");
    finish(*call, "the service binding's caller broke its upload");
    return true;
  }
  call->uploadQueue.emplace_back(
      std::string(reinterpret_cast<const char*>(data.begin()), data.size()), upload.getEnd());
  call->uploadEnded = upload.getEnd();
  pumpUpload(*call);
  return true;
}

void ServiceCalls::creditUpload(PendingRequest& request, uint32_t bytes) {
  // The callee has taken upload bytes: the caller may send as many more.
  ServiceCall& call = *request.service;
  call.upload.passedOn(bytes);
  auto grant = static_cast<uint32_t>(call.upload.grant());
  if (grant == 0 || !call.active) return;
  capnp::MallocMessageBuilder message;
  auto credit = message.initRoot<ipc::Envelope>().initFetchUploadCredit();
  credit.setFetchId(call.fetchId);
  credit.setBytes(grant);
  host_.sendFetchMessage(call.callerWorker, message);
}

void ServiceCalls::fail(PendingRequest& request, int status, std::string_view kind,
                        std::string_view message, int retryAfterSec) {
  ServiceCall& call = *request.service;
  if (!call.active) return;
  if (call.headSent) {
    // The head is out: the caller's body read fails, as a network response cut short would.
    sendFailed(call, "fetch() failed: service binding " + call.binding +
                         ": the response broke off (" + std::string(kind) + ")");
    return finish(call, nullptr);
  }
  HeaderList headers{{"content-type", "text/plain; charset=utf-8"},
                     {"isolated-error", std::string(kind)}};
  if (retryAfterSec > 0) headers.emplace_back("retry-after", std::to_string(retryAfterSec));
  sendHead(call, status, headers);
  call.pendingBody = std::string(message) + "\n";
  call.pendingOffset = 0;
  call.pendingWhole = true;
  pumpBody(call);
}

void ServiceCalls::finish(ServiceCall& ending, const char* cancelReason) {
  auto it = calls_.find({ending.callerWorker, ending.fetchId});
  if (it == calls_.end() || it->second.get() != &ending) return;
  std::shared_ptr<ServiceCall> call = std::move(it->second);
  calls_.erase(it);
  call->active = false;
  call->uploadQueue.clear();
  call->pendingBody.clear();
  if (cancelReason == nullptr) return;
  // The callee's request, if it is still waiting or running, is abandoned.
  if (requests_.inFlight(call->requestId)) {
    host_.finishRequest(call->requestId, requests::RequestEnding::cancelled(cancelReason));
    return;
  }
  if (call->target == nullptr) return;
  host_.abandonQueued(*call->target, call->requestId);
}

void ServiceCalls::drop(uint32_t workerId, uint64_t parentId, const char* reason) {
  std::vector<Key> ending;
  for (auto it = calls_.lower_bound({workerId, 0});
       it != calls_.end() && it->first.first == workerId; ++it) {
    if (parentId == 0 || it->second->callerRequest == parentId) ending.push_back(it->first);
  }
  // Ending one call may end others (a callee on the same worker cancels its own calls), so
  // each is looked up again.
  for (const Key& key : ending) {
    ServiceCall* call = find(key.first, key.second);
    if (call == nullptr) continue;
    if (parentId != 0) sendFailed(*call, std::string("fetch() cancelled: ") + reason);
    finish(*call, reason);
  }
}

void ServiceCalls::expire(Clock::time_point now, Clock::duration horizon) {
  std::vector<Key> stale;
  for (const auto& [key, call] : calls_) {
    if (!requests_.inFlight(call->requestId) && now - call->started > horizon) {
      stale.push_back(key);
    }
  }
  for (const Key& key : stale) {
    if (ServiceCall* call = find(key.first, key.second)) {
      sendFailed(*call, "fetch() failed: service binding " + call->binding +
                            ": the response was not read in time");
      finish(*call, "its caller's fetch timed out");
    }
  }
}

}  // namespace isolated::supervisor
